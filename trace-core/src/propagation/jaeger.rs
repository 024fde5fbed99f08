//! The Jaeger propagator (`OTEL_PROPAGATORS=jaeger`): the `uber-trace-id` header.

use std::sync::OnceLock;

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use super::b3::parse_span_id;

const HEADER: &str = "uber-trace-id";

/// Jaeger's `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}` propagation
/// (`OTEL_PROPAGATORS=jaeger`).
///
/// ```
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use trace_core::propagation::{HeaderExtractor, JaegerPropagator};
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("uber-trace-id", "5ce0d5b7a0f1b2c3:a1b2c3d4e5f60718:0:1".parse().unwrap());
/// let cx = JaegerPropagator::new().extract(&HeaderExtractor::new(&headers));
/// assert_eq!(cx.span().span_context().span_id().to_string(), "a1b2c3d4e5f60718");
/// ```
#[derive(Debug, Clone, Default)]
pub struct JaegerPropagator;

impl JaegerPropagator {
    /// A new propagator.
    ///
    /// ```
    /// opentelemetry::global::set_text_map_propagator(trace_core::propagation::JaegerPropagator::new());
    /// ```
    pub fn new() -> Self {
        Self
    }
}

fn parse(v: &str) -> Option<SpanContext> {
    let decoded;
    let v = if v.contains("%3A") || v.contains("%3a") {
        decoded = v.replace("%3A", ":").replace("%3a", ":");
        decoded.as_str()
    } else {
        v
    };
    let mut parts = v.trim().split(':');
    let trace = parts.next()?;
    let span = parts.next()?;
    let _parent = parts.next()?;
    let flags = parts.next()?;
    if parts.next().is_some() || trace.is_empty() || trace.len() > 32 {
        return None;
    }
    if !trace.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let trace_id = u128::from_str_radix(trace, 16).ok().filter(|t| *t != 0)?;
    let span = format!("{span:0>16}");
    let span_id = parse_span_id(&span)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let flags = if flags & 0x01 != 0 || flags & 0x02 != 0 {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Some(SpanContext::new(
        TraceId::from(trace_id),
        span_id,
        flags,
        true,
        TraceState::default(),
    ))
}

impl TextMapPropagator for JaegerPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            let flags = if sc.is_sampled() { "1" } else { "0" };
            injector.set(
                HEADER,
                format!("{}:{}:0:{}", sc.trace_id(), sc.span_id(), flags),
            );
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extractor.get(HEADER).and_then(parse) {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        static FIELDS: OnceLock<Vec<String>> = OnceLock::new();
        FieldIter::new(FIELDS.get_or_init(|| vec![HEADER.to_string()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn parses_and_injects() {
        let p = JaegerPropagator::new();
        let mut m: HashMap<String, String> = HashMap::new();
        m.insert(
            HEADER.into(),
            "4bf92f3577b34da6a3ce929d0e0e4736%3A00f067aa0ba902b7:0:1".into(),
        );
        let cx = p.extract_with_context(&Context::new(), &m);
        assert!(cx.span().span_context().is_sampled());
        let mut out: HashMap<String, String> = HashMap::new();
        p.inject_context(&cx, &mut out);
        assert_eq!(
            out[HEADER],
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"
        );
        m.insert(HEADER.into(), "nothex:1:0:1".into());
        assert!(!p
            .extract_with_context(&Context::new(), &m)
            .span()
            .span_context()
            .is_valid());
    }
}
