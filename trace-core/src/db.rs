//! The database client span families (kind CLIENT): SQL statements and Redis commands.
//!
//! Name: `db.query.summary`, else `{db.operation.name} {db.collection.name}`, else
//! `{db.operation.name}`, else `db.system.name`. Attributes: `db.system.name`, `db.namespace`,
//! `server.address`, `server.port`, `db.query.text`, `db.query.summary`, `db.operation.name`,
//! `db.collection.name`, `db.operation.batch.size`, then the outcome (`db.response.returned_rows`,
//! `db.response.affected_rows`, `db.redis.cache_hit`) or the failure (`db.response.status_code`,
//! `error.type`, status Error).

use std::borrow::Cow;

use opentelemetry::trace::{Span, SpanKind};
use opentelemetry::{Context, KeyValue, StringValue};

use crate::attributes::*;
use crate::tracer::{SpanHandle, Tracer};

/// Where a client connects: fixed per pool or connection, built once.
#[derive(Debug, Clone, Default)]
pub struct DbTarget {
    /// `db.system.name`: `postgresql`, `mysql`, `mariadb`, `sqlite`, `redis`.
    pub system: &'static str,
    /// `db.namespace`.
    pub namespace: Option<StringValue>,
    /// `server.address`.
    pub server_address: Option<StringValue>,
    /// `server.port`.
    pub server_port: Option<u16>,
}

/// One database operation, as the span records it. Text fields must already be sanitised.
#[derive(Debug, Clone, Default)]
pub struct DbOperation {
    /// The span name (see [`span_name`]).
    pub name: Cow<'static, str>,
    /// `db.query.text` (parameterised or sanitised).
    pub query_text: Option<StringValue>,
    /// `db.query.summary`.
    pub summary: Option<StringValue>,
    /// `db.operation.name`.
    pub operation: Option<StringValue>,
    /// `db.collection.name`, when the operation acts on one collection.
    pub collection: Option<StringValue>,
    /// `db.operation.batch.size`, for batches of two or more.
    pub batch_size: Option<usize>,
}

/// The span name the conventions give an operation.
pub fn span_name(
    summary: Option<&str>,
    operation: Option<&str>,
    collection: Option<&str>,
    system: &'static str,
) -> Cow<'static, str> {
    let owned = match (summary, operation, collection) {
        (Some(s), _, _) if !s.is_empty() => s.to_owned(),
        (_, Some(op), Some(c)) => format!("{op} {c}"),
        (_, Some(op), None) => op.to_owned(),
        _ => return Cow::Borrowed(system),
    };
    match crate::intern::ROUTES.get(&owned) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(owned),
    }
}

/// Starts a database client span under `parent` (attributes built only when it will record).
pub fn start(tracer: &Tracer, target: &DbTarget, op: &DbOperation, parent: &Context) -> SpanHandle {
    let head = || {
        let mut a: Vec<KeyValue> = crate::recording::attribute_vec(12);
        a.push(DB_SYSTEM_NAME.kv(target.system));
        if let Some(o) = &op.operation {
            a.push(DB_OPERATION_NAME.kv(o.clone()));
        }
        if let Some(c) = &op.collection {
            a.push(DB_COLLECTION_NAME.kv(c.clone()));
        }
        (op.name.clone(), a)
    };
    tracer.start(SpanKind::Client, parent, Vec::new(), head, |a| {
        if let Some(ns) = &target.namespace {
            a.push(DB_NAMESPACE.kv(ns.clone()));
        }
        if let Some(h) = &target.server_address {
            a.push(SERVER_ADDRESS.kv(h.clone()));
        }
        if let Some(p) = target.server_port {
            a.push(SERVER_PORT.kv(i64::from(p)));
        }
        if let Some(t) = &op.query_text {
            a.push(DB_QUERY_TEXT.kv(t.clone()));
        }
        if let Some(s) = &op.summary {
            a.push(DB_QUERY_SUMMARY.kv(s.clone()));
        }
        if let Some(b) = op.batch_size.filter(|b| *b >= 2) {
            a.push(DB_OPERATION_BATCH_SIZE.kv(b as i64));
        }
        a.extend_from_slice(crate::context_attributes::of(parent));
    })
}

/// Records a database failure: `db.response.status_code` (SQLSTATE, Redis error prefix) when
/// known, `error.type` (that code, else `error_type`), status Error with `message`.
pub fn record_failure<S: Span + ?Sized>(
    span: &mut S,
    status_code: Option<&str>,
    error_type: &str,
    message: String,
) {
    if !span.is_recording() {
        return;
    }
    if let Some(code) = status_code {
        span.set_attribute(DB_RESPONSE_STATUS_CODE.kv(code.to_owned()));
    }
    let et = status_code.unwrap_or(error_type).to_owned();
    crate::span::record_failure(span, et, Some(Cow::Owned(message)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_convention() {
        assert_eq!(span_name(None, None, None, "postgresql"), "postgresql");
        assert_eq!(span_name(None, Some("SELECT"), None, "x"), "SELECT");
        assert_eq!(
            span_name(None, Some("SELECT"), Some("users"), "x"),
            "SELECT users"
        );
        assert_eq!(
            span_name(Some("SELECT users JOIN orders"), Some("SELECT"), None, "x"),
            "SELECT users JOIN orders"
        );
    }
}
