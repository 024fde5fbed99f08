//! The common core of the trace-family crates: the span schema every adapter applies, trace context
//! propagation, redaction, context attributes and manual instrumentation.
//!
//! Adapters open their spans with the OpenTelemetry API directly (not through `tracing` fields), from
//! the typed keys in [`attributes`], so every attribute has its stable name and its type, and nothing
//! is dropped on the way. `tracing` spans made by user code still nest under them: with
//! `tracing-opentelemetry`'s context activation, a `tracing` span takes the current OpenTelemetry
//! context as its parent.
//!
//! | module | holds |
//! | --- | --- |
//! | [`attributes`] | every attribute key, typed |
//! | [`http_server`], [`http_client`], [`db`] | the span families: name, kind, attributes, status rule |
//! | [`propagation`] | context in and out of headers and string maps; W3C (trace context + baggage), B3 and Jaeger propagators |
//! | [`redact`] | URL and header redaction |
//! | [`sql`] | SQL sanitiser and summariser |
//! | [`redis`] | Redis command rendering (CLI form, values replaced) |
//! | [`context_attributes`] | domain attributes carried by every span beneath a scope |
//! | [`manual`] | trace an operation, record an error, add an event |
//! | [`messaging`] | producer and consumer spans through queues |
//! | [`events`] | a `tracing` layer putting log events on adapter spans |
//! | [`limits`] | bounds on copied values |
//! | [`tracer`] | the adapters' tracer: sampling decided before attributes are built |
//! | [`recording`] | the adapters' own span: one allocation, no lock, ended as one pointer |
//! | [`export`] | the span queue and export thread, with delivery accounting |
//! | [`intern`] | bounded interning of route names and hosts |
//! | [`clock`] | span timestamps from the time-stamp counter, anchored to the system clock |
//! | `testing` (feature) | in-memory pipeline and span trees for tests |
//!
//! ```
//! use trace_core::attributes::HTTP_RESPONSE_STATUS_CODE;
//! let kv = HTTP_RESPONSE_STATUS_CODE.kv(404);
//! assert_eq!(kv.key.as_str(), "http.response.status_code");
//! assert_eq!(kv.value, opentelemetry::Value::I64(404));
//! ```
#![warn(missing_docs)]

pub mod attributes;
pub mod clock;
pub mod context_attributes;
pub mod db;
pub mod events;
pub mod export;
pub mod http_client;
pub mod http_common;
pub mod http_server;
pub mod intern;
pub mod limits;
pub mod manual;
pub mod messaging;
pub mod propagation;
pub mod recording;
pub mod redact;
pub mod redis;
pub mod span;
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tracer;

pub use opentelemetry;
