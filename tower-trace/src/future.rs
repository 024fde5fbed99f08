//! [`ResponseFuture`]: polls the inner service in the request's context and records the response.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use http::{HeaderName, HeaderValue, Response};
use opentelemetry::trace::{TraceContextExt, TraceId};
use opentelemetry::Context;
use pin_project_lite::pin_project;
use trace_core::span::{record_failure_ref, short_type_name};

use std::marker::PhantomData;

use crate::body::{BodyMode, Wrapped};
use crate::config::Config;

enum Kind {
    Traced(Arc<Config>),
    /// Not sampled: only the trace id header to write (its name, not the whole config: no
    /// shared reference count per request).
    Unsampled(Option<HeaderName>, TraceId),
    Untraced,
}

pin_project! {
    /// The response future of [`TraceService`](crate::TraceService): it polls the inner
    /// service's future in the request's context, records the response on the span, adds the
    /// trace id header, and hands the span on to the body.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tower::{Layer, Service, ServiceExt};
    /// let mut svc = tower_trace::TraceLayer::new().layer(tower::service_fn(|_req: http::Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
    /// }));
    /// let future: tower_trace::ResponseFuture<_> = svc.ready().await.unwrap().call(http::Request::new(()));
    /// let res = future.await.unwrap();
    /// assert_eq!(res.status(), 200);
    /// # }
    /// ```
    pub struct ResponseFuture<F, M = Wrapped> {
        #[pin]
        inner: F,
        cx: Option<Context>,
        kind: Kind,
        mode: PhantomData<fn() -> M>,
    }

    impl<F, M> PinnedDrop for ResponseFuture<F, M> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let (Some(cx), Kind::Traced(_)) = (this.cx.take(), &this.kind) {
                // Dropped before the response: a panic in the handler, or the caller went away
                // (cancellation is not an error).
                let span = cx.span();
                if std::thread::panicking() {
                    record_failure_ref(&span, "panic", Some(Cow::Borrowed("the handler panicked")));
                }
                trace_core::span::end(&span);
            }
        }
    }
}

impl<F, M> ResponseFuture<F, M> {
    // Each constructor takes the inner future's maker, not the future: made inside the struct
    // expression, the future (which holds the request until its first poll) is written where
    // the response future goes instead of being built aside and copied in.

    #[inline(always)]
    pub(crate) fn traced(
        cx: Context,
        config: Arc<Config>,
        inner: impl FnOnce(&Context) -> F,
    ) -> Self {
        Self {
            inner: inner(&cx),
            cx: Some(cx),
            kind: Kind::Traced(config),
            mode: PhantomData,
        }
    }

    #[inline(always)]
    pub(crate) fn unsampled(
        cx: Context,
        trace_id: TraceId,
        header: Option<HeaderName>,
        inner: impl FnOnce(&Context) -> F,
    ) -> Self {
        Self {
            inner: inner(&cx),
            cx: Some(cx),
            kind: Kind::Unsampled(header, trace_id),
            mode: PhantomData,
        }
    }

    #[inline(always)]
    pub(crate) fn untraced(cx: Context, inner: impl FnOnce(&Context) -> F) -> Self {
        Self {
            inner: inner(&cx),
            cx: Some(cx),
            kind: Kind::Untraced,
            mode: PhantomData,
        }
    }
}

fn trace_id_header<B>(name: Option<&HeaderName>, trace_id: TraceId, res: &mut Response<B>) {
    if let Some(name) = name {
        if trace_id != TraceId::INVALID {
            let hex = trace_core::intern::trace_id_hex(trace_id);
            if let Ok(v) = HeaderValue::from_bytes(&hex) {
                res.headers_mut().insert(name.clone(), v);
            }
        }
    }
}

impl<F, B, E, M> Future for ResponseFuture<F, M>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: std::fmt::Display,
    M: BodyMode<B>,
{
    type Output = Result<Response<M::Body>, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = if let Kind::Traced(_) = this.kind {
            let _guard = this.cx.as_ref().map(|cx| cx.clone().attach());
            ready!(this.inner.poll(task))
        } else {
            // Nothing reads the context once the response is there: it is moved in rather than
            // cloned, and taken back (from the thread, where it still is) only if the inner
            // future has to wait.
            let guard = this.cx.take().map(Context::attach);
            match this.inner.poll(task) {
                Poll::Ready(result) => result,
                Poll::Pending => {
                    if guard.is_some() {
                        *this.cx = Some(Context::current());
                    }
                    return Poll::Pending;
                }
            }
        };
        match (result, &*this.kind) {
            (Ok(res), Kind::Traced(config)) => {
                let cx = this.cx.take().unwrap_or_default();
                let trace_id = {
                    let span = cx.span();
                    config
                        .schema
                        .record_response(&span, res.status(), res.headers());
                    span.span_context().trace_id()
                };
                // the body carries the context on (moved, not shared)
                let mut res = res.map(|b| M::traced(b, cx));
                trace_id_header(config.trace_id_header.as_ref(), trace_id, &mut res);
                Poll::Ready(Ok(res))
            }
            (Ok(res), Kind::Unsampled(name, trace_id)) => {
                let mut res = res.map(M::untraced);
                trace_id_header(name.as_ref(), *trace_id, &mut res);
                Poll::Ready(Ok(res))
            }
            (Ok(res), Kind::Untraced) => Poll::Ready(Ok(res.map(M::untraced))),
            (Err(e), Kind::Traced(_)) => {
                let cx = this.cx.take().unwrap_or_default();
                let span = cx.span();
                record_failure_ref(
                    &span,
                    short_type_name::<E>(),
                    Some(Cow::Owned(e.to_string())),
                );
                trace_core::span::end(&span);
                Poll::Ready(Err(e))
            }
            (Err(e), _) => Poll::Ready(Err(e)),
        }
    }
}
