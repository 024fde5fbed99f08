//! The demo scenario exported over OTLP/gRPC.

mod e2e_common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_scenario_over_otlp_grpc() {
    let receiver = test_support::Receiver::grpc();
    let guard = trace_init::builder()
        .otlp(trace_init::Protocol::Grpc, receiver.endpoint())
        .service_name("demo-e2e")
        .init()
        .unwrap();
    e2e_common::run(&receiver, guard).await;
}
