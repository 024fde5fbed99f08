//! The load runs' collector stand-in (`Receiver::grpc_sink`, which takes export requests without
//! decoding them) is a gRPC endpoint the OTLP exporter delivers to: every span exported, none
//! failed, the bytes arrived.

use std::time::Duration;

use opentelemetry::trace::{Tracer, TracerProvider as _};
use test_support::Receiver;
use trace_init::settings::BatchSettings;
use trace_init::Protocol;

#[test]
fn the_sink_accepts_what_the_exporter_sends() {
    let sink = Receiver::grpc_sink();
    let guard = trace_init::builder()
        .otlp(Protocol::Grpc, sink.endpoint())
        .install_subscriber(false)
        .batch(BatchSettings {
            schedule_delay: Duration::from_millis(50),
            ..BatchSettings::default()
        })
        .init()
        .unwrap();
    let tracer = guard.provider().unwrap().tracer("sink");
    for i in 0..300 {
        tracer.in_span(format!("span {i}"), |_| ());
    }
    guard.force_flush();
    let stats = guard.stats().unwrap();
    assert_eq!(stats.queued, 300, "{stats:?}");
    assert_eq!(stats.exported, 300, "{stats:?}");
    assert_eq!(stats.failed, 0, "{stats:?}");
    assert!(sink.requests() >= 1);
    // each span carries at least its ids and its name
    assert!(sink.bytes() > 300 * 30, "{} bytes", sink.bytes());
    assert!(sink.spans().is_empty(), "nothing decoded, nothing kept");
}

#[test]
fn an_https_endpoint_is_refused_at_init_with_a_clear_error() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let err = trace_init::builder()
            .otlp(protocol, "https://collector.example:4317")
            .install_subscriber(false)
            .init()
            .expect_err("no TLS in this exporter");
        let text = err.to_string();
        assert!(text.contains("TLS"), "{protocol:?}: {text}");
    }
}
