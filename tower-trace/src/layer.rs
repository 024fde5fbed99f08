//! [`TraceLayer`]: the builder users configure.

use std::sync::Arc;

use http::HeaderName;
use tower_layer::Layer;
use trace_core::http_server::HttpServerSchema;
use trace_core::redact::{HeaderCapture, UrlRedaction};
use trace_core::tracer::Tracer;

use std::marker::PhantomData;

use crate::body::Wrapped;
use crate::config::{Config, Public, PublicEndpointFn};
use crate::service::TraceService;

/// The default response header carrying the trace id.
///
/// ```
/// assert_eq!(tower_trace::DEFAULT_TRACE_ID_HEADER, "x-trace-id");
/// ```
pub const DEFAULT_TRACE_ID_HEADER: &str = "x-trace-id";

/// A tower [`Layer`] that opens one SERVER span per request.
///
/// Add it with `Router::layer` so the route template (`MatchedPath`) is known. Build it after the
/// pipeline is installed (`trace_init::init()`), or hand it a tracer with [`TraceLayer::with_tracer`].
///
/// ```
/// use axum::{routing::get, Router};
/// use tower_trace::TraceLayer;
///
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "user" }))
///     .route("/health", get(|| async { "ok" }))
///     .layer(
///         TraceLayer::new()
///             .exclude("/health")
///             .capture_request_headers(["x-request-id"])
///             .trace_id_header("x-trace-id"),
///     );
/// ```
pub struct TraceLayer<M = Wrapped> {
    config: Arc<Config>,
    mode: PhantomData<fn() -> M>,
}

impl<M> Clone for TraceLayer<M> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            mode: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for TraceLayer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.config.fmt(f)
    }
}

impl Default for TraceLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl TraceLayer {
    /// A layer with the defaults: tracer from the global provider, `x-trace-id` response header,
    /// no header capture, default query redaction, forwarded headers not trusted.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// let app: Router = Router::new()
    ///     .route("/", get(|| async { "hi" }))
    ///     .layer(tower_trace::TraceLayer::new());
    /// ```
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config {
                tracer: Tracer::new("tower-trace"),
                schema: HttpServerSchema::default(),
                trace_id_header: Some(HeaderName::from_static(DEFAULT_TRACE_ID_HEADER)),
                excluded: Vec::new(),
                route_ratios: Vec::new(),
                public: Public::No,
                baggage_keys: Vec::new(),
            }),
            mode: PhantomData,
        }
    }

    /// For axum's `Router::layer`: the service returns axum's own `Body`
    /// ([`AxumBody`](crate::AxumBody)). A response without a span (an excluded route, a request
    /// not sampled) then keeps the handler's body untouched, where a wrapped body would be boxed
    /// by the router and polled through the wrapper (0.04–0.07 us a request on the project's
    /// benchmark machine); a response with a span is boxed here as the router would box it.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use tower_trace::TraceLayer;
    ///
    /// let app: Router = Router::new()
    ///     .route("/users/{id}", get(|| async { "user" }))
    ///     .layer(TraceLayer::new().sample_route("/users/{id}", 0.1).axum_body());
    /// ```
    #[cfg(feature = "axum")]
    pub fn axum_body(self) -> TraceLayer<crate::AxumBody> {
        TraceLayer {
            config: self.config,
            mode: PhantomData,
        }
    }
}

impl<M> TraceLayer<M> {
    fn update(mut self, f: impl FnOnce(&mut Config)) -> Self {
        let config =
            Arc::get_mut(&mut self.config).expect("TraceLayer is configured before it is cloned");
        f(config);
        self
    }

    /// Uses `tracer` instead of the registered pipeline's (or the global provider's).
    ///
    /// ```
    /// // a tracer of your own pipeline instead of the one trace-init registered
    /// let tracer = trace_core::tracer::Tracer::from_global("orders-api");
    /// let layer = tower_trace::TraceLayer::new().with_tracer(tracer);
    /// ```
    pub fn with_tracer(self, tracer: Tracer) -> Self {
        self.update(|c| c.tracer = tracer)
    }

    /// Records these request headers as `http.request.header.<name>` (sensitive ones redacted).
    ///
    /// ```
    /// // recorded as http.request.header.x-request-id; authorization would be "REDACTED"
    /// let layer = tower_trace::TraceLayer::new().capture_request_headers(["x-request-id", "authorization"]);
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
    /// let layer = tower_trace::TraceLayer::new().capture_response_headers(["content-type", "set-cookie"]);
    /// ```
    pub fn capture_response_headers<I, S>(self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.update(|c| c.schema.response_headers = HeaderCapture::response(names))
    }

    /// Replaces the query redaction rules (default: the OpenTelemetry list of signature parameters).
    ///
    /// ```
    /// use trace_core::redact::UrlRedaction;
    /// // the default list plus this service's own secrets
    /// let layer = tower_trace::TraceLayer::new()
    ///     .url_redaction(UrlRedaction::default().with_extra_params(["api_key", "token"]));
    /// ```
    pub fn url_redaction(self, redaction: UrlRedaction) -> Self {
        self.update(|c| c.schema.url_redaction = redaction)
    }

