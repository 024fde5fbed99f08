//! Outbound HTTP spans for reqwest: a `reqwest_middleware::Middleware` that opens one CLIENT span
//! per physical attempt and injects the trace context into it.
//!
//! Span name `{method}`, or `{method} {template}` when the caller supplies a [`UrlTemplate`]
//! (never the raw path). Attributes from the trace-core HTTP client schema:
//! `http.request.method` (with `_OTHER`), `url.full` (credentials and signature parameters
//! redacted), `server.address`, `server.port`, `url.scheme`, `url.template`,
//! `network.protocol.version`, `http.request.resend_count`, `http.response.status_code`, and on
//! failure `error.type` (the status code, or `timeout`, `connect`, `request`, `body`, `decode`,
//! `redirect`) with status Error. 4xx and 5xx are errors on client spans. The caller gets
//! reqwest's own result unchanged.
//!
//! Retries: put this middleware after `reqwest-retry`'s so each attempt is a span; attempts after
//! the first carry `http.request.resend_count` = 1, 2, ... (counted after each attempt that a
//! retry could follow: a transport error or a status other than 2xx; a retry policy that resends
//! a 2xx response gets no count). Redirects that reqwest follows itself
//! happen inside one attempt (reqwest does not expose them to middleware): turn reqwest's redirect
//! policy off (`redirect::Policy::none()`) and follow them yourself to get one span per hop.
//!
//! ```no_run
//! # async fn run() -> Result<(), reqwest_middleware::Error> {
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(reqwest_trace::TracingMiddleware::new())
//!     .build();
//! let body = client.get("http://127.0.0.1:8080/health").send().await?.text().await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod extensions;
mod middleware;

pub use extensions::{DisablePropagation, UrlTemplate};
pub use middleware::TracingMiddleware;
