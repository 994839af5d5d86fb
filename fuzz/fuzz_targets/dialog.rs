//! Any sequence of datagrams and commands against a UAC and a UAS dialog of one call: no
//! peer message may panic the dialog layer, and whatever it builds parses back.
//!
//! The input is split at NUL bytes; in each piece the first byte picks the dialog and what to
//! do (feed the rest as a received message, or build a request or response), and the rest
//! is the datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sb_sip_core::dialog::{Body, Dialog};
use sb_sip_msg::{parse_datagram, Message, Method, NameAddr, Request, StatusCode};

const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKf1\r\n\
From: <sip:alice@example.com>;tag=a1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: fz-1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@192.0.2.1>\r\n\
Record-Route: <sip:p1.example.com;lr>\r\n\
Content-Length: 0\r\n\r\n";

const METHODS: [Method; 7] = [
    Method::Invite,
    Method::Update,
    Method::Bye,
    Method::Info,
    Method::Ack,
    Method::Cancel,
    Method::Refer,
];

fn check_parses(bytes: &[u8]) {
    parse_datagram(bytes).expect("a message the dialog built parses back");
}

fuzz_target!(|data: &[u8]| {
    let Ok(Message::Request(invite)) = parse_datagram(INVITE) else {
        return;
    };
    let contact = NameAddr::new("sip:bob@198.51.100.7".parse().expect("literal uri"));
    let Ok(bob) = Dialog::uas(&invite, "b1", contact) else {
        return;
    };
    let ringing = bob.response(&invite, StatusCode::RINGING);
    let Ok((alice, _)) = Dialog::uac(&invite, &ringing) else {
        return;
    };
    let mut dialogs = [alice, bob];
    let mut last_request: Option<Request> = None;
    for piece in data.split(|b| *b == b'\0') {
        let Some((&op, rest)) = piece.split_first() else {
            continue;
        };
        let d = &mut dialogs[usize::from(op & 1)];
        match (op >> 1) % 4 {
            0 => match parse_datagram(rest) {
                Ok(Message::Request(r)) => {
                    if let Err(e) = d.handle_request(&r) {
                        if let Some(resp) = e.response(&r, 3) {
                            check_parses(&resp.to_bytes());
                        }
                    }
                    last_request = Some(r);
                }
                Ok(Message::Response(r)) => {
                    if let Ok(out) = d.handle_response(&r) {
                        if let Some(rack) = out.prack {
                            if let Ok(p) = d.prack(&rack, None) {
                                check_parses(&p.to_bytes());
                            }
                        }
                    }
                }
                Err(_) => {}
            },
            1 => {
                let method = METHODS[usize::from(op >> 3) % METHODS.len()].clone();
                let body = (op & 0x80 != 0).then(|| Body::sdp(rest.to_vec()));
                let built = if method == Method::Ack {
                    d.ack(body)
                } else {
                    d.request_with_body(method, body)
                };
                if let Ok(r) = built {
                    check_parses(&r.to_bytes());
                }
            }
            2 => {
                if let Some(r) = &last_request {
                    let code = 100 + u16::from(rest.first().copied().unwrap_or(0)) * 2 % 600;
                    let mut resp = d.response(r, StatusCode(code));
                    if op & 0x80 != 0 {
                        let _ = d.make_reliable(&mut resp);
                    }
                    let _ = d.record_sent_response(&resp);
                    check_parses(&resp.to_bytes());
                }
            }
            _ => d.terminate(),
        }
    }
});
