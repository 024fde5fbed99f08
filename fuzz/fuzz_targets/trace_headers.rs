//! Trace-header extraction. Arbitrary `traceparent`, `tracestate` and `baggage` values (and
//! duplicates, in a small or a large header map): never a panic. A context that comes out valid
//! re-injects to a `traceparent` that parses to the same ids, and its `tracestate` is within the
//! W3C limits. The one-pass extraction (`DefaultPropagator::extract_headers`) reads exactly what
//! the two propagators read one after the other.
#![no_main]

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::BaggagePropagator;
use trace_core::propagation::{
    format_traceparent, parse_traceparent, parse_tracestate, DefaultPropagator, HeaderExtractor,
    W3CTraceContext,
};
use trace_core::testing::Carried;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    traceparent: Vec<&'a [u8]>,
    tracestate: Vec<&'a [u8]>,
    baggage: Vec<&'a [u8]>,
    /// Other headers before the trace headers: past a dozen, the map is looked up by name
    /// instead of scanned.
    others: u8,
}

fuzz_target!(|input: Input<'_>| {
    let mut map = HeaderMap::new();
    for i in 0..input.others % 32 {
        map.insert(
            http::HeaderName::from_bytes(format!("x-other-{i}").as_bytes()).unwrap(),
            HeaderValue::from_static("1"),
        );
    }
    for (name, values) in [
        ("traceparent", &input.traceparent),
        ("tracestate", &input.tracestate),
        ("baggage", &input.baggage),
    ] {
        for v in values.iter().take(8) {
            if let Ok(v) = HeaderValue::from_bytes(v) {
                map.append(name, v);
            }
        }
        if let Some(v) = values.first() {
            let _ = parse_traceparent(&String::from_utf8_lossy(v));
            let _ = parse_tracestate(&String::from_utf8_lossy(v));
        }
    }
    let cx = W3CTraceContext::new().extract(&HeaderExtractor::new(&map));
    let both = BaggagePropagator::new().extract_with_context(&cx, &HeaderExtractor::new(&map));
    assert_eq!(
        Carried::of(&DefaultPropagator.extract_headers(&map)),
        Carried::of(&both),
        "one pass and the propagators differ on {map:?}"
    );
    assert_eq!(
        Carried::of(&W3CTraceContext::new().extract_headers(&map)),
        Carried::of(&cx)
    );
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        let tp = format_traceparent(sc);
        let (t, s, f) = parse_traceparent(&tp).expect("re-injected traceparent parses");
        assert_eq!((t, s, f), (sc.trace_id(), sc.span_id(), sc.trace_flags()));
        let ts = sc.trace_state().header();
        assert!(
            ts.split(',').filter(|m| !m.is_empty()).count() <= 32,
            "{ts}"
        );
        assert!(ts.len() <= 512, "{} bytes", ts.len());
    }
});
