//! Manual instrumentation: trace an operation, record an error, add an event, exactly as the
//! adapters do. Works on the current span whatever made it: a `tracing` span (`#[instrument]`,
//! `info_span!`) bridged by `tracing-opentelemetry`, or a span opened by an adapter.
//!
//! ```
//! use trace_core::manual::{record_error, add_event, Operation};
//! use opentelemetry::KeyValue;
//!
//! # async fn charge() -> Result<(), std::io::Error> { Ok(()) }
//! # async fn run() -> Result<(), std::io::Error> {
//! // An INTERNAL span around an async block; an `Err` is recorded on it.
//! Operation::new("charge card")
//!     .with_attribute(KeyValue::new("payment.provider", "acme"))
//!     .run_result(async {
//!         add_event("card validated", vec![KeyValue::new("card.brand", "visa")]);
//!         charge().await
//!     })
//!     .await?;
//!
//! // Inside `#[instrument]` code: mark the current span as failed.
//! if let Err(e) = charge().await {
//!     record_error(&e);
//! }
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::error::Error;
use std::future::Future;

use opentelemetry::context::FutureExt;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue, StringValue};

use crate::span::{record_failure_ref, short_type_name};

/// Records `err` on the current span: status Error with the message, `error.type` = the error's
/// type name, and an `exception` event. Use [`record_error_as`] to choose `error.type`.
///
/// ```
/// use opentelemetry::trace::{Status, TraceContextExt};
/// use trace_core::testing::SpanDataExt;
///
/// let pipeline = trace_core::testing::install();
/// let span = tracing::info_span!("load config");
/// let trace_id = span.in_scope(|| {
///     let err = std::fs::read("/no/such/file").unwrap_err();
///     trace_core::manual::record_error(&err);
///     opentelemetry::Context::current().span().span_context().trace_id()
/// });
/// drop(span);
/// let exported = pipeline.wait_for_spans(trace_id, 1);
/// let span = exported.span("load config");
/// assert!(matches!(span.status, Status::Error { .. }));
/// assert_eq!(span.str_attr("error.type"), "std::io::error::Error"); // its full type name
/// assert_eq!(span.events[0].name, "exception");
/// ```
pub fn record_error<E: Error + ?Sized>(err: &E) {
    record_error_as(short_type_name::<E>(), err);
}

/// Records `err` on the current span with the given `error.type`.
///
/// ```
/// # fn charge() -> Result<(), std::io::Error> { Err(std::io::ErrorKind::TimedOut.into()) }
/// if let Err(e) = charge() {
///     // a stable, low-cardinality error.type instead of the Rust type name
///     trace_core::manual::record_error_as("payment_timeout", &e);
/// }
/// ```
pub fn record_error_as<E: Error + ?Sized>(error_type: impl Into<StringValue>, err: &E) {
    let message = Some(Cow::Owned(err.to_string()));
    Context::map_current(|cx| record_failure_ref(&cx.span(), error_type, message));
}

/// Adds an event with attributes to the current span (nothing when it does not record).
///
/// ```
/// use opentelemetry::KeyValue;
/// use trace_core::manual::{add_event, Operation};
///
/// let pipeline = trace_core::testing::install();
/// let trace_id = Operation::new("import").in_scope(|| {
///     add_event("batch parsed", vec![KeyValue::new("batch.rows", 120_i64)]);
///     opentelemetry::trace::TraceContextExt::span(&opentelemetry::Context::current())
///         .span_context()
///         .trace_id()
/// });
/// let span = pipeline.wait_for_spans(trace_id, 1).span("import").clone();
/// assert_eq!(span.events[0].name, "batch parsed");
/// assert_eq!(span.events[0].attributes, [KeyValue::new("batch.rows", 120_i64)]);
/// ```
pub fn add_event(name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
    Context::map_current(|cx| {
        let span = cx.span();
        if span.is_recording() {
            span.add_event_with_timestamp(name, crate::clock::now(), attributes);
        }
    });
}

