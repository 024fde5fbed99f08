//! [`TraceService`]: opens the span, runs the inner service in its context.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use opentelemetry::trace::{Link, Span as _, TraceContextExt};
use opentelemetry::Context;
use tower_service::Service;
use trace_core::http_server::IncomingRequest;
use trace_core::propagation::extract_from_headers;
use trace_core::tracer::SpanHandle;

use std::marker::PhantomData;

use crate::body::{BodyMode, Wrapped};
use crate::config::{Config, Public};
use crate::future::ResponseFuture;
use crate::sampling;

/// The service made by [`TraceLayer`](crate::TraceLayer); `M` is how it hands back the response
/// body ([`Wrapped`] or [`AxumBody`](crate::AxumBody)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use axum::{body::Body, routing::get, Router};
/// use opentelemetry::trace::{SpanKind, TraceId};
/// use tower::ServiceExt;
/// use trace_core::testing::SpanDataExt;
///
/// let pipeline = trace_core::testing::install();
/// let app = Router::new()
///     .route("/users/{id}", get(|| async { "ada" }))
///     .layer(tower_trace::TraceLayer::new().axum_body());
/// let req = http::Request::get("/users/42?sig=c2VjcmV0").body(Body::empty()).unwrap();
/// let res = app.oneshot(req).await.unwrap();
/// let trace_id = TraceId::from_hex(res.headers()["x-trace-id"].to_str().unwrap()).unwrap();
/// drop(res);
///
/// let trace = pipeline.wait_for_spans(trace_id, 1);
/// let span = trace.span("GET /users/{id}");
/// assert_eq!(span.span_kind, SpanKind::Server);
/// assert_eq!(span.str_attr("http.route"), "/users/{id}");
/// assert_eq!(span.str_attr("url.query"), "sig=REDACTED"); // a signed-URL parameter
/// assert_eq!(span.int_attr("http.response.status_code"), 200);
/// # }
/// ```
pub struct TraceService<S, M = Wrapped> {
    inner: S,
    config: Arc<Config>,
    /// `S::call` runs none of the application's code (see [`call_is_lazy`]).
    lazy_call: bool,
    mode: PhantomData<fn() -> M>,
}

impl<S: Clone, M> Clone for TraceService<S, M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
            lazy_call: self.lazy_call,
            mode: PhantomData,
        }
    }
}

impl<S: std::fmt::Debug, M> std::fmt::Debug for TraceService<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

impl<S, M> TraceService<S, M> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        Self {
            inner,
            config,
            lazy_call: call_is_lazy::<S>(),
            mode: PhantomData,
        }
    }

    /// `inner.call(req)` in the request's context `cx`, so that code it runs at once (logs,
    /// spans) is on the request's trace; a service whose `call` runs no such code is called as it
    /// is (its work runs when its future is polled, in the context the response future enters).
    /// Inlined: the request is not moved once more.
    #[inline(always)]
    fn call_in<R>(&mut self, cx: &Context, req: R) -> S::Future
    where
        S: Service<R>,
    {
        if self.lazy_call {
            self.inner.call(req)
        } else {
            let _g = cx.clone().attach();
            self.inner.call(req)
        }
    }

    /// The response future of a request whose server span the tracer has opened (recording or
    /// not) under `parent`.
    #[inline(always)]
    fn call_spanned<R>(
        &mut self,
        span: SpanHandle,
        parent: &Context,
        req: R,
    ) -> ResponseFuture<S::Future, M>
    where
        S: Service<R>,
    {
        // (asked of the span itself: through the context it would take the span's lock)
        let recording = span.is_recording();
        let cx = span.into_context(parent);
        if recording {
            let config = self.config.clone();
            ResponseFuture::traced(cx, config, |cx| self.call_in(cx, req))
        } else {
            self.call_unsampled(cx, req)
        }
    }

    /// The response future of a request that is not sampled: `inner` called in `cx`, the trace
    /// id to write back taken from it.
    #[inline(always)]
    fn call_unsampled<R>(&mut self, cx: Context, req: R) -> ResponseFuture<S::Future, M>
    where
        S: Service<R>,
    {
        let trace_id = cx.span().span_context().trace_id();
        let header = self.config.trace_id_header.clone();
        ResponseFuture::unsampled(cx, trace_id, header, |cx| self.call_in(cx, req))
    }
}

/// Whether `S::call` is known to run none of the application's code: axum's `Route`, the service
/// every `Router::layer` and `MethodRouter::layer` wraps, only makes a future that calls its
/// service when polled. (The names come from the same compiler run: no text is assumed.)
fn call_is_lazy<S>() -> bool {
    #[cfg(feature = "axum")]
    {
        std::any::type_name::<S>() == std::any::type_name::<axum::routing::Route>()
    }
    #[cfg(not(feature = "axum"))]
    {
        false
    }
}

