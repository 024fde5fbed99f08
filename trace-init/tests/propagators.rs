//! `OTEL_PROPAGATORS` lists as `init` installs them: each reads the headers its propagators
//! define and writes them back, through trace-core's helpers (the ones the adapters call).
//! One test: the global propagator is process-wide.

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;
use trace_core::propagation::{extract_from_headers, inject_into_headers};
use trace_init::{install_propagator, Propagator};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, v.parse().unwrap());
    }
    h
}

/// (trace id, sampled, tracestate, baggage `user.id`) read from `h`.
fn read(h: &HeaderMap) -> (String, bool, String, Option<String>) {
    let cx = extract_from_headers(h);
    let span = cx.span();
    let sc = span.span_context();
    (
        sc.trace_id().to_string(),
        sc.is_sampled(),
        sc.trace_state().header(),
        cx.baggage().get("user.id").map(|v| v.to_string()),
    )
}

/// The header names written for the context read from `h`, sorted.
fn written(h: &HeaderMap) -> Vec<String> {
    let mut out = HeaderMap::new();
    inject_into_headers(&extract_from_headers(h), &mut out);
    let mut names: Vec<String> = out.keys().map(|k| k.to_string()).collect();
    names.sort();
    names
}

#[test]
fn every_propagator_list_reads_and_writes_its_own_headers() {
    use Propagator::*;
    let w3c = headers(&[
        ("traceparent", format!("00-{TRACE}-{SPAN}-01")),
        ("tracestate", "vendor=1".into()),
        ("baggage", "user.id=7".into()),
    ]);
    let b3 = headers(&[("b3", format!("{TRACE}-{SPAN}-1"))]);
    let none = (
        String::from("00000000000000000000000000000000"),
        false,
        String::new(),
        None,
    );

    // the default: W3C trace context and baggage
    install_propagator(&[TraceContext, Baggage]);
    assert_eq!(
        read(&w3c),
        (TRACE.into(), true, "vendor=1".into(), Some("7".into()))
    );
    assert_eq!(read(&b3), none);
    assert_eq!(written(&w3c), ["baggage", "traceparent", "tracestate"]);

    // trace context alone: no baggage read or written
    install_propagator(&[TraceContext]);
    assert_eq!(read(&w3c), (TRACE.into(), true, "vendor=1".into(), None));
    assert_eq!(written(&w3c), ["traceparent", "tracestate"]);

    // the two in the other order: the same context
    install_propagator(&[Baggage, TraceContext]);
    assert_eq!(
        read(&w3c),
        (TRACE.into(), true, "vendor=1".into(), Some("7".into()))
    );

    // B3 alone: W3C headers are not read
    install_propagator(&[B3]);
    assert_eq!(read(&w3c), none);
    assert_eq!(read(&b3), (TRACE.into(), true, String::new(), None));
    assert_eq!(written(&b3), ["b3"]);

    // B3 and the default together: either side's headers are read
    install_propagator(&[TraceContext, Baggage, B3]);
    assert_eq!(read(&b3).0, TRACE);
    assert_eq!(read(&w3c).3.as_deref(), Some("7"));

    // none: nothing read, nothing written
    install_propagator(&[]);
    assert_eq!(read(&w3c), none);
    assert!(written(&w3c).is_empty());
}
