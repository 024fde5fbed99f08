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
use crate::intern::HOSTS;
use crate::tracer::{SpanHandle, Tracer};

/// One database operation, as the span records it. Text fields must already be sanitised.
#[derive(Debug, Clone, Default)]
pub struct DbOperation<'a> {
    /// `db.system.name`: `postgresql`, `mysql`, `mariadb`, `sqlite`, `redis`.
    pub system: &'static str,
    /// `db.namespace`.
    pub namespace: Option<&'a str>,
    /// `server.address`.
    pub server_address: Option<&'a str>,
    /// `server.port`.
    pub server_port: Option<u16>,
    /// `db.query.text` (parameterised or sanitised).
    pub query_text: Option<Cow<'a, str>>,
    /// `db.query.summary`.
    pub summary: Option<Cow<'a, str>>,
    /// `db.operation.name`.
    pub operation: Option<Cow<'a, str>>,
    /// `db.collection.name`, when the operation acts on one collection.
    pub collection: Option<Cow<'a, str>>,
    /// `db.operation.batch.size`, for batches of two or more.
    pub batch_size: Option<usize>,
}

impl DbOperation<'_> {
    /// The span name the conventions give this operation.
    pub fn span_name(&self) -> Cow<'static, str> {
        if let Some(s) = &self.summary {
            return Cow::Owned(s.to_string());
        }
        match (&self.operation, &self.collection) {
            (Some(op), Some(c)) => Cow::Owned(format!("{op} {c}")),
            (Some(op), None) => Cow::Owned(op.to_string()),
            _ => Cow::Borrowed(self.system),
        }
    }
}

fn owned(s: &str) -> StringValue {
    StringValue::from(s.to_string())
}

/// Starts a database client span under `parent` (attributes built only when it will record).
pub fn start(tracer: &Tracer, op: &DbOperation<'_>, parent: &Context) -> SpanHandle {
    let head = || {
        let mut a: Vec<KeyValue> = Vec::with_capacity(12);
        a.push(DB_SYSTEM_NAME.kv(op.system));
        if let Some(o) = &op.operation {
            a.push(DB_OPERATION_NAME.kv(owned(o)));
        }
        if let Some(c) = &op.collection {
            a.push(DB_COLLECTION_NAME.kv(owned(c)));
        }
        (op.span_name(), a)
    };
    tracer.start(SpanKind::Client, parent, Vec::new(), head, |a| {
        if let Some(ns) = op.namespace {
            a.push(DB_NAMESPACE.kv(HOSTS.value(ns)));
        }
        if let Some(h) = op.server_address {
            a.push(SERVER_ADDRESS.kv(HOSTS.value(h)));
        }
        if let Some(p) = op.server_port {
            a.push(SERVER_PORT.kv(i64::from(p)));
        }
        if let Some(t) = &op.query_text {
            a.push(DB_QUERY_TEXT.kv(owned(t)));
        }
        if let Some(s) = &op.summary {
            a.push(DB_QUERY_SUMMARY.kv(owned(s)));
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
        let mut op = DbOperation {
            system: "postgresql",
            ..Default::default()
        };
        assert_eq!(op.span_name(), "postgresql");
        op.operation = Some("SELECT".into());
        assert_eq!(op.span_name(), "SELECT");
        op.collection = Some("users".into());
        assert_eq!(op.span_name(), "SELECT users");
        op.summary = Some("SELECT users JOIN orders".into());
        assert_eq!(op.span_name(), "SELECT users JOIN orders");
    }
}