#[cfg(feature = "axum")]
fn route<B>(req: &Request<B>) -> Option<&str> {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str())
}

#[cfg(not(feature = "axum"))]
fn route<B>(_req: &Request<B>) -> Option<&str> {
    None
}

#[cfg(feature = "axum")]
fn peer<B>(req: &Request<B>) -> Option<SocketAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .or_else(|| req.extensions().get::<crate::PeerAddr>().map(|p| p.0))
}

#[cfg(not(feature = "axum"))]
fn peer<B>(req: &Request<B>) -> Option<SocketAddr> {
    req.extensions().get::<crate::PeerAddr>().map(|p| p.0)
}

/// Whether `parent` is a caller's context that says "not sampled".
#[inline]
fn caller_unsampled(parent: &Context) -> bool {
    let span = parent.span();
    let sc = span.span_context();
    sc.is_valid() && !sc.is_sampled()
}

/// Whether the caller's flags alone say the request is not sampled, and the tracer follows
/// them: its context is then carried as it is.
#[inline]
fn caller_drops(config: &Config, parent: &Context) -> bool {
    caller_unsampled(parent) && config.tracer.drops_under(parent)
}

fn decide_public<B>(f: &crate::config::PublicEndpointFn, req: Request<B>) -> (bool, Request<B>) {
    let (parts, body) = req.into_parts();
    let p = f(&parts);
    (p, Request::from_parts(parts, body))
}

impl<S, ReqBody, ResBody, M> Service<Request<ReqBody>> for TraceService<S, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: std::fmt::Display,
    M: BodyMode<ResBody>,
{
    type Response = Response<M::Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, M>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        // (the request moves only when a predicate must see its parts)
        let public = match &config.public {
            Public::No => false,
            Public::Always => true,
            Public::When(f) => {
                let (public, r) = decide_public(f, req);
                req = r;
                public
            }
        };
        let remote = extract_from_headers(req.headers());
        if !public && config.route_blind() && config.tracer.drops_under(&remote) {
            // Not sampled whatever the request holds (the caller's flags say so, or the sampler
            // keeps no root), and no setting reads the route or the baggage: neither the route
            // nor the peer is looked up.
            if caller_unsampled(&remote) {
                // the caller's context as it is
                return self.call_unsampled(remote, req);
            }
            // a root, or a caller whose "sampled" this sampler overrules: the tracer makes the
            // not-sampled span context (its trace id for the logs and `x-trace-id`, flags 00 for
            // the calls beneath); the request's parts are not read, the span is dropped first
            let parts = IncomingRequest::from_request(&req, None, None);
            let span = config
                .schema
                .start(&config.tracer, &parts, &remote, Vec::new());
            return self.call_spanned(span, &remote, req);
        }
        let matched = route(&req);
        let key = matched.unwrap_or_else(|| req.uri().path());

        if config.is_excluded(key) {
            let cx = if public { Context::new() } else { remote };
            return ResponseFuture::untraced(cx, |cx| self.call_in(cx, req));
        }

        let (parent, links) = if public {
            let sc = remote.span().span_context().clone();
            let links = if sc.is_valid() {
                vec![Link::with_context(sc)]
            } else {
                Vec::new()
            };
            (Context::new(), links)
        } else {
            let from_baggage =
                trace_core::context_attributes::from_baggage(&remote, &config.baggage_keys);
            if from_baggage.is_empty() {
                (remote, Vec::new())
            } else {
                (
                    trace_core::context_attributes::merge(&remote, from_baggage),
                    Vec::new(),
                )
            }
        };

        if let Some(ratio) = config.route_ratio(key) {
            if !sampling::keep(&parent, ratio) {
                return self.call_unsampled(sampling::unsampled(&parent), req);
            }
        }

        if caller_drops(config, &parent) {
            // Not sampled, known from the caller's flags alone: carry its context as it is.
            // (Without a caller there is no trace id yet: the tracer makes one below, so logs
            // and x-trace-id still have it. A caller's "sampled" that this sampler overrules
            // also goes below: the tracer makes the not-sampled span context, flags 00.)
            return self.call_unsampled(parent, req);
        }

        let span = config.schema.start(
            &config.tracer,
            &IncomingRequest::from_request(&req, matched, peer(&req)),
            &parent,
            links,
        );
        self.call_spanned(span, &parent, req)
    }
}

#[cfg(all(test, feature = "axum"))]
mod tests {
    use super::call_is_lazy;

    #[test]
    fn axum_routes_are_called_without_entering_the_context() {
        assert!(call_is_lazy::<axum::routing::Route>());
        // a router is not a route; nor is anything else
        assert!(!call_is_lazy::<axum::Router>());
        assert!(!call_is_lazy::<tower::util::BoxCloneSyncService<(), (), ()>>());
    }
}
