//! `sb-opus-loop`: the upper bound for PCMU↔Opus transcoding calls per core: a plain loop
//! over libopus (through sb-codecs' thin wrappers) with no sockets, no RTP, no jitter
//! buffer, no scheduling, doing the codec work of one call per call-second.
//!
//! ```text
//! sb-opus-loop [--call-seconds 300]
//! ```
//!
//! One call-second is 50 frames each way: an Opus packet decoded and encoded as G.711
//! µ-law toward the G.711 side, and a µ-law frame decoded and encoded as Opus toward the
//! Opus side. Opus runs at 8 kHz on its PCM side, as a transcoder toward G.711 would
//! (no resampling), with sb-codecs' default settings. The thread's own CPU time
//! (CLOCK_THREAD_CPUTIME_ID) is divided by the call-seconds done: 1 s over that is
//! the calls one core could carry if it did nothing else.
//!
//! Output: a line on stderr, and on stdout `opus-loop <call-seconds> <CPU µs per
//! call-second> <calls per core>`, tab-separated.

use anyhow::{bail, Context};
use sb_codecs::opus::{OpusDecoder, OpusEncoder};
use sb_codecs::{Codec, Decoder, Encoder, OpusRate, OpusSettings};

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn main() -> anyhow::Result<()> {
    let mut call_seconds: u64 = 300;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--call-seconds" => {
                call_seconds = args.next().context("--call-seconds N")?.parse()?;
            }
            other => bail!("unknown argument {other}"),
        }
    }
    // One second of input each way, made once: a 440 Hz + 1 kHz mix, encoded by the
    // far ends (an Opus phone at 48 kHz, a G.711 gateway).
    let frames = 50;
    let mut pcm48 = sb_codecs::audio::sine(440.0, 6000.0, 48_000, 960 * frames);
    sb_codecs::audio::add_sine(&mut pcm48, 1000.0, 3000.0, 48_000, 0, 960 * frames);
    let mut pcm8 = sb_codecs::audio::sine(440.0, 6000.0, 8000, 160 * frames);
    sb_codecs::audio::add_sine(&mut pcm8, 1000.0, 3000.0, 8000, 0, 160 * frames);
    let mut far_opus = OpusEncoder::new(OpusRate::Hz48000, OpusSettings::default())?;
    let opus_in: Vec<Vec<u8>> = pcm48
        .chunks(960)
        .map(|c| {
            let mut out = Vec::new();
            far_opus.encode(c, &mut out);
            out
        })
        .collect();
    let mut far_g711 = Codec::Pcmu.encoder();
    let g711_in: Vec<Vec<u8>> = pcm8
        .chunks(160)
        .map(|c| {
            let mut out = Vec::new();
            far_g711.encode(c, &mut out);
            out
        })
        .collect();

    // The transcoder of one call: both directions.
    let mut opus_dec = OpusDecoder::new(OpusRate::Hz8000)?;
    let mut ulaw_enc = Codec::Pcmu.encoder();
    let mut ulaw_dec = Codec::Pcmu.decoder();
    let mut opus_enc = OpusEncoder::new(OpusRate::Hz8000, OpusSettings::default())?;
    let mut pcm = Vec::with_capacity(960);
    let mut out = Vec::with_capacity(1500);
    let mut checksum = 0usize;
    let t0 = thread_cpu_ns();
    for _ in 0..call_seconds {
        for f in 0..frames {
            pcm.clear();
            out.clear();
            opus_dec.decode(&opus_in[f], &mut pcm);
            ulaw_enc.encode(&pcm, &mut out);
            checksum = checksum.wrapping_add(out.len());
            pcm.clear();
            out.clear();
            ulaw_dec.decode(&g711_in[f], &mut pcm);
            opus_enc.encode(&pcm, &mut out);
            checksum = checksum.wrapping_add(out.len());
        }
    }
    let cpu_ns = thread_cpu_ns() - t0;
    if checksum == 0 {
        bail!("the codecs produced nothing");
    }
    let us_per_call_second = cpu_ns as f64 / 1000.0 / call_seconds.max(1) as f64;
    let calls = 1e6 / us_per_call_second;
    eprintln!(
        "opus-loop: {call_seconds} call-seconds, {us_per_call_second:.0} µs CPU per call-second, {calls:.0} calls per core"
    );
    println!("opus-loop\t{call_seconds}\t{us_per_call_second:.1}\t{calls:.0}");
    Ok(())
}
