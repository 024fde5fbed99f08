//! The database client span families (kind CLIENT): SQL statements and Redis commands.
//!
//! Name: `db.query.summary`, else `{db.operation.name} {db.collection.name}`, else
//! `{db.operation.name}`, else `db.system.name`. Attributes: `db.system.name`, `db.namespace`,
//! `server.address`, `server.port`, `db.query.text`, `db.query.summary`, `db.operation.name`,
//! `db.collection.name`, `db.operation.batch.size`, then the outcome (`db.response.returned_rows`,
//! `db.response.affected_rows`, `db.redis.cache_hit`) or the failure (`db.response.status_code`,
//! `error.type`, status Error).

use crate::attributes::PushAttr;
use std::borrow::Cow;

use opentelemetry::trace::{Span, SpanKind};
use opentelemetry::{Context, KeyValue, StringValue};

use crate::attributes::*;
use crate::tracer::{SpanHandle, Tracer};

/// Where a client connects: fixed per pool or connection, built once.
///
/// ```
/// let target = trace_core::db::DbTarget {
///     system: "postgresql",
///     namespace: Some("orders".into()),
///     server_address: Some("db.internal".into()),
///     server_port: Some(5432),
/// };
/// ```
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
///
/// ```
/// let op = trace_core::db::DbOperation {
///     name: "SELECT users".into(),
///     query_text: Some("SELECT * FROM users WHERE id = ?".into()),
///     operation: Some("SELECT".into()),
///     collection: Some("users".into()),
///     ..Default::default()
/// };
/// ```
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

/// The span name the conventions give an operation: the query summary, else
/// `{operation} {collection}`, else the operation, else the database system.
///
/// ```
/// use trace_core::db::span_name;
/// assert_eq!(span_name(Some("SELECT users orders"), Some("SELECT"), None, "mysql"), "SELECT users orders");
/// assert_eq!(span_name(None, Some("HGETALL"), None, "redis"), "HGETALL");
/// assert_eq!(span_name(None, Some("DELETE"), Some("jobs"), "sqlite"), "DELETE jobs");
/// assert_eq!(span_name(None, None, None, "postgresql"), "postgresql");
/// ```
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

/// Starts a database client span under `parent` for an operation already described.
///
/// ```
/// use opentelemetry::trace::{Span as _, SpanKind};
/// use trace_core::db::{start, DbOperation, DbTarget};
/// use trace_core::testing::SpanDataExt;
///
/// let pipeline = trace_core::testing::install();
/// let target = DbTarget { system: "sqlite", ..Default::default() };
/// let op = DbOperation { name: "VACUUM".into(), operation: Some("VACUUM".into()), ..Default::default() };
/// let tracer = trace_core::tracer::Tracer::new("my-db-client");
/// let mut span = start(&tracer, &target, &op, &opentelemetry::Context::new());
/// let trace_id = span.span_context().trace_id();
/// span.end();
/// let trace = pipeline.wait_for_spans(trace_id, 1);
/// let exported = trace.span("VACUUM");
/// assert_eq!(exported.span_kind, SpanKind::Client);
/// assert_eq!(exported.str_attr("db.system.name"), "sqlite");
/// assert_eq!(exported.str_attr("db.operation.name"), "VACUUM");
/// ```
pub fn start(tracer: &Tracer, target: &DbTarget, op: &DbOperation, parent: &Context) -> SpanHandle {
    start_with(tracer, target, None, parent, || op.clone())
}

/// Starts a database client span under `parent`. `describe` (the SQL sanitiser, the Redis command
/// renderer) runs only when the span will record: a statement that is not sampled is never taken
/// apart. `namespace` replaces the target's `db.namespace` when given (a Redis connection's
/// current database).
///
/// ```
/// use opentelemetry::trace::Span as _;
/// use trace_core::db::{start_with, DbOperation, DbTarget};
/// use trace_core::tracer::Tracer;
///
/// let tracer = Tracer::new("my-db-client");
/// let target = DbTarget { system: "redis", ..Default::default() };
/// let mut span = start_with(&tracer, &target, Some("0".into()), &opentelemetry::Context::current(), || {
///     // runs only for a span that records
///     DbOperation {
///         name: "GET".into(),
///         operation: Some("GET".into()),
///         query_text: Some("GET user:?".into()),
///         ..Default::default()
///     }
/// });
/// span.end();
/// ```
pub fn start_with(
    tracer: &Tracer,
    target: &DbTarget,
    namespace: Option<StringValue>,
    parent: &Context,
    describe: impl FnOnce() -> DbOperation,
) -> SpanHandle {
    let described = std::cell::RefCell::new(None::<DbOperation>);
    let head = || {
        let mut op = describe();
        let mut a: Vec<KeyValue> = crate::recording::attribute_vec(12);
        a.push_attr(|| DB_SYSTEM_NAME.kv(target.system));
        if let Some(o) = op.operation.take() {
            a.push_attr(|| DB_OPERATION_NAME.kv(o));
        }
        if let Some(c) = op.collection.take() {
            a.push_attr(|| DB_COLLECTION_NAME.kv(c));
        }
        let name = std::mem::take(&mut op.name);
        *described.borrow_mut() = Some(op);
        (name, a)
    };
    tracer.start(SpanKind::Client, parent, Vec::new(), head, |a| {
        let Some(op) = described.borrow_mut().take() else {
            return;
        };
        if let Some(ns) = namespace.or_else(|| target.namespace.clone()) {
            a.push_attr(|| DB_NAMESPACE.kv(ns));
        }
        if let Some(h) = &target.server_address {
            a.push_attr(|| SERVER_ADDRESS.kv(h.clone()));
        }
        if let Some(p) = target.server_port {
            a.push_attr(|| SERVER_PORT.kv(i64::from(p)));
        }
        if let Some(t) = op.query_text {
            a.push_attr(|| DB_QUERY_TEXT.kv(t));
        }
        if let Some(s) = op.summary {
            a.push_attr(|| DB_QUERY_SUMMARY.kv(s));
        }
        if let Some(b) = op.batch_size.filter(|b| *b >= 2) {
            a.push_attr(|| DB_OPERATION_BATCH_SIZE.kv(b as i64));
        }
        a.extend_from_slice(crate::context_attributes::of(parent));
    })
}

