//! Rows back into model types. Stored values were validated on the way in, so a value
//! that no longer parses means the database was changed behind our back: that is a
//! [`StoreError::Corrupt`], never a panic.

use crate::error::{Result, StoreError};
use crate::model::{Binding, DigestAlgorithm, LineUri, SipAddress, User};

/// Parses a column that holds one of our validated types back into it.
pub(crate) fn parse_column<T>(
    field: &'static str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T>,
) -> Result<T> {
    parse(value).map_err(|e| StoreError::Corrupt {
        field,
        reason: format!("{value:?}: {e}"),
    })
}

/// A user from its columns.
pub(crate) fn user_from_columns(
    address: &str,
    display_name: String,
    line_uri: Option<String>,
    enabled: bool,
    policies: &str,
) -> Result<User> {
    Ok(User {
        address: parse_column("users.address", address, SipAddress::parse)?,
        display_name,
        line_uri: line_uri
            .map(|l| parse_column("users.line_uri", &l, LineUri::parse))
            .transpose()?,
        enabled,
        policies: serde_json::from_str(policies).map_err(|e| StoreError::Corrupt {
            field: "users.policies",
            reason: e.to_string(),
        })?,
    })
}

/// The integer columns of a binding, checked back into their Rust ranges.
pub(crate) struct BindingInts {
    pub q: Option<i64>,
    pub expires_at: i64,
    pub cseq: i64,
    pub reg_id: Option<i64>,
    pub updated_at: i64,
}

/// A binding from its columns.
#[allow(clippy::too_many_arguments)]
pub(crate) fn binding_from_columns(
    aor: &str,
    key: String,
    contact: String,
    ints: BindingInts,
    call_id: String,
    instance_id: Option<String>,
    transport: String,
    source: String,
    received: Option<String>,
    path: &str,
) -> Result<Binding> {
    let range = |field: &'static str, v: i64| StoreError::Corrupt {
        field,
        reason: format!("{v} is out of range"),
    };
    Ok(Binding {
        aor: parse_column("bindings.aor", aor, SipAddress::parse)?,
        key,
        contact,
        q: ints
            .q
            .map(|q| u16::try_from(q).map_err(|_| range("bindings.q", q)))
            .transpose()?,
        expires_at: ints.expires_at,
        call_id,
        cseq: u32::try_from(ints.cseq).map_err(|_| range("bindings.cseq", ints.cseq))?,
        instance_id,
        reg_id: ints
            .reg_id
            .map(|r| u32::try_from(r).map_err(|_| range("bindings.reg_id", r)))
            .transpose()?,
        transport,
        source,
        received,
        path: serde_json::from_str(path).map_err(|e| StoreError::Corrupt {
            field: "bindings.path",
            reason: e.to_string(),
        })?,
        updated_at: ints.updated_at,
    })
}

pub(crate) fn algorithm_from_column(s: &str) -> Result<DigestAlgorithm> {
    parse_column("credentials.algorithm", s, DigestAlgorithm::parse)
}
