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

use std::marker::PhantomData;

use crate::body::{BodyMode, Wrapped};
use crate::config::{Config, Public};
use crate::future::ResponseFuture;
use crate::sampling;

/// The service made by [`TraceLayer`](crate::TraceLayer); `M` is how it hands back the response
/// body ([`Wrapped`] or [`AxumBody`](crate::AxumBody)).
pub struct TraceService<S, M = Wrapped> {
    inner: S,
    config: Arc<Config>,
    mode: PhantomData<fn() -> M>,
}

impl<S: Clone, M> Clone for TraceService<S, M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
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
            mode: PhantomData,
        }
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
        let matched = route(&req);
        let key = matched.unwrap_or_else(|| req.uri().path());

        if config.is_excluded(key) {
            let cx = if public { Context::new() } else { remote };
            let fut = {
                let _g = cx.clone().attach();
                self.inner.call(req)
            };
            return ResponseFuture::untraced(fut, cx);
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
                let cx = sampling::unsampled(&parent);
                let trace_id = cx.span().span_context().trace_id();
                let fut = {
                    let _g = cx.clone().attach();
                    self.inner.call(req)
                };
                return ResponseFuture::unsampled(fut, cx, trace_id, config);
            }
        }

        if parent.span().span_context().is_valid() && config.tracer.drops_under(&parent) {
            // Not sampled, known from the caller's flags alone: carry its context as it is.
            // (Without a caller there is no trace id yet: the tracer makes one below, so logs
            // and x-trace-id still have it.)
            let trace_id = parent.span().span_context().trace_id();
            let fut = {
                let _g = parent.clone().attach();
                self.inner.call(req)
            };
            return ResponseFuture::unsampled(fut, parent, trace_id, config);
        }

        let span = config.schema.start(
            &config.tracer,
            &IncomingRequest::from_request(&req, matched, peer(&req)),
            &parent,
            links,
        );
        let recording = span.is_recording();
        let trace_id = span.span_context().trace_id();
        let cx = span.into_context(&parent);
        let fut = {
            let _g = cx.clone().attach();
            self.inner.call(req)
        };
        if recording {
            ResponseFuture::traced(fut, cx, config.clone())
        } else {
            ResponseFuture::unsampled(fut, cx, trace_id, config)
        }
    }
}
