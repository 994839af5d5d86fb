//! The store side of the front end's queries and writes: answers [`Query`]s and persists
//! registrar [`Effect`]s against an `sb_store::Store`, and converts bindings between the
//! registrar's typed form and the store's rows.
//!
//! Queries run in spawned tasks, concurrently; writes run in one task, in the order the
//! registrar produced them, so a removal and a re-registration of the same contact cannot
//! overtake each other.

use sb_frontend::{Algorithm, Effect, Ha1, Query, QueryError, QueryResult};
use sb_registrar::{parse_contact, uri_key, Aor, Binding, BindingKey, Source, Q};
use sb_sip_msg::{CallId, Transport};
use sb_store::{DigestAlgorithm, SipAddress, Store};
use std::sync::Arc;

/// Answers one query.
pub async fn run_query(store: &dyn Store, q: &Query) -> QueryResult {
    match q {
        Query::Credentials {
            address,
            realm,
            algorithm,
            ..
        } => {
            // A name that is no valid address cannot belong to anyone: same as unknown.
            let Ok(addr) = SipAddress::parse(address) else {
                return Ok(None);
            };
            let alg = match algorithm {
                Algorithm::Md5 => DigestAlgorithm::Md5,
                Algorithm::Sha256 => DigestAlgorithm::Sha256,
                // Not stored for anyone; the dummy check follows.
                _ => return Ok(None),
            };
            let err = |e: sb_store::StoreError| QueryError::Store(e.to_string());
            // Both lookups always run, whoever asks: an unknown name costs the same
            // round trips as a known one, so timing does not tell who exists either.
            let (user, credential) = tokio::join!(
                store.get_user(&addr),
                store.get_credential(&addr, realm, alg)
            );
            // A disabled user authenticates like an unknown one.
            let enabled = user.map_err(err)?.is_some_and(|u| u.enabled);
            let Some(c) = credential.map_err(err)?.filter(|_| enabled) else {
                return Ok(None);
            };
            Ok(Ha1::from_hex(*algorithm, &c.ha1).ok())
        }
        #[allow(unreachable_patterns)]
        _ => Err(QueryError::Store("query not supported".into())),
    }
}

/// Persists one registrar change.
pub async fn run_write(store: &dyn Store, effect: &Effect) -> Result<(), sb_store::StoreError> {
    match effect {
        Effect::Upsert(b) => {
            let row = to_store(b)?;
            store.upsert_binding(&row).await
        }
        Effect::Remove { binding, .. } => {
            let aor = SipAddress::parse(binding.aor.as_str())?;
            store.remove_binding(&aor, &key_text(&binding.key)).await?;
            Ok(())
        }
    }
}

/// Starts the writer task: effects are written one after another, in order. The task
/// ends once the sender is dropped and the queue is written.
pub fn spawn_writer(
    store: Arc<dyn Store>,
) -> (
    tokio::sync::mpsc::UnboundedSender<Effect>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Effect>();
    let task = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if let Err(err) = run_write(store.as_ref(), &e).await {
                metrics::counter!("store_write_failures_total").increment(1);
                tracing::warn!(error = %err, "cannot persist a binding change");
            }
        }
    });
    (tx, task)
}

/// The store's key text for a registrar key.
pub fn key_text(k: &BindingKey) -> String {
    match k {
        BindingKey::Instance { instance, reg_id } => {
            sb_store::Binding::default_key("", Some(instance), *reg_id)
        }
        BindingKey::Uri(u) => sb_store::Binding::default_key(u, None, None),
    }
}

fn transport_text(t: &Transport) -> String {
    t.as_str().to_ascii_lowercase()
}

/// A registrar binding as a store row.
pub fn to_store(b: &Binding) -> Result<sb_store::Binding, sb_store::StoreError> {
    Ok(sb_store::Binding {
        aor: SipAddress::parse(b.aor.as_str())?,
        key: key_text(&b.key),
        contact: b.contact.to_string(),
        q: b.q.map(Q::thousandths),
        expires_at: i64::try_from(b.expires_at).unwrap_or(i64::MAX),
        call_id: b.call_id.0.clone(),
        cseq: b.cseq,
        instance_id: b.instance.clone(),
        reg_id: b.reg_id,
        transport: transport_text(&b.source.transport),
        source: b.source.addr.to_string(),
        received: None,
        path: b.path.clone(),
        updated_at: i64::try_from(b.updated_at).unwrap_or(i64::MAX),
    })
}

/// A stored row as a registrar binding; `None` when the row cannot be read back (it is
/// then left to lapse in the store rather than fail the start).
pub fn from_store(row: &sb_store::Binding, seq: u64) -> Option<Binding> {
    let contact = parse_contact(&row.contact)?;
    let key = match &row.instance_id {
        Some(instance) => BindingKey::Instance {
            instance: instance.clone(),
            reg_id: row.reg_id,
        },
        None => BindingKey::Uri(uri_key(&contact.uri)),
    };
    let transport = match row.transport.as_str() {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        "ws" => Transport::Ws,
        "wss" => Transport::Wss,
        other => Transport::Other(other.to_string()),
    };
    Some(Binding {
        aor: Aor::from_canonical(row.aor.as_str()),
        key,
        q: row
            .q
            .and_then(|q| Q::parse(&format!("{}.{:03}", q / 1000, q % 1000))),
        contact,
        expires_at: u64::try_from(row.expires_at).unwrap_or(0),
        call_id: CallId(row.call_id.clone()),
        cseq: row.cseq,
        instance: row.instance_id.clone(),
        reg_id: row.reg_id,
        source: Source {
            transport,
            addr: row.source.parse().ok()?,
        },
        path: row.path.clone(),
        updated_at: u64::try_from(row.updated_at).unwrap_or(0),
        seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sb_frontend::RegistrarConfig;
    use sb_registrar::{Authorized, Registrar};

    fn registered() -> Binding {
        let text = "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1\r\n\
            From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: c-1\r\n\
            CSeq: 7 REGISTER\r\nContact: \"Desk\" <sip:alice@192.0.2.1:5070;transport=tcp>;q=0.5;+sip.instance=\"<urn:uuid:1>\"\r\n\
            Expires: 600\r\nContent-Length: 0\r\n\r\n";
        let sb_sip_msg::Message::Request(req) =
            sb_sip_msg::parse_datagram(text.as_bytes()).unwrap()
        else {
            panic!("a request")
        };
        let mut reg = Registrar::new(RegistrarConfig::default());
        let src = Source {
            transport: Transport::Tcp,
            addr: "192.0.2.1:40000".parse().unwrap(),
        };
        let reply = reg.handle_register(1_800_000_000, &req, &src, &Authorized::Unchecked);
        assert_eq!(reply.status.0, 200);
        match reg.poll_effect() {
            Some(Effect::Upsert(b)) => *b,
            other => panic!("expected an upsert, got {other:?}"),
        }
    }

    #[test]
    fn a_binding_survives_the_round_trip_through_a_store_row() {
        let b = registered();
        let row = to_store(&b).unwrap();
        row.validate().unwrap();
        assert_eq!(row.aor.as_str(), "sip:alice@example.com");
        assert_eq!(row.transport, "tcp");
        assert_eq!(row.q, Some(500));
        assert_eq!(row.key, "instance:<urn:uuid:1>");
        let back = from_store(&row, b.seq).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn a_row_that_does_not_parse_is_skipped() {
        let mut row = to_store(&registered()).unwrap();
        row.contact = "not a contact <".into();
        assert!(from_store(&row, 1).is_none());
    }
}
