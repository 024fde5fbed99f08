//! The console waterfall and the correlated log lines, read from what they write.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracerProvider, SimpleSpanProcessor};
use test_support::SharedBuf;
use trace_init::console::ConsoleExporter;
use trace_init::logs::CorrelatedFormat;
use trace_init::LogFormat;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn console_prints_each_trace_as_an_indented_waterfall() {
    let out = SharedBuf::default();
    let exporter = ConsoleExporter::new(Arc::new(Mutex::new(out.clone())));
    let provider = SdkTracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(exporter))
        .build();
    let tracer = provider.tracer("test");
    let t0 = SystemTime::now();
    let root = tracer
        .span_builder("GET /orders/{id}")
        .with_kind(SpanKind::Server)
        .with_start_time(t0)
        .start(&tracer);
    let cx = Context::new().with_span(root);
    let mut child = tracer
        .span_builder("SELECT orders")
        .with_kind(SpanKind::Client)
        .with_start_time(t0 + Duration::from_millis(2))
        .start_with_context(&tracer, &cx);
    use opentelemetry::trace::Span as _;
    child.set_status(Status::error("relation does not exist"));
    child.set_attribute(KeyValue::new("error.type", "42P01"));
    child.end_with_timestamp(t0 + Duration::from_millis(6));
    let span = cx.span();
    span.set_attribute(KeyValue::new("http.response.status_code", 500));
    span.end_with_timestamp(t0 + Duration::from_millis(10));
    // printed once the trace is quiet, or at shutdown
    provider.shutdown().unwrap();
    let text = out.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("trace ")
            && lines[0].contains("GET /orders/{id}")
            && lines[0].contains("10.00 ms"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("  GET /orders/{id}")
            && lines[1].contains("SERVER")
            && lines[1].contains(" 500"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("    SELECT orders") && lines[2].contains("CLIENT"),
        "{text}"
    );
    assert!(
        lines[2].contains("+    2.00 ms") && lines[2].contains("4.00 ms"),
        "{text}"
    );
    assert!(
        lines[2].contains("✗ 42P01") && lines[2].contains("relation does not exist"),
        "{text}"
    );
    // the bar of the child starts later than the root's
    let bar = |l: &str| l.split('|').nth(1).unwrap().find('#').unwrap();
    assert!(bar(lines[2]) > bar(lines[1]));
}

fn log_with(format: LogFormat) -> String {
    let out = SharedBuf::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(out.clone())
            .event_format(CorrelatedFormat::new(format, false)),
    );
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("outside any span");
        let sc = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let _g = Context::new().with_remote_span_context(sc).attach();
        tracing::warn!(user = 7, "inside a span");
    });
    out.text()
}

#[test]
fn log_lines_carry_trace_and_span_ids() {
    let human = log_with(LogFormat::Human);
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines.len(), 2, "{human}");
    assert!(lines[0].contains("outside any span") && !lines[0].contains("trace_id"));
    assert!(
        lines[1].contains(" WARN ")
            && lines[1].contains("inside a span")
            && lines[1].contains("user=7")
    );
    assert!(
        lines[1].ends_with("trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7"),
        "{human}"
    );

    let json = log_with(LogFormat::Json);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["message"], "outside any span");
    assert!(lines[0].get("trace_id").is_none());
    assert_eq!(lines[1]["level"], "WARN");
    assert_eq!(lines[1]["fields"]["user"], 7);
    assert_eq!(lines[1]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(lines[1]["span_id"], "00f067aa0ba902b7");
}
