//! A MOS estimate from network figures: a simplified ITU-T G.107 E-model.
//!
//! The full E-model has some twenty inputs; a media engine knows four: the one-way delay
//! (from the RTCP round trip, the jitter buffer and the packet time), the packet loss, the
//! codec, and whether the decoder conceals losses. Everything else stays at its G.107
//! default, which folds into the base value `R0 - Is = 93.2` (G.107 §7.7, Table 3
//! defaults). With that:
//!
//! - delay impairment (the usual fit of G.107 §7.4 for the default echo parameters):
//!   `Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)`, `d` the one-way mouth-to-ear delay
//!   in ms and `H` the unit step;
//! - equipment impairment under random loss (G.107 §7.5, formula 7-29 with
//!   `BurstR = 1`): `Ie_eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl)`, `Ppl` the loss in
//!   percent and `Ie`, `Bpl` the codec's values ([`CodecImpairment`]);
//! - `R = 93.2 - Id - Ie_eff`, and R to MOS by G.107 Annex B (B-4):
//!   `MOS = 1 + 0.035 R + R (R - 60) (100 - R) 7·10⁻⁶` for `0 < R < 100`, 1 below,
//!   4.5 above.
//!
//! This is a narrowband model: a wideband call (G.722, Opus) is scored as if it were
//! narrowband, so its MOS is comparable with G.711 calls but not with G.107.1 figures.

use serde::{Deserialize, Serialize};

/// A codec's E-model impairment: `ie` without loss and `bpl`, its robustness to random
/// loss (ITU-T G.113 Appendix I).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CodecImpairment {
    pub ie: f64,
    pub bpl: f64,
}

impl CodecImpairment {
    /// G.711 with packet-loss concealment (G.113 Appendix I: `Ie = 0`, `Bpl = 25.1`).
    pub const G711_PLC: Self = Self { ie: 0.0, bpl: 25.1 };
    /// G.711 without concealment (G.113 Appendix I: `Bpl = 4.3`).
    pub const G711: Self = Self { ie: 0.0, bpl: 4.3 };
    /// G.729A with VAD (G.113 Appendix I: `Ie = 11`, `Bpl = 19`).
    pub const G729A: Self = Self {
        ie: 11.0,
        bpl: 19.0,
    };

    /// The value for a codec by SDP name. G.113 gives no narrowband figures for G.722 or
    /// Opus; we assume they are as good as G.711 with concealment (both conceal losses,
    /// Opus better), which is what this function returns for them and for unknown names.
    pub fn for_codec(name: &str) -> Self {
        if name.eq_ignore_ascii_case("G729") {
            Self::G729A
        } else {
            Self::G711_PLC
        }
    }
}

/// `R0 - Is` with every other G.107 parameter at its default (G.107 §7.7).
pub const R_DEFAULT: f64 = 93.2;

/// The delay impairment `Id` for a one-way delay in milliseconds.
pub fn delay_impairment(one_way_ms: f64) -> f64 {
    let d = one_way_ms.max(0.0);
    0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 }
}

/// The effective equipment impairment `Ie_eff` under random loss of `loss` (0.0–1.0).
pub fn loss_impairment(loss: f64, codec: CodecImpairment) -> f64 {
    let ppl = if loss.is_nan() {
        0.0
    } else {
        loss.clamp(0.0, 1.0) * 100.0
    };
    let bpl = codec.bpl.max(f64::MIN_POSITIVE);
    codec.ie + (95.0 - codec.ie) * ppl / (ppl + bpl)
}

/// The transmission rating `R` for a one-way delay (ms), a loss fraction and a codec.
pub fn r_factor(one_way_ms: f64, loss: f64, codec: CodecImpairment) -> f64 {
    R_DEFAULT - delay_impairment(one_way_ms) - loss_impairment(loss, codec)
}

/// G.107 Annex B (B-4): `R` to an estimated MOS (1.0–4.5).
pub fn r_to_mos(r: f64) -> f64 {
    if r.is_nan() || r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        // The cubic dips just below 1 for small R; MOS is defined on 1–4.5.
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6).clamp(1.0, 4.5)
    }
}

