//! A leg's send side: relayed and generated packets on one continuous outgoing stream,
//! tones, DTMF toward the peer, and the figures reports are built from.

use sb_codecs::dtmf::DtmfDigit;
use std::net::SocketAddr;

use sb_media_api::CommandError;
use sb_rtp::{DtmfSender, DtmfSenderConfig, Pt, Rtp, RtpPacketMut, SenderStats};

use super::{Kind, Leg, GEN_GAP_FRAMES, PT_CN};
use crate::engine::Out;

impl Leg {
    // ---- send side ----

    /// Whether relayed or transcoded audio from the partner may go out now: not while a
    /// tone or clip plays toward this leg, nor while we send RFC 4733 events on it (the
    /// events stand in for the audio, RFC 4733 §2.5.1.3).
    fn partner_audio_allowed(&self) -> bool {
        !self.tone.is_active() && !self.dtmf_tx.as_ref().is_some_and(|d| d.is_busy())
    }

    fn transmit(
        &mut self,
        now_us: u64,
        mut bytes: Vec<u8>,
        ts: u32,
        payload_len: usize,
        out: &mut Out,
    ) {
        if let Some((tx, _)) = &mut self.srtp {
            if tx.protect_rtp(&mut bytes).is_err() {
                out.dropped += 1;
                return;
            }
        }
        self.sender.on_packet_sent(now_us, ts, payload_len);
        self.packets_sent += 1;
        self.bytes_sent += payload_len as u64;
        self.last_tx_us = Some(now_us);
        out.transmits.push_back(crate::Transmit {
            from_local: self.local,
            to: self.rtp_to,
            bytes,
        });
    }

    /// A packet from the partner, relayed with this leg's SSRC, continuous sequence and
    /// timestamps (sb-rtp's rewriter), and this leg's payload type.
    ///
    /// Packets withheld (hold) leave a gap in the source's numbering; so that the peer
    /// does not count the hold as loss, the first packet after a gap is presented to the
    /// rewriter as a new source (its SSRC salted), which continues our numbering one past
    /// the last packet sent (RFC 3550 §5.1 continuity, RFC 3264 §8.4 hold).
    pub fn send_relayed(&mut self, now_us: u64, mut packet: Vec<u8>, kind: Kind, out: &mut Out) {
        if !self.spec.direction.sends() {
            self.relay_paused = true;
            return;
        }
        if std::mem::take(&mut self.relay_paused) {
            self.relay_salt = self.relay_salt.wrapping_add(0x9E37_79B9) | 1;
        }
        let pt = match kind {
            Kind::Audio if !self.partner_audio_allowed() => return,
            Kind::Audio => self.spec.codec.send_pt,
            Kind::Event => match self.spec.telephone_event {
                Some(t) => t.send_pt,
                None => return,
            },
        };
        let Ok(mut m) = RtpPacketMut::parse(&mut packet) else {
            return;
        };
        let v = m.view();
        // Comfort noise keeps its static type; everything else takes this leg's mapping.
        let pt = if kind == Kind::Audio && v.payload_type().0 == PT_CN {
            Pt(PT_CN)
        } else {
            Pt(pt.0)
        };
        let (ssrc, seq, ts, marker) = (v.ssrc(), v.sequence(), v.timestamp(), v.marker());
        let payload_len = v.payload().len();
        let key = sb_rtp::Ssrc(ssrc.0 ^ self.relay_salt);
        let rw = self.rewriter.rewrite(now_us, key, seq, ts, marker);
        m.set_ssrc(rw.ssrc);
        m.set_sequence(rw.sequence);
        m.set_timestamp(rw.timestamp);
        m.set_marker(rw.marker);
        m.set_payload_type(pt);
        self.gen_next = None;
        self.transmit(now_us, packet, rw.timestamp, payload_len, out);
    }

    /// A packet this engine made (transcoded audio, tones, DTMF): it goes through the same
    /// rewriter as relayed packets, as one more source, so the leg's stream stays
    /// continuous when it switches between relaying and generating.
    pub(super) fn send_generated(
        &mut self,
        now_us: u64,
        pt: u8,
        marker: bool,
        ts: u32,
        payload: Vec<u8>,
        out: &mut Out,
    ) {
        if !self.spec.direction.sends() {
            return;
        }
        self.gen_seq = self.gen_seq.wrapping_add(1);
        let rw = self
            .rewriter
            .rewrite(now_us, self.out_ssrc, self.gen_seq, ts, marker);
        let len = payload.len();
        let mut rtp = Rtp::new(Pt(pt), rw.sequence, rw.timestamp, rw.ssrc, payload);
        rtp.marker = rw.marker;
        let Ok(bytes) = rtp.to_bytes() else { return };
        self.transmit(now_us, bytes, rw.timestamp, len, out);
    }

    /// Sends one encoded audio frame on the generated stream.
    pub(super) fn send_audio_frame(&mut self, now_us: u64, payload: Vec<u8>, out: &mut Out) {
        let frame_units = self.packetizer.as_ref().map_or(0, |p| p.frame_units);
        let frame_us = u64::from(self.spec.ptime_ms) * 1000;
        let (ts, marker) = match self.gen_next {
            Some((ts, at)) if now_us.saturating_sub(at) <= GEN_GAP_FRAMES * frame_us => (ts, false),
            _ => (self.gen_clock(now_us), true),
        };
        self.gen_next = Some((ts.wrapping_add(frame_units), now_us));
        let pt = self.spec.codec.send_pt.0;
        self.send_generated(now_us, pt, marker, ts, payload, out);
    }

