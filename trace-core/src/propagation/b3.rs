//! The Zipkin B3 propagator (`OTEL_PROPAGATORS=b3` single header, `b3multi` multiple headers).

use std::sync::OnceLock;

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

/// Which B3 header layout is written. Both layouts are read.
///
/// ```
/// use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
/// use opentelemetry::{propagation::TextMapPropagator, Context};
/// use trace_core::propagation::{B3Encoding, B3Propagator, HeaderInjector};
///
/// let sc = SpanContext::new(7_u128.into(), 9_u64.into(), TraceFlags::SAMPLED, false, TraceState::default());
/// let cx = Context::new().with_remote_span_context(sc);
/// let mut headers = http::HeaderMap::new();
/// B3Propagator::new(B3Encoding::Multiple).inject_context(&cx, &mut HeaderInjector(&mut headers));
/// assert_eq!(headers["x-b3-spanid"], "0000000000000009");
/// assert_eq!(headers["x-b3-sampled"], "1");
/// assert!(!headers.contains_key("b3"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum B3Encoding {
    /// One `b3` header: `{trace}-{span}-{sampled}`.
    Single,
    /// `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled`.
    Multiple,
}

/// B3 propagation (Zipkin): `OTEL_PROPAGATORS=b3` or `b3multi`.
///
/// ```
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use trace_core::propagation::{B3Encoding, B3Propagator, HeaderExtractor};
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-b3-traceid", "463ac35c9f6413ad".parse().unwrap()); // a 64-bit id
/// headers.insert("x-b3-spanid", "a2fb4a1d1a96d312".parse().unwrap());
/// headers.insert("x-b3-sampled", "1".parse().unwrap());
/// let cx = B3Propagator::new(B3Encoding::Single).extract(&HeaderExtractor::new(&headers));
/// let span = cx.span();
/// assert_eq!(span.span_context().trace_id().to_string(), "0000000000000000463ac35c9f6413ad");
/// assert!(span.span_context().is_sampled());
/// ```
#[derive(Debug, Clone)]
pub struct B3Propagator {
    encoding: B3Encoding,
}

impl B3Propagator {
    /// A propagator writing the given layout.
    ///
    /// ```
    /// let b3 = trace_core::propagation::B3Propagator::new(trace_core::propagation::B3Encoding::Single);
    /// ```
    pub fn new(encoding: B3Encoding) -> Self {
        Self { encoding }
    }
}

fn fields(encoding: B3Encoding) -> &'static [String] {
    static SINGLE: OnceLock<Vec<String>> = OnceLock::new();
    static MULTI: OnceLock<Vec<String>> = OnceLock::new();
    match encoding {
        B3Encoding::Single => SINGLE.get_or_init(|| vec!["b3".into()]),
        B3Encoding::Multiple => MULTI.get_or_init(|| {
            ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags"]
                .map(String::from)
                .to_vec()
        }),
    }
}

pub(super) fn parse_trace_id(s: &str) -> Option<TraceId> {
    if !(s.len() == 16 || s.len() == 32) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = u128::from_str_radix(s, 16).ok()?;
    (id != 0).then(|| TraceId::from(id))
}

pub(super) fn parse_span_id(s: &str) -> Option<SpanId> {
    if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = u64::from_str_radix(s, 16).ok()?;
    (id != 0).then(|| SpanId::from(id))
}

fn sampled_flag(s: Option<&str>) -> Option<TraceFlags> {
    match s {
        Some("1") | Some("d") | Some("true") => Some(TraceFlags::SAMPLED),
        Some("0") | Some("false") | None => Some(TraceFlags::default()),
        _ => None,
    }
}

fn extract_single(v: &str) -> Option<SpanContext> {
    let mut parts = v.trim().split('-');
    let trace_id = parse_trace_id(parts.next()?)?;
    let span_id = parse_span_id(parts.next()?)?;
    let flags = sampled_flag(parts.next())?;
    Some(SpanContext::new(
        trace_id,
        span_id,
        flags,
        true,
        TraceState::default(),
    ))
}

fn extract_multi(e: &dyn Extractor) -> Option<SpanContext> {
    let trace_id = parse_trace_id(e.get("x-b3-traceid")?.trim())?;
    let span_id = parse_span_id(e.get("x-b3-spanid")?.trim())?;
    let flags = if e.get("x-b3-flags").map(str::trim) == Some("1") {
        TraceFlags::SAMPLED
    } else {
        sampled_flag(e.get("x-b3-sampled").map(str::trim))?
    };
    Some(SpanContext::new(
        trace_id,
        span_id,
        flags,
        true,
        TraceState::default(),
    ))
}

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let sampled = if sc.is_sampled() { "1" } else { "0" };
        match self.encoding {
            B3Encoding::Single => injector.set(
                "b3",
                format!("{}-{}-{}", sc.trace_id(), sc.span_id(), sampled),
            ),
            B3Encoding::Multiple => {
                injector.set("x-b3-traceid", sc.trace_id().to_string());
                injector.set("x-b3-spanid", sc.span_id().to_string());
                injector.set("x-b3-sampled", sampled.to_string());
            }
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let sc = extractor
            .get("b3")
            .and_then(extract_single)
            .or_else(|| extract_multi(extractor));
        match sc {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields(self.encoding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn single_and_multi_round_trip() {
        for enc in [B3Encoding::Single, B3Encoding::Multiple] {
            let p = B3Propagator::new(enc);
            let mut m: HashMap<String, String> = HashMap::new();
            m.insert(
                "b3".into(),
                "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".into(),
            );
            let cx = p.extract_with_context(&Context::new(), &m);
            let sc = cx.span().span_context().clone();
            assert!(sc.is_valid() && sc.is_sampled() && sc.is_remote());
            let mut out: HashMap<String, String> = HashMap::new();
            p.inject_context(&cx, &mut out);
            let back = p.extract_with_context(&Context::new(), &out);
            assert_eq!(back.span().span_context().trace_id(), sc.trace_id());
        }
    }

    #[test]
    fn short_trace_id_and_garbage() {
        let p = B3Propagator::new(B3Encoding::Multiple);
        let mut m: HashMap<String, String> = HashMap::new();
        m.insert("x-b3-traceid".into(), "64fe8b2a57d3eff7".into());
        m.insert("x-b3-spanid".into(), "e457b5a2e4d86bd1".into());
        m.insert("x-b3-sampled".into(), "1".into());
        assert!(p
            .extract_with_context(&Context::new(), &m)
            .span()
            .span_context()
            .is_valid());
        m.insert("x-b3-spanid".into(), "zz".into());
        assert!(!p
            .extract_with_context(&Context::new(), &m)
            .span()
            .span_context()
            .is_valid());
    }
}