/// The one-way delay the engine scores: half the RTCP round trip (the network), plus the
/// jitter buffer (taken as twice the interarrival jitter), plus one packet time of
/// packetisation. With no RTT measured yet the network part is 0.
pub fn one_way_delay_ms(rtt_ms: Option<f64>, jitter_ms: f64, ptime_ms: f64) -> f64 {
    rtt_ms.unwrap_or(0.0).max(0.0) / 2.0 + 2.0 * jitter_ms.max(0.0) + ptime_ms.max(0.0)
}

/// Estimated MOS from the figures a media engine has.
pub fn estimate_mos(
    rtt_ms: Option<f64>,
    jitter_ms: f64,
    ptime_ms: f64,
    loss: f64,
    codec: CodecImpairment,
) -> f64 {
    r_to_mos(r_factor(
        one_way_delay_ms(rtt_ms, jitter_ms, ptime_ms),
        loss,
        codec,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    #[test]
    fn r_to_mos_table() {
        // (R, MOS) from B-4 worked by hand.
        let table = [
            (-5.0, 1.0),
            (0.0, 1.0),
            (50.0, 2.575),
            (60.0, 3.1),
            (70.0, 3.597),
            (80.0, 4.024),
            (93.2, 4.409),
            (100.0, 4.5),
            (120.0, 4.5),
        ];
        for (r, mos) in table {
            assert!(close(r_to_mos(r), mos, 0.001), "R {r}: {}", r_to_mos(r));
        }
        assert_eq!(r_to_mos(f64::NAN), 1.0);
    }

    #[test]
    fn delay_impairment_table() {
        let table = [(0.0, 0.0), (100.0, 2.4), (177.3, 4.2552), (300.0, 20.697)];
        for (d, id) in table {
            assert!(close(delay_impairment(d), id, 0.001), "d {d}");
        }
        // The knee: past 177.3 ms each millisecond costs 0.134 instead of 0.024.
        let slope = delay_impairment(201.0) - delay_impairment(200.0);
        assert!(close(slope, 0.134, 1e-9));
    }

    #[test]
    fn loss_impairment_table() {
        let plc = CodecImpairment::G711_PLC;
        let table = [
            (0.0, plc, 0.0),
            (0.01, plc, 95.0 / 26.1),
            (0.05, plc, 95.0 * 5.0 / 30.1),
            (0.01, CodecImpairment::G711, 95.0 / 5.3),
            (0.0, CodecImpairment::G729A, 11.0),
        ];
        for (loss, codec, ie) in table {
            assert!(
                close(loss_impairment(loss, codec), ie, 1e-9),
                "{loss} {codec:?}"
            );
        }
        assert_eq!(loss_impairment(f64::NAN, plc), 0.0);
        assert!(close(loss_impairment(7.0, plc), 95.0 * 100.0 / 125.1, 1e-9));
    }

    #[test]
    fn mos_of_typical_calls() {
        let g711 = CodecImpairment::for_codec("PCMU");
        // A clean LAN call: 20 ms packets, no loss, little jitter: toll quality.
        let clean = estimate_mos(Some(2.0), 1.0, 20.0, 0.0, g711);
        assert!(clean > 4.3, "{clean}");
        // 1 % random loss is still good, 5 % is noticeably worse, 20 % is poor.
        let one = estimate_mos(Some(40.0), 5.0, 20.0, 0.01, g711);
        let five = estimate_mos(Some(40.0), 5.0, 20.0, 0.05, g711);
        let twenty = estimate_mos(Some(40.0), 5.0, 20.0, 0.20, g711);
        assert!(
            one > 4.0 && five < one && five > 3.3 && twenty < 2.6,
            "{one} {five} {twenty}"
        );
        // Satellite delay: 600 ms round trip costs a lot even without loss.
        let sat = estimate_mos(Some(600.0), 5.0, 20.0, 0.0, g711);
        assert!(sat < 4.0 && sat > 3.0, "{sat}");
        // G.729A starts lower than G.711.
        assert!(estimate_mos(None, 0.0, 20.0, 0.0, CodecImpairment::G729A) < clean);
    }

    #[test]
    fn one_way_delay_composition() {
        assert_eq!(
            one_way_delay_ms(Some(100.0), 10.0, 20.0),
            50.0 + 20.0 + 20.0
        );
        assert_eq!(one_way_delay_ms(None, 0.0, 20.0), 20.0);
        assert_eq!(one_way_delay_ms(Some(-4.0), -1.0, 20.0), 20.0);
    }
}
