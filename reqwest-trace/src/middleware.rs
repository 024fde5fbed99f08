//! [`TracingMiddleware`].

use std::sync::Arc;

use http::Extensions;
use opentelemetry::trace::Span as _;
use opentelemetry::Context;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};
use trace_core::http_client::{HttpClientSchema, OutgoingRequest, TransportError};
use trace_core::redact::{HeaderCapture, UrlRedaction};
use trace_core::tracer::Tracer;

use crate::extensions::{Attempts, DisablePropagation, UrlTemplate};

#[derive(Debug, Clone)]
struct Config {
    tracer: Tracer,
    schema: HttpClientSchema,
    propagate: bool,
}

/// A `reqwest_middleware::Middleware` that opens one CLIENT span per physical attempt and injects
/// the trace context (`traceparent`, `tracestate`, `baggage`, through the global propagator).
///
/// Place it after `reqwest-retry`'s middleware so that every attempt is its own span; attempts
/// after the first carry `http.request.resend_count`.
///
/// ```no_run
/// # async fn run() -> Result<(), reqwest_middleware::Error> {
/// use reqwest_trace::{TracingMiddleware, UrlTemplate};
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(TracingMiddleware::new())
///     .build();
/// let res = client
///     .get("http://127.0.0.1:8080/users/42")
///     .with_extension(UrlTemplate::new("/users/{id}"))
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TracingMiddleware {
    config: Arc<Config>,
}

impl Default for TracingMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

impl TracingMiddleware {
    /// A middleware with the defaults: registered (or global) tracer, default URL redaction,
    /// no header capture, propagation on.
    ///
    /// ```
    /// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
    ///     .with(reqwest_trace::TracingMiddleware::new())
    ///     .build();
    /// ```
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config {
                tracer: Tracer::new("reqwest-trace"),
                schema: HttpClientSchema::default(),
                propagate: true,
            }),
        }
    }

    fn update(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(Arc::make_mut(&mut self.config));
        self
    }

    /// Records these request headers as `http.request.header.<name>` (sensitive ones redacted).
    ///
    /// ```
    /// let mw = reqwest_trace::TracingMiddleware::new().capture_request_headers(["x-request-id"]);
    /// ```
    pub fn capture_request_headers<I, S>(self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.update(|c| c.schema.request_headers = HeaderCapture::request(names))
    }

    /// Records these response headers as `http.response.header.<name>` (sensitive ones redacted).
    ///
    /// ```
    /// // http.response.header.retry-after, as a string array
    /// let mw = reqwest_trace::TracingMiddleware::new().capture_response_headers(["retry-after"]);
    /// ```
    pub fn capture_response_headers<I, S>(self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.update(|c| c.schema.response_headers = HeaderCapture::response(names))
    }

    /// Replaces the `url.full` redaction rules.
    ///
    /// ```
    /// use trace_core::redact::UrlRedaction;
    /// let mw = reqwest_trace::TracingMiddleware::new()
    ///     .url_redaction(UrlRedaction::default().with_extra_params(["api_key"]));
    /// ```
    pub fn url_redaction(self, redaction: UrlRedaction) -> Self {
        self.update(|c| c.schema.url_redaction = redaction)
    }

    /// Turns injection off for every request of this client (per request: [`DisablePropagation`]).
    ///
    /// ```
    /// // a client used only for third-party APIs
    /// let mw = reqwest_trace::TracingMiddleware::new().propagate(false);
    /// ```
    pub fn propagate(self, on: bool) -> Self {
        self.update(|c| c.propagate = on)
    }

    /// Uses `tracer` instead of the registered pipeline's.
    ///
    /// ```
    /// let tracer = trace_core::tracer::Tracer::from_global("payments-client");
    /// let mw = reqwest_trace::TracingMiddleware::new().with_tracer(tracer);
    /// ```
    pub fn with_tracer(self, tracer: Tracer) -> Self {
        self.update(|c| c.tracer = tracer)
    }
}

fn transport_kind(e: &reqwest_middleware::Error) -> TransportError {
    match e {
        reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => TransportError::Timeout,
        reqwest_middleware::Error::Reqwest(e) if e.is_connect() => TransportError::Connect,
        reqwest_middleware::Error::Reqwest(e) if e.is_redirect() => TransportError::Redirect,
        reqwest_middleware::Error::Reqwest(e) if e.is_body() => TransportError::Body,
        reqwest_middleware::Error::Reqwest(e) if e.is_decode() => TransportError::Decode,
        reqwest_middleware::Error::Reqwest(e) if e.is_request() => TransportError::Request,
        _ => TransportError::Other,
    }
}

#[async_trait::async_trait]
impl Middleware for TracingMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let config = &self.config;
        // Attempts are counted in the request's extensions, which a retry middleware hands to
        // every attempt. The count is written after an attempt that a retry could follow (a
        // transport error or a status other than 2xx), not before every attempt: a request that
        // succeeds at once never allocates the extension map.
        let counted = extensions.get::<Attempts>().copied();
        let attempts = counted.unwrap_or_default();
        let parent = Context::current();
        let mut span = {
            let url = req.url();
            let template = extensions.get::<UrlTemplate>().map(|t| t.0.as_ref());
            config.schema.start(
                &config.tracer,
                &OutgoingRequest {
                    method: req.method(),
                    url: url.as_str(),
                    scheme: url.scheme(),
                    host: url.host_str().unwrap_or(""),
                    port: url.port_or_known_default(),
                    template,
                    resend_count: attempts.0,
                    headers: req.headers(),
                },
                &parent,
            )
        };
        if config.propagate && extensions.get::<DisablePropagation>().is_none() {
            trace_core::propagation::inject_span_into_headers(
                &parent,
                span.span_context(),
                req.headers_mut(),
            );
        }
        let result = next.run(req, extensions).await;
        let may_be_retried = match &result {
            Ok(res) => !res.status().is_success(),
            Err(_) => true,
        };
        if may_be_retried || counted.is_some() {
            extensions.insert(Attempts(attempts.0 + 1));
        }
        match &result {
            Ok(res) => {
                config
                    .schema
                    .record_response(&mut span, res.status(), res.version(), res.headers())
            }
            Err(e) => {
                config
                    .schema
                    .record_transport_error(&mut span, transport_kind(e), e.to_string())
            }
        }
        span.end();
        result
    }
}
