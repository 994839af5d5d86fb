//! SDES SRTP contexts for a leg (RFC 4568 §7, RFC 3711), built from the API's key types.

use sb_media_api::{CommandError, SrtpKey, SrtpSpec, SrtpSuite};
use sb_srtp::SrtpContext;

fn suite(s: SrtpSuite) -> sb_srtp::SrtpSuite {
    match s {
        SrtpSuite::AesCm128HmacSha1_80 => sb_srtp::SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32 => sb_srtp::SrtpSuite::AesCm128HmacSha1_32,
        SrtpSuite::AeadAes128Gcm => sb_srtp::SrtpSuite::AeadAes128Gcm,
    }
}

fn context(s: SrtpSuite, key: &SrtpKey) -> Result<SrtpContext, CommandError> {
    let mki = key
        .mki
        .as_ref()
        .map(|(v, len)| (v.clone(), usize::from(*len)));
    let ctx = SrtpContext::new(suite(s), &key.master_key, &key.master_salt, mki)
        .map_err(|e| CommandError::BadSrtpKey(e.to_string()))?;
    match key.lifetime {
        Some(n) => ctx
            .with_lifetime(n)
            .map_err(|e| CommandError::BadSrtpKey(e.to_string())),
        None => Ok(ctx),
    }
}

/// Builds (send, receive) contexts, or re-keys the existing ones so rollover counters and
/// replay lists carry over (RFC 3711 §3.3.1) when only the keys changed.
pub(crate) fn contexts(
    spec: &SrtpSpec,
    old: Option<(SrtpContext, SrtpContext)>,
) -> Result<(SrtpContext, SrtpContext), CommandError> {
    match old {
        Some((mut tx, mut rx)) if tx.suite() == suite(spec.suite) => {
            let rekey = |ctx: &mut SrtpContext, k: &SrtpKey| {
                let mki = k.mki.as_ref().map(|(v, l)| (v.clone(), usize::from(*l)));
                ctx.rekey(suite(spec.suite), &k.master_key, &k.master_salt, mki)
                    .map_err(|e| CommandError::BadSrtpKey(e.to_string()))
            };
            rekey(&mut tx, &spec.send)?;
            rekey(&mut rx, &spec.recv)?;
            Ok((tx, rx))
        }
        _ => Ok((
            context(spec.suite, &spec.send)?,
            context(spec.suite, &spec.recv)?,
        )),
    }
}