    /// Trusts `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto` for `client.address` and
    /// `url.scheme`. Only behind a proxy you control: otherwise callers choose these values.
    ///
    /// ```
    /// // behind the company's own load balancer, which overwrites these headers
    /// let layer = tower_trace::TraceLayer::new().trust_forwarded_headers(true);
    /// ```
    pub fn trust_forwarded_headers(self, trust: bool) -> Self {
        self.update(|c| c.schema.trust_forwarded = trust)
    }

    /// Names the response header carrying the trace id (default `x-trace-id`).
    ///
    /// # Panics
    /// If `name` is not a valid header name.
    ///
    /// ```
    /// let layer = tower_trace::TraceLayer::new().trace_id_header("x-request-trace");
    /// ```
    pub fn trace_id_header(self, name: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        self.update(|c| c.trace_id_header = Some(name))
    }

    /// Does not return the trace id in a response header.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use axum::{body::Body, routing::get, Router};
    /// use tower::ServiceExt;
    /// trace_core::testing::install();
    /// let app = Router::new()
    ///     .route("/", get(|| async { "hi" }))
    ///     .layer(tower_trace::TraceLayer::new().without_trace_id_header());
    /// let res = app.oneshot(http::Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
    /// assert!(!res.headers().contains_key("x-trace-id"));
    /// # }
    /// ```
    pub fn without_trace_id_header(self) -> Self {
        self.update(|c| c.trace_id_header = None)
    }

    /// Opens no span for this route template (or path, when no route matched). The request still
    /// carries its caller's trace context to the handler.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use axum::{body::Body, routing::get, Router};
    /// use tower::ServiceExt;
    /// trace_core::testing::install();
    /// let app = Router::new()
    ///     .route("/health", get(|| async { "ok" }))
    ///     .layer(tower_trace::TraceLayer::new().exclude("/health"));
    /// let res = app.oneshot(http::Request::get("/health").body(Body::empty()).unwrap()).await.unwrap();
    /// assert!(!res.headers().contains_key("x-trace-id")); // no span, so no trace id to hand back
    /// # }
    /// ```
    pub fn exclude(self, route: &str) -> Self {
        self.update(|c| c.excluded.push(route.into()))
    }

    /// Samples this route template (or path) at `ratio` (0.0 to 1.0) on top of the SDK sampler.
    /// A request left out gets no span, and its context is marked not sampled, so nothing beneath
    /// it is recorded either.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// let app: Router = Router::new()
    ///     .route("/ready", get(|| async { "ok" }))
    ///     .layer(tower_trace::TraceLayer::new().sample_route("/ready", 0.1)); // one probe in ten
    /// ```
    pub fn sample_route(self, route: &str, ratio: f64) -> Self {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        self.update(|c| c.route_ratios.push((route.into(), ratio)))
    }

    /// Copies these baggage entries from the caller onto the server span and every adapter span
    /// beneath it (as context attributes). Only allow-listed keys are ever copied; public
    /// endpoints copy none.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use axum::{body::Body, routing::get, Router};
    /// use tower::ServiceExt;
    /// use trace_core::testing::SpanDataExt;
    ///
    /// let pipeline = trace_core::testing::install();
    /// let app = Router::new()
    ///     .route("/orders", get(|| async { "[]" }))
    ///     .layer(tower_trace::TraceLayer::new().baggage_attributes(["tenant.id"]));
    /// let req = http::Request::get("/orders")
    ///     .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    ///     .header("baggage", "tenant.id=acme,session=secret")
    ///     .body(Body::empty())
    ///     .unwrap();
    /// let res = app.oneshot(req).await.unwrap();
    /// drop(res); // the span ends with the response body
    ///
    /// let trace_id =
    ///     opentelemetry::trace::TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    /// let trace = pipeline.wait_for_spans(trace_id, 1);
    /// let span = trace.span("GET /orders");
    /// assert_eq!(span.str_attr("tenant.id"), "acme");
    /// assert!(span.attr("session").is_none()); // not allow-listed
    /// # }
    /// ```
    pub fn baggage_attributes<I, S>(self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let keys: Vec<opentelemetry::Key> = keys
            .into_iter()
            .map(|k| opentelemetry::Key::new(k.into()))
            .collect();
        self.update(|c| c.baggage_keys = keys)
    }

    /// Treats every request as coming from an untrusted caller: a new trace is started, and the
    /// caller's context (if any) is only linked; its baggage is dropped.
    ///
    /// ```
    /// // an API on the internet: a caller's traceparent is linked, never trusted as the parent
    /// let layer = tower_trace::TraceLayer::new().public_endpoint(true);
    /// ```
    pub fn public_endpoint(self, public: bool) -> Self {
        self.update(|c| c.public = if public { Public::Always } else { Public::No })
    }

    /// Like [`public_endpoint`](Self::public_endpoint), decided per request.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use tower_trace::TraceLayer;
    ///
    /// // requests through the public ingress carry this header; internal callers do not
    /// let layer = TraceLayer::new().public_endpoint_fn(|parts| parts.headers.contains_key("x-from-ingress"));
    /// let app: Router = Router::new().route("/", get(|| async { "hi" })).layer(layer);
    /// ```
    pub fn public_endpoint_fn(
        self,
        f: impl Fn(&http::request::Parts) -> bool + Send + Sync + 'static,
    ) -> Self {
        let f: PublicEndpointFn = Arc::new(f);
        self.update(|c| c.public = Public::When(f))
    }
}

impl<S, M> Layer<S> for TraceLayer<M> {
    type Service = TraceService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService::new(inner, self.config.clone())
    }
}
