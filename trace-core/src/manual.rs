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
pub fn record_error<E: Error + ?Sized>(err: &E) {
    record_error_as(short_type_name::<E>(), err);
}

/// Records `err` on the current span with the given `error.type`.
pub fn record_error_as<E: Error + ?Sized>(error_type: impl Into<StringValue>, err: &E) {
    let message = Some(Cow::Owned(err.to_string()));
    Context::map_current(|cx| record_failure_ref(&cx.span(), error_type, message));
}

/// Adds an event with attributes to the current span.
pub fn add_event(name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
    Context::map_current(|cx| {
        let span = cx.span();
        if span.is_recording() {
            span.add_event_with_timestamp(name, crate::clock::now(), attributes);
        }
    });
}

/// Sets attributes on the current span.
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
#[derive(Debug)]
pub struct Operation {
    name: Cow<'static, str>,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
}

impl Operation {
    /// An operation named `name`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name: name.into(),
            kind: SpanKind::Internal,
            attributes: Vec::new(),
        }
    }

    /// Sets the span kind.
    pub fn with_kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds an attribute.
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
    pub async fn run<F: Future>(self, fut: F) -> F::Output {
        let cx = self.start();
        let out = fut.with_context(cx.clone()).await;
        crate::span::end(&cx.span());
        out
    }

    /// Runs `fut` inside the span and records an `Err` on it.
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
