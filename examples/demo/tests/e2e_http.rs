//! The demo scenario exported over OTLP HTTP/protobuf.

mod e2e_common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_scenario_over_otlp_http() {
    let receiver = test_support::Receiver::http();
    let guard = trace_init::builder()
        .otlp(
            trace_init::Protocol::HttpProtobuf,
            format!("{}/v1/traces", receiver.endpoint()),
        )
        .service_name("demo-e2e")
        .init()
        .unwrap();
    e2e_common::run(&receiver, guard).await;
}
