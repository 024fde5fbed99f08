//! A tower [`Layer`](tower_layer::Layer) that gives every HTTP request one OpenTelemetry SERVER span.
//!
//! - Span name `{method} {route}` (route from axum's `MatchedPath`), `{method}` when no route matched.
//! - Stable HTTP server attributes from the trace-core schema, typed (status code as an integer).
//! - Parent from the caller's `traceparent`/`tracestate`/`baggage`; or, for public endpoints, a new
//!   trace that links the caller's context.
//! - The span lasts until the response body's last byte (streams and SSE included) or its drop.
//! - The trace id goes back in `x-trace-id` (configurable).
//! - Excluded routes get no span; routes can be sampled at their own ratio.
//! - A handler's `tracing` spans (`#[instrument]`) and the other adapters' spans nest under it.
//!
//! The span is made with the OpenTelemetry API, not as a `tracing` span: that is several times
//! cheaper, and the handler still runs inside it (the span's context is attached at every poll).
//! With axum, [`TraceLayer::axum_body`] lets responses without a span pass through unwrapped.
//!
//! ```
//! use axum::{routing::get, Router};
//! use tower_trace::TraceLayer;
//!
//! # async fn serve() -> std::io::Result<()> {
//! let _guard_from_trace_init = (); // let _guard = trace_init::init()?;
//! let app = Router::new()
//!     .route("/orders/{id}", get(|| async { "order" }))
//!     .layer(TraceLayer::new().exclude("/health").axum_body());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # if false {
//! axum::serve(
//!     listener,
//!     app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
//! )
//! .await?;
//! # }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod body;
mod config;
mod future;
mod layer;
mod sampling;
mod service;

#[cfg(feature = "axum")]
pub use body::AxumBody;
pub use body::{BodyMode, ResponseBody, Wrapped};
pub use config::PublicEndpointFn;
pub use future::ResponseFuture;
pub use layer::{TraceLayer, DEFAULT_TRACE_ID_HEADER};
pub use service::TraceService;

/// The peer's socket address, for servers other than axum: insert it into the request's extensions
/// and the span records `client.address` and `network.peer.*` from it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use opentelemetry::trace::TraceId;
/// use tower::ServiceExt;
/// use trace_core::testing::SpanDataExt;
/// use tower_trace::{PeerAddr, TraceLayer};
///
/// let pipeline = trace_core::testing::install();
/// // any tower service of `http` requests (here a plain function service)
/// let svc = tower::ServiceBuilder::new().layer(TraceLayer::new()).service_fn(
///     |_req: http::Request<String>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
///     },
/// );
/// let mut req = http::Request::new(String::new());
/// req.extensions_mut().insert(PeerAddr("203.0.113.9:50412".parse().unwrap()));
/// let res = svc.oneshot(req).await.unwrap();
/// let trace_id = TraceId::from_hex(res.headers()["x-trace-id"].to_str().unwrap()).unwrap();
/// drop(res);
/// let trace = pipeline.wait_for_spans(trace_id, 1);
/// assert_eq!(trace.span("GET").str_attr("client.address"), "203.0.113.9");
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);
