//! Export over OTLP HTTP/protobuf into a real receiver, configured in code.

mod otlp_common;

use test_support::Receiver;
use trace_init::Protocol;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_over_http_protobuf_configured_in_code() {
    let receiver = Receiver::http();
    let guard = trace_init::builder()
        .otlp(
            Protocol::HttpProtobuf,
            format!("{}/v1/traces", receiver.endpoint()),
        )
        .service_name("otlp-http-test")
        .init()
        .expect("pipeline");
    otlp_common::one_request().await;
    guard.force_flush();
    otlp_common::check(&receiver, "otlp-http-test");
    drop(guard);
}
