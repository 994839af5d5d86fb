//! Event state publication (RFC 3903) for the presence package (RFC 3856).
//!
//! Each accepted PUBLISH creates or updates one *publication*: the document one device
//! published, named by an entity tag we choose, alive until its Expires runs out. The four
//! requests of RFC 3903 §4 map onto the table below; a fresh entity tag is returned on every
//! success (§6 step 8), so a stale tag is refused with 412 and the device starts over with
//! an initial PUBLISH.
//!
//! | SIP-If-Match | body | Expires | operation |
//! |--------------|------|---------|-----------|
//! | absent       | yes  | > 0     | initial   |
//! | present      | no   | > 0     | refresh   |
//! | present      | yes  | > 0     | modify    |
//! | present      | -    | 0       | remove    |

use std::collections::{BTreeSet, HashMap};

use sb_sip_msg::Request;

use crate::model::Published;
use crate::server::Refusal;

/// The content type of a presence document (RFC 3863 §4).
pub const PIDF_CONTENT_TYPE: &str = "application/pidf+xml";

/// One device's live publication.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Publication {
    pub(crate) entity: String,
    pub(crate) doc: Published,
    pub(crate) expires_at_ms: u64,
}

/// What an accepted PUBLISH did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublishOutcome {
    /// Stored (initial, refresh or modify) under this new entity tag for `expires_s`.
    Stored { etag: String, expires_s: u32 },
    /// The publication was removed (Expires: 0).
    Removed,
}

/// All publications, by entity tag, with an index by entity.
#[derive(Debug, Default)]
pub(crate) struct Publications {
    by_etag: HashMap<String, Publication>,
    by_entity: HashMap<String, BTreeSet<String>>,
    next_etag: u64,
    /// Mixed into entity tags so tags from before a restart are not reissued.
    pub(crate) epoch_ms: u64,
}

/// The PUBLISH limits (from the server's configuration).
pub(crate) struct Limits {
    pub(crate) min_expires: u32,
    pub(crate) max_expires: u32,
    pub(crate) default_expires: u32,
}

impl Publications {
    /// Applies one PUBLISH for `entity` (RFC 3903 §6). The caller recomputes the entity's
    /// state after a success.
    pub(crate) fn handle(
        &mut self,
        now_ms: u64,
        req: &Request,
        entity: &str,
        limits: &Limits,
    ) -> Result<PublishOutcome, Refusal> {
        // §6 step 2: the event package must be one we support.
        let event = req.headers.other("Event").next().unwrap_or("");
        if !crate::subscribe::event_package(event).eq_ignore_ascii_case("presence") {
            return Err(Refusal::BadEvent);
        }
        let if_match = req.headers.other("SIP-If-Match").next().map(str::to_string);
        let expires = req.headers.expires().unwrap_or(limits.default_expires);
        // §6 step 4: a too-short non-zero interval is refused with Min-Expires.
        if expires != 0 && expires < limits.min_expires {
            return Err(Refusal::IntervalTooBrief(limits.min_expires));
        }
        let expires = expires.min(limits.max_expires);
        let doc = if req.body.is_empty() {
            None
        } else {
            let mut doc = parse_body(req)?;
            // The newest note wins in aggregation, so the document carries its arrival.
            doc.received_at = now_ms / 1000;
            Some(doc)
        };

        let Some(etag) = if_match else {
            // Initial publication: it must carry a document (§6 step 5 and §4.1).
            let Some(doc) = doc else {
                return Err(Refusal::BadRequest("initial PUBLISH without a body".into()));
            };
            if expires == 0 {
                // Nothing to remove and nothing to keep: accept and forget (§4.5 implies
                // a zero-lifetime publication is gone at once).
                return Ok(PublishOutcome::Removed);
            }
            let etag = self.store(now_ms, entity, doc, expires);
            return Ok(PublishOutcome::Stored {
                etag,
                expires_s: expires,
            });
        };
        // §6 step 5: the tag must name a live publication of this entity.
        match self.by_etag.get(&etag) {
            Some(p) if p.entity == entity && p.expires_at_ms > now_ms => {}
            _ => return Err(Refusal::ConditionalRequestFailed),
        }
        let old = self.remove(&etag).expect("checked just above");
        if expires == 0 {
            return Ok(PublishOutcome::Removed);
        }
        let doc = doc.unwrap_or(old.doc);
        let etag = self.store(now_ms, entity, doc, expires);
        Ok(PublishOutcome::Stored {
            etag,
            expires_s: expires,
        })
    }

    fn store(&mut self, now_ms: u64, entity: &str, doc: Published, expires_s: u32) -> String {
        self.next_etag += 1;
        let etag = format!("{:x}.{:x}", self.epoch_ms, self.next_etag);
        self.insert(
            etag.clone(),
            Publication {
                entity: entity.to_string(),
                doc,
                expires_at_ms: now_ms + u64::from(expires_s) * 1000,
            },
        );
        etag
    }

    /// Adds a publication under a known tag (also used when restoring a snapshot).
    pub(crate) fn insert(&mut self, etag: String, p: Publication) {
        self.by_entity
            .entry(p.entity.clone())
            .or_default()
            .insert(etag.clone());
        self.by_etag.insert(etag, p);
    }

    pub(crate) fn remove(&mut self, etag: &str) -> Option<Publication> {
        let p = self.by_etag.remove(etag)?;
        if let Some(set) = self.by_entity.get_mut(&p.entity) {
            set.remove(etag);
            if set.is_empty() {
                self.by_entity.remove(&p.entity);
            }
        }
        Some(p)
    }

    /// The live documents of `entity` (an expired one no longer counts, even before the
    /// timer that removes it has run).
    pub(crate) fn documents(&self, now_ms: u64, entity: &str) -> Vec<Published> {
        self.by_entity
            .get(entity)
            .into_iter()
            .flatten()
            .filter_map(|t| self.by_etag.get(t))
            .filter(|p| p.expires_at_ms > now_ms)
            .map(|p| p.doc.clone())
            .collect()
    }

    /// The expiry time of a publication, to check a timer entry is still current.
    pub(crate) fn expires_at(&self, etag: &str) -> Option<u64> {
        self.by_etag.get(etag).map(|p| p.expires_at_ms)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Publication)> {
        self.by_etag.iter()
    }

    pub(crate) fn next_counter(&self) -> u64 {
        self.next_etag
    }

    pub(crate) fn set_next_counter(&mut self, n: u64) {
        self.next_etag = self.next_etag.max(n);
    }
}

/// The body must be a PIDF document (RFC 3856 §6.4 / RFC 3903 §6 step 3).
fn parse_body(req: &Request) -> Result<Published, Refusal> {
    let ctype = req.headers.content_type().unwrap_or("");
    let media = ctype.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(PIDF_CONTENT_TYPE) {
        return Err(Refusal::UnsupportedMediaType);
    }
    crate::glue::parse_pidf(&req.body).map_err(|e| Refusal::BadRequest(format!("PIDF: {e}")))
}