    /// Decoded audio from the partner (transcoding).
    pub fn send_pcm(&mut self, now_us: u64, pcm: &[i16], rate: u32, out: &mut Out) {
        if !self.partner_audio_allowed() {
            return;
        }
        let Some(p) = &mut self.packetizer else {
            return;
        };
        p.push(pcm, rate);
        while let Some(frame) = self.packetizer.as_mut().and_then(|p| p.pop()) {
            self.send_audio_frame(now_us, frame, out);
        }
    }

    /// Sends a key press toward this leg: RFC 4733 events when it negotiated
    /// telephone-event, in-band Q.23 tones otherwise.
    pub fn send_dtmf(
        &mut self,
        now_us: u64,
        event: u8,
        duration_ms: u32,
    ) -> Result<(), CommandError> {
        if let Some(te) = self.spec.telephone_event {
            if self.dtmf_tx.is_none() {
                // Durations count at the telephone-event rate, not the codec's (Opus with
                // telephone-event/8000); `event_ts_on_audio_clock` places the starts.
                let cfg = DtmfSenderConfig {
                    clock_rate: te.clock_rate.max(1),
                    interval_ms: 20,
                    ..DtmfSenderConfig::default()
                };
                self.dtmf_ts0 = self.gen_clock(now_us);
                self.dtmf_tx = Some(DtmfSender::new(cfg, now_us, self.dtmf_ts0));
            }
            if let Some(tx) = &mut self.dtmf_tx {
                tx.send_event(now_us, event, duration_ms);
            }
            return Ok(());
        }
        let digit = DtmfDigit::from_event_code(event).ok_or(CommandError::BadDigit('?'))?;
        let Some(codec) = self.codec else {
            let c = &self.spec.codec;
            return Err(CommandError::UnsupportedCodec {
                name: c.name.clone(),
                clock_rate: c.clock_rate,
                channels: c.channels,
            });
        };
        let params = sb_codecs::dtmf::DtmfParams {
            tone: std::time::Duration::from_millis(u64::from(duration_ms.clamp(40, 2000))),
            pause: std::time::Duration::from_millis(60),
            ..Default::default()
        };
        let clip = sb_codecs::dtmf::generate(digit, &params, codec.sample_rate());
        self.tone.clip.extend(clip);
        self.tone_tick_us.get_or_insert(now_us);
        Ok(())
    }

    pub fn play_tone(&mut self, now_us: u64, tone: sb_media_api::Tone) -> Result<(), CommandError> {
        let Some(codec) = self.codec else {
            let c = &self.spec.codec;
            return Err(CommandError::UnsupportedCodec {
                name: c.name.clone(),
                clock_rate: c.clock_rate,
                channels: c.channels,
            });
        };
        if tone.frequencies.is_empty()
            || tone.frequencies.len() > 4
            || tone.on_ms == 0
            || tone
                .frequencies
                .iter()
                .any(|f| !(f.is_finite() && *f > 0.0))
            || !tone.level_dbm0.is_finite()
            || tone.level_dbm0 > 3.0
        {
            return Err(CommandError::BadTone(
                "1-4 positive frequencies, on_ms > 0, level at most +3 dBm0".into(),
            ));
        }
        self.tone.tone = Some(crate::tone::ToneGenerator::new(tone, codec.sample_rate()));
        self.tone_tick_us.get_or_insert(now_us);
        Ok(())
    }

    pub fn stop_tone(&mut self) {
        self.tone.tone = None;
    }

    // ---- statistics ----

    pub fn quality(&self) -> sb_media_api::QualityReport {
        let (lost, expected, jitter_ms) = match &self.rx {
            Some(s) => (
                self.totals.lost + s.lost(),
                self.totals.expected + u64::from(s.expected()),
                s.jitter_ms(),
            ),
            None => (self.totals.lost, self.totals.expected, 0.0),
        };
        let loss = if expected == 0 {
            0.0
        } else {
            (lost.max(0) as f64 / expected as f64).min(1.0)
        };
        let rtt_ms = self.rtt.rtt_us().map(|us| us as f64 / 1000.0);
        let c = &self.spec.codec;
        let mos = sb_media_api::quality::estimate_mos(
            rtt_ms,
            jitter_ms,
            f64::from(self.spec.ptime_ms),
            loss,
            sb_media_api::CodecImpairment::for_codec(&c.name),
        );
        sb_media_api::QualityReport {
            codec: format!("{}/{}", c.name, c.clock_rate),
            packets_sent: self.packets_sent,
            bytes_sent: self.bytes_sent,
            packets_received: self.totals.packets,
            bytes_received: self.totals.bytes,
            packets_lost: lost,
            loss_fraction: loss as f32,
            jitter_ms: jitter_ms as f32,
            rtt_ms: rtt_ms.map(|v| v as f32),
            remote: self.remote_report,
            mos: mos as f32,
        }
    }

    pub fn sender_stats(&self) -> &SenderStats {
        &self.sender
    }

    /// §6.4: we are a sender (and send an SR) if we sent RTP since two report intervals ago.
    pub fn sent_since(&self, since_us: u64) -> bool {
        self.last_tx_us.is_some_and(|t| t >= since_us)
    }

    pub fn protect_rtcp(&mut self, buf: &mut Vec<u8>) -> bool {
        match &mut self.srtp {
            Some((tx, _)) => tx.protect_rtcp(buf).is_ok(),
            None => true,
        }
    }

    pub fn rtcp_target(&self) -> (SocketAddr, SocketAddr) {
        (self.local_rtcp.unwrap_or(self.local), self.rtcp_to)
    }
}
