//! One call to a working OpenTelemetry pipeline, configured by the standard `OTEL_*` variables.
//!
//! [`init`] installs the tracer provider (with the exporter, sampler, batch settings and limits the
//! variables ask for), the global propagator, and a `tracing` subscriber: the OpenTelemetry bridge,
//! log events onto spans, and log lines that carry `trace_id` and `span_id`. The returned [`Guard`]
//! flushes and shuts the pipeline down when dropped, within a bounded time.
//!
//! ```no_run
//! # async fn run() -> Result<(), trace_init::InitError> {
//! let _guard = trace_init::builder()
//!     .service_name("checkout")
//!     .service_version(env!("CARGO_PKG_VERSION"))
//!     .init()?;
//! tracing::info!("ready"); // carries trace_id/span_id when logged inside a span
//! # Ok(()) }
//! ```
//!
//! | variable | effect |
//! | --- | --- |
//! | `OTEL_SDK_DISABLED` | `true`: no spans are exported |
//! | `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` | the resource |
//! | `OTEL_TRACES_EXPORTER` | `otlp`, `console`, `none`; unset: `otlp` when an OTLP endpoint is set, else `console` |
//! | `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` / `_PROTOCOL` / `_HEADERS` / `_TIMEOUT` / `_COMPRESSION` | the OTLP exporter (`grpc`, `http/protobuf`; `gzip`) |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | the sampler |
//! | `OTEL_PROPAGATORS` | `tracecontext`, `baggage`, `b3`, `b3multi`, `jaeger`, `none` |
//! | `OTEL_BSP_SCHEDULE_DELAY`, `_EXPORT_TIMEOUT`, `_MAX_QUEUE_SIZE`, `_MAX_EXPORT_BATCH_SIZE` | batching |
//! | `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT`, `OTEL_[SPAN_]ATTRIBUTE_VALUE_LENGTH_LIMIT` | limits |
//! | `RUST_LOG`, `LOG_FORMAT` (`human`, `json`) | logs |
#![warn(missing_docs)]

pub mod console;
pub mod logs;
mod otlp;
mod pipeline;
pub mod resource;
pub mod settings;

pub use pipeline::{builder, init, install_propagator, Builder, Guard, InitError};
pub use settings::{Exporter, LogFormat, Propagator, Protocol, Sampler, Settings};
