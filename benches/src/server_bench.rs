//! The server benchmarks' application and request, shared by the criterion group
//! (`benches/server.rs`), the callgrind runner (`server_profile`) and the interleaved runner
//! (`paired server`), so all three time the same request through the same router.

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A caller's `traceparent` with the sampled flag.
pub const SAMPLED_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// A caller's `traceparent` with flag `00` (not sampled).
pub const UNSAMPLED_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

/// The handler: a short formatted body.
#[inline]
pub async fn handler(axum::extract::Path(id): axum::extract::Path<u32>) -> String {
    format!("user {id}")
}

/// `GET /users/{id}`, unprepared (layer it, then [`served`]).
pub fn router() -> Router {
    Router::new().route("/users/{id}", get(handler))
}

/// The router as `axum::serve` runs it: `with_state(())` turns every handler into a route once,
/// instead of on each request (what calling an unconverted `Router` directly does).
pub fn served(router: Router) -> Router {
    router.with_state(())
}

/// `GET /users/42?page=1` with a host and a user agent, and `traceparent` when given.
#[inline]
pub fn request(traceparent: Option<&str>) -> Request<Body> {
    let mut b = Request::get("http://bench.local/users/42?page=1")
        .header("host", "bench.local")
        .header("user-agent", "bench/1.0");
    if let Some(tp) = traceparent {
        b = b.header("traceparent", tp);
    }
    b.body(Body::empty()).expect("a valid request")
}

/// One request through `app`, its body read to the end.
#[inline]
pub async fn run(app: &Router, traceparent: Option<&str>) {
    let res = app
        .clone()
        .oneshot(request(traceparent))
        .await
        .expect("the router is infallible");
    let body = res.into_body().collect().await.expect("the body");
    std::hint::black_box(body);
}

/// tower-trace with a tracer whose sampler keeps nothing (`traceidratio` 0, no caller).
pub fn ratio0_layer() -> tower_trace::TraceLayer {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_sampler(opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(0.0))
        .build();
    tower_trace::TraceLayer::new().with_tracer(trace_core::tracer::Tracer::from_provider(
        "tower-trace",
        &provider,
        Some(trace_core::tracer::KnownSampler::TraceIdRatio(0.0)),
    ))
}

/// The least a layer that makes the caller's context current can do: read it from the headers
/// (`trace_core::propagation::extract_from_headers`) and poll the inner future inside it
/// (`opentelemetry::context::FutureExt::with_context`). No span, no response header: what
/// propagation alone costs a request, the floor under any layer that continues the caller's
/// trace.
#[derive(Clone, Copy, Debug, Default)]
pub struct PropagateLayer;

impl<S> tower::Layer<S> for PropagateLayer {
    type Service = Propagate<S>;
    fn layer(&self, inner: S) -> Propagate<S> {
        Propagate(inner)
    }
}

/// The service of [`PropagateLayer`].
#[derive(Clone, Debug)]
pub struct Propagate<S>(S);

impl<S, B> tower::Service<Request<B>> for Propagate<S>
where
    S: tower::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = opentelemetry::context::WithContext<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        use opentelemetry::context::FutureExt;
        let cx = trace_core::propagation::extract_from_headers(req.headers());
        self.0.call(req).with_context(cx)
    }
}
