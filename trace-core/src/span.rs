//! What every span family shares: the one rule for recording a failure (status Error with the message, `error.type`, and an `exception` event).

use std::borrow::Cow;

use opentelemetry::trace::{Span, SpanRef, Status};
use opentelemetry::{KeyValue, StringValue};

use crate::attributes::{ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE};
use crate::limits::truncate;

/// Ends a span held in a context at [`clock::now`](crate::clock::now) (what `SpanRef::end`
/// does with `SystemTime::now`).
///
/// ```
/// use opentelemetry::trace::TraceContextExt;
/// let cx = opentelemetry::Context::current();
/// trace_core::span::end(&cx.span());
/// ```
#[inline]
pub fn end(span: &SpanRef<'_>) {
    span.end_with_timestamp(crate::clock::now());
}

/// The type name of `T` without generic parameters (`std::io::error::Error`), used as `error.type`
/// (the conventions ask for the fully-qualified type name of an exception).
///
/// ```
/// use trace_core::span::short_type_name;
/// assert_eq!(short_type_name::<std::io::Error>(), "std::io::error::Error");
/// assert_eq!(short_type_name::<Vec<u8>>(), "alloc::vec::Vec");
/// ```
pub fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.split('<').next().unwrap_or(full)
}

fn failure_parts(
    error_type: StringValue,
    message: Option<Cow<'static, str>>,
    exception: bool,
) -> (KeyValue, Status, Option<Vec<KeyValue>>) {
    let msg: Cow<'static, str> = message
        .map(|m| Cow::Owned(truncate(&m).into_owned()))
        .unwrap_or(Cow::Borrowed(""));
    let event = exception.then(|| {
        vec![
            EXCEPTION_TYPE.kv(error_type.clone()),
            EXCEPTION_MESSAGE.kv(msg.clone().into_owned()),
        ]
    });
    (ERROR_TYPE.kv(error_type), Status::error(msg), event)
}

/// Marks an owned span as failed: status Error (with `message`), `error.type`, and, when `message`
/// is given, an `exception` event with `exception.type` and `exception.message`.
///
/// ```
/// use opentelemetry::trace::{Span as _, Status, Tracer as _};
/// use trace_core::testing::SpanDataExt;
///
/// let pipeline = trace_core::testing::install();
/// let mut span = opentelemetry::global::tracer("doc").start("publish");
/// trace_core::span::record_failure(&mut span, "broker_unavailable", Some("no broker answered".into()));
/// let trace_id = span.span_context().trace_id();
/// span.end();
/// let trace = pipeline.wait_for_spans(trace_id, 1);
/// let exported = trace.span("publish");
/// assert_eq!(exported.str_attr("error.type"), "broker_unavailable");
/// assert_eq!(exported.status, Status::error("no broker answered"));
/// assert_eq!(exported.events[0].name, "exception");
/// ```
pub fn record_failure<S: Span + ?Sized>(
    span: &mut S,
    error_type: impl Into<StringValue>,
    message: Option<Cow<'static, str>>,
) {
    if !span.is_recording() {
        return;
    }
    let exception = message.is_some();
    let (attr, status, event) = failure_parts(error_type.into(), message, exception);
    span.set_attribute(attr);
    if let Some(ev) = event {
        span.add_event_with_timestamp("exception", crate::clock::now(), ev);
    }
    span.set_status(status);
}

/// [`record_failure`] for a span held in a context.
///
/// ```
/// use opentelemetry::trace::TraceContextExt;
/// // a failure without a message: status Error and `error.type`, no `exception` event
/// opentelemetry::Context::map_current(|cx| {
///     trace_core::span::record_failure_ref(&cx.span(), "cancelled", None)
/// });
/// ```
pub fn record_failure_ref(
    span: &SpanRef<'_>,
    error_type: impl Into<StringValue>,
    message: Option<Cow<'static, str>>,
) {
    if !span.is_recording() {
        return;
    }
    let exception = message.is_some();
    let (attr, status, event) = failure_parts(error_type.into(), message, exception);
    span.set_attribute(attr);
    if let Some(ev) = event {
        span.add_event_with_timestamp("exception", crate::clock::now(), ev);
    }
    span.set_status(status);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_type_name::<std::io::Error>(), "std::io::error::Error");
        assert_eq!(short_type_name::<u32>(), "u32");
        assert_eq!(short_type_name::<Vec<u8>>(), "alloc::vec::Vec");
    }
}