/// Sets attributes on the current span (nothing when it does not record).
///
/// ```
/// use opentelemetry::KeyValue;
/// use trace_core::testing::SpanDataExt;
///
/// let pipeline = trace_core::testing::install();
/// let span = tracing::info_span!("checkout");
/// let trace_id = span.in_scope(|| {
///     trace_core::manual::set_attributes([KeyValue::new("cart.items", 3_i64)]);
///     opentelemetry::trace::TraceContextExt::span(&opentelemetry::Context::current())
///         .span_context()
///         .trace_id()
/// });
/// drop(span);
/// let exported = pipeline.wait_for_spans(trace_id, 1);
/// assert_eq!(exported.span("checkout").int_attr("cart.items"), 3);
/// ```
pub fn set_attributes(attributes: impl IntoIterator<Item = KeyValue>) {
    Context::map_current(|cx| {
        let span = cx.span();
        if span.is_recording() {
            span.set_attributes(attributes);
        }
    });
}

/// An operation traced as its own span (kind INTERNAL unless set), child of the current span,
/// carrying the context attributes.
///
/// ```
/// use opentelemetry::trace::SpanKind;
/// use opentelemetry::KeyValue;
/// use trace_core::manual::Operation;
///
/// let pipeline = trace_core::testing::install();
/// let trace_id = Operation::new("render invoice")
///     .with_kind(SpanKind::Internal)
///     .with_attribute(KeyValue::new("invoice.pages", 2_i64))
///     .in_scope(|| {
///         opentelemetry::trace::TraceContextExt::span(&opentelemetry::Context::current())
///             .span_context()
///             .trace_id()
///     });
/// let span = pipeline.wait_for_spans(trace_id, 1).span("render invoice").clone();
/// assert_eq!(span.span_kind, SpanKind::Internal);
/// ```
#[derive(Debug)]
pub struct Operation {
    name: Cow<'static, str>,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
}

impl Operation {
    /// An operation named `name`.
    ///
    /// ```
    /// let op = trace_core::manual::Operation::new("rebuild search index");
    /// ```
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name: name.into(),
            kind: SpanKind::Internal,
            attributes: Vec::new(),
        }
    }

    /// Sets the span kind.
    ///
    /// ```
    /// use opentelemetry::trace::SpanKind;
    /// // a call to a system no adapter covers (an SDK for a cloud service)
    /// let op = trace_core::manual::Operation::new("s3 PutObject").with_kind(SpanKind::Client);
    /// ```
    pub fn with_kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds an attribute.
    ///
    /// ```
    /// use opentelemetry::KeyValue;
    /// let op = trace_core::manual::Operation::new("resize image").with_attribute(KeyValue::new("image.width", 1024_i64));
    /// ```
    pub fn with_attribute(mut self, kv: KeyValue) -> Self {
        self.attributes.push(kv);
        self
    }

    fn start(self) -> Context {
        let parent = Context::current();
        let tracer = crate::tracer::Tracer::new("trace-core");
        let (name, attrs) = (self.name, self.attributes);
        tracer
            .start(
                self.kind,
                &parent,
                Vec::new(),
                || (name, attrs),
                |a| a.extend_from_slice(crate::context_attributes::of(&parent)),
            )
            .into_context(&parent)
    }

    /// Runs `fut` inside the span; the span ends when the future completes or is dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let n = trace_core::manual::Operation::new("compute").run(async { 6 * 7 }).await;
    /// assert_eq!(n, 42);
    /// # }
    /// ```
    pub async fn run<F: Future>(self, fut: F) -> F::Output {
        let cx = self.start();
        let out = fut.with_context(cx.clone()).await;
        crate::span::end(&cx.span());
        out
    }

    /// Runs `fut` inside the span and records an `Err` on it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let r: Result<(), std::io::Error> = trace_core::manual::Operation::new("load")
    ///     .run_result(async { Err(std::io::ErrorKind::NotFound.into()) })
    ///     .await;
    /// assert!(r.is_err()); // the caller's error, unchanged; the span records it
    /// # }
    /// ```
    pub async fn run_result<F, T, E>(self, fut: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: Error,
    {
        let cx = self.start();
        let out = fut.with_context(cx.clone()).await;
        if let Err(e) = &out {
            record_failure_ref(
                &cx.span(),
                short_type_name::<E>(),
                Some(Cow::Owned(e.to_string())),
            );
        }
        crate::span::end(&cx.span());
        out
    }

    /// Runs a synchronous closure inside the span.
    ///
    /// ```
    /// let total = trace_core::manual::Operation::new("sum").in_scope(|| (1..=10).sum::<i32>());
    /// assert_eq!(total, 55);
    /// ```
    pub fn in_scope<T>(self, f: impl FnOnce() -> T) -> T {
        let cx = self.start();
        let out = {
            let _guard = cx.clone().attach();
            f()
        };
        crate::span::end(&cx.span());
        out
    }
}