/// Records a database failure: `db.response.status_code` (SQLSTATE, Redis error prefix) when
/// known, `error.type` (that code, else `error_type`), status Error with `message`.
///
/// ```
/// use opentelemetry::trace::{Span as _, Status};
/// use trace_core::db::{record_failure, start, DbOperation, DbTarget};
/// use trace_core::testing::SpanDataExt;
///
/// let pipeline = trace_core::testing::install();
/// let target = DbTarget { system: "postgresql", ..Default::default() };
/// let op = DbOperation { name: "INSERT users".into(), ..Default::default() };
/// let tracer = trace_core::tracer::Tracer::new("my-db-client");
/// let mut span = start(&tracer, &target, &op, &opentelemetry::Context::new());
/// // a unique violation
/// record_failure(&mut span, Some("23505"), "DatabaseError", "duplicate key value".into());
/// let trace_id = span.span_context().trace_id();
/// span.end();
/// let trace = pipeline.wait_for_spans(trace_id, 1);
/// let exported = trace.span("INSERT users");
/// assert_eq!(exported.str_attr("db.response.status_code"), "23505");
/// assert_eq!(exported.str_attr("error.type"), "23505");
/// assert_eq!(exported.status, Status::error("duplicate key value"));
/// ```
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
    use crate::tracer::{KnownSampler, RootSampler};
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    fn tracer() -> (Tracer, InMemorySpanExporter, SdkTracerProvider) {
        let exporter = InMemorySpanExporter::default();
        let sampler = KnownSampler::ParentBased(RootSampler::AlwaysOn);
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .with_sampler(sampler.to_sdk())
            .build();
        let tracer = Tracer::from_provider("db-test", &provider, Some(sampler));
        (tracer, exporter, provider)
    }

    fn parent(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(5u128),
            SpanId::from(6u64),
            flags,
            true,
            Default::default(),
        ))
    }

    fn op() -> DbOperation {
        DbOperation {
            name: "GET".into(),
            query_text: Some("GET ?".into()),
            operation: Some("GET".into()),
            ..Default::default()
        }
    }

    #[test]
    fn an_unsampled_operation_is_never_described() {
        let (tracer, exporter, provider) = tracer();
        let target = DbTarget {
            system: "redis",
            ..Default::default()
        };
        let mut span = start_with(&tracer, &target, None, &parent(false), || {
            panic!("described although not sampled")
        });
        assert!(!span.is_recording());
        span.end();
        provider.force_flush().unwrap();
        assert!(exporter.get_finished_spans().unwrap().is_empty());
    }

    #[test]
    fn a_sampled_operation_is_described_once_with_every_attribute() {
        let (tracer, exporter, provider) = tracer();
        let target = DbTarget {
            system: "redis",
            namespace: Some("0".into()),
            server_address: Some("127.0.0.1".into()),
            server_port: Some(6379),
        };
        let calls = std::cell::Cell::new(0);
        let mut span = start_with(&tracer, &target, Some("3".into()), &parent(true), || {
            calls.set(calls.get() + 1);
            op()
        });
        span.end();
        assert_eq!(calls.get(), 1);
        provider.force_flush().unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        let s = &spans[0];
        assert_eq!(s.name, "GET");
        let get = |k: &str| {
            s.attributes
                .iter()
                .find(|kv| kv.key.as_str() == k)
                .map(|kv| kv.value.clone())
        };
        assert_eq!(get("db.system.name"), Some("redis".into()));
        assert_eq!(get("db.operation.name"), Some("GET".into()));
        assert_eq!(get("db.namespace"), Some("3".into()), "the override wins");
        assert_eq!(get("db.query.text"), Some("GET ?".into()));
        assert_eq!(get("server.port"), Some(opentelemetry::Value::I64(6379)));
    }

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
