//! CRC-32 as ISO 3309 / ITU-T V.42 define it (the one FINGERPRINT uses, RFC 8489 §14.7):
//! reflected polynomial 0xEDB88320, initial value and final XOR all ones.

const TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

pub(crate) fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_value() {
        // The standard check value of this CRC over the nine ASCII digits.
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
