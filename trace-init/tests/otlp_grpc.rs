//! Export over OTLP/gRPC into a real receiver, configured through the environment.

mod otlp_common;

use test_support::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_over_grpc_configured_by_env() {
    let receiver = Receiver::grpc();
    // This test binary holds this one test, so setting the process environment is safe.
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    std::env::set_var("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
    std::env::set_var("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k-456");
    std::env::set_var("OTEL_SERVICE_NAME", "otlp-grpc-test");
    std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "50");
    let guard = trace_init::init().expect("pipeline");
    let trace_id = otlp_common::one_request().await;
    assert_eq!(trace_id, otlp_common::INCOMING_TRACE);
    drop(guard); // flushes
    otlp_common::check(&receiver, "otlp-grpc-test");
    let headers = receiver.last_headers();
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-api-key" && v == "k-456"),
        "{headers:?}"
    );
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "grpc-encoding" && v == "gzip"),
        "compressed: {headers:?}"
    );
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "user-agent" && v.starts_with("trace-init/")),
        "{headers:?}"
    );
}
