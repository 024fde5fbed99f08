//! [`ResponseBody`]: carries the span until the body's last frame, an error, or its drop.

use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http_body::{Body, Frame, SizeHint};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use pin_project_lite::pin_project;
use trace_core::span::{record_failure_ref, short_type_name};

pin_project! {
    /// A response body that ends the request's span when it is finished: at its last frame, at an
    /// error (recorded on the span), or when it is dropped. Streaming and SSE responses are timed
    /// to their end.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use http_body_util::BodyExt;
    /// use tower::ServiceExt;
    /// use tower_trace::{ResponseBody, TraceLayer};
    ///
    /// trace_core::testing::install();
    /// // a plain `http` service: its body comes back wrapped (the default body mode)
    /// let svc = tower::ServiceBuilder::new().layer(TraceLayer::new()).service_fn(
    ///     |_req: http::Request<String>| async {
    ///         let body = http_body_util::Full::new(bytes::Bytes::from_static(b"done"));
    ///         Ok::<_, std::convert::Infallible>(http::Response::new(body))
    ///     },
    /// );
    /// let res: http::Response<ResponseBody<_>> = svc.oneshot(http::Request::new(String::new())).await.unwrap();
    /// // the span ends when the last frame has been read
    /// let bytes = res.into_body().collect().await.unwrap().to_bytes();
    /// assert_eq!(&bytes[..], b"done");
    /// # }
    /// ```
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        cx: Option<Context>,
    }

    impl<B> PinnedDrop for ResponseBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(cx) = this.project().cx.take() {
                trace_core::span::end(&cx.span());
            }
        }
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn traced(inner: B, cx: Context) -> Self {
        Self {
            inner,
            cx: Some(cx),
        }
    }

    pub(crate) fn untraced(inner: B) -> Self {
        Self { inner, cx: None }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        task: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        // A body that knows its exact length is a buffer: polling it runs no user code, so the
        // span's context is entered only for streaming bodies (SSE, streams), whose code may log
        // or open spans.
        let enter = this.cx.is_some() && this.inner.size_hint().exact().is_none();
        let polled = if enter {
            let _guard = this.cx.as_ref().map(|cx| cx.clone().attach());
            this.inner.as_mut().poll_frame(task)
        } else {
            this.inner.as_mut().poll_frame(task)
        };
        match &polled {
            Poll::Ready(None) => {
                if let Some(cx) = this.cx.take() {
                    trace_core::span::end(&cx.span());
                }
            }
            // the last frame is out: the span ends now, not at the poll that reports the end
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => {
                if let Some(cx) = this.cx.take() {
                    trace_core::span::end(&cx.span());
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(cx) = this.cx.take() {
                    let span = cx.span();
                    record_failure_ref(
                        &span,
                        short_type_name::<B::Error>(),
                        Some(Cow::Owned(e.to_string())),
                    );
                    trace_core::span::end(&span);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How [`TraceService`](crate::TraceService) hands back the response body: a type parameter of
/// [`TraceLayer`](crate::TraceLayer), chosen with its builder. Sealed: [`Wrapped`] (the default)
/// or [`AxumBody`].
///
/// ```
/// use tower_trace::{BodyMode, ResponseBody, Wrapped};
///
/// /// The body type a layer in mode `M` returns around a `String` body.
/// type Out<M> = <M as BodyMode<String>>::Body;
/// let _: Option<Out<Wrapped>> = None::<ResponseBody<String>>;
/// ```
pub trait BodyMode<B>: sealed::Sealed {
    /// The response body type the service returns.
    type Body;
    /// The body of a response whose span ends with it.
    #[doc(hidden)]
    fn traced(body: B, cx: Context) -> Self::Body;
    /// The body of a response without a span (excluded route, not sampled).
    #[doc(hidden)]
    fn untraced(body: B) -> Self::Body;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Wrapped {}
    #[cfg(feature = "axum")]
    impl Sealed for super::AxumBody {}
}

/// Every response body wrapped in [`ResponseBody`]: for any `http` service (hyper, tonic, axum).
///
/// ```
/// use tower_trace::{TraceLayer, Wrapped};
/// let _layer: TraceLayer<Wrapped> = TraceLayer::new();
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Wrapped;

impl<B> BodyMode<B> for Wrapped {
    type Body = ResponseBody<B>;
    #[inline]
    fn traced(body: B, cx: Context) -> Self::Body {
        ResponseBody::traced(body, cx)
    }
    #[inline]
    fn untraced(body: B) -> Self::Body {
        ResponseBody::untraced(body)
    }
}

/// axum's own `Body` (see [`TraceLayer::axum_body`](crate::TraceLayer::axum_body)): a response
/// with a span gets its body boxed into axum's `Body` here, as `Router::layer` would box any
/// other body type; a response without one (an excluded route, a request not sampled) keeps the
/// handler's body as it is, with no box and no wrapper to poll through.
///
/// ```
/// use tower_trace::{AxumBody, TraceLayer};
/// let _layer: TraceLayer<AxumBody> = TraceLayer::new().exclude("/health").axum_body();
/// ```
#[cfg(feature = "axum")]
#[derive(Debug, Clone, Copy, Default)]
pub struct AxumBody;

#[cfg(feature = "axum")]
impl<B> BodyMode<B> for AxumBody
where
    B: Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError> + std::fmt::Display,
{
    type Body = axum::body::Body;
    #[inline]
    fn traced(body: B, cx: Context) -> Self::Body {
        axum::body::Body::new(ResponseBody::traced(body, cx))
    }
    #[inline]
    fn untraced(body: B) -> Self::Body {
        // (an axum `Body` comes back as it is: `Body::new` boxes only other types)
        axum::body::Body::new(body)
    }
}
