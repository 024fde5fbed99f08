//! Export over OTLP HTTP/protobuf into a real receiver, configured in code.

mod otlp_common;

use test_support::Receiver;
use trace_init::Protocol;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_over_http_protobuf_configured_in_code() {
    let receiver = Receiver::http();
    let mut settings = trace_init::builder()
        .otlp(
            Protocol::HttpProtobuf,
            format!("{}/v1/traces", receiver.endpoint()),
        )
        .settings()
        .clone();
    settings.gzip = true;
    settings.headers = vec![("X-Api-Key".into(), "k-123".into())];
    let guard = trace_init::Builder::from_settings(settings)
        .service_name("otlp-http-test")
        .init()
        .expect("pipeline");
    otlp_common::one_request().await;
    guard.force_flush();
    otlp_common::check(&receiver, "otlp-http-test");
    let headers = receiver.last_headers();
    let get = |k: &str| {
        headers
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("x-api-key"), Some("k-123"), "{headers:?}");
    assert_eq!(get("content-encoding"), Some("gzip"));
    assert_eq!(get("content-type"), Some("application/x-protobuf"));
    assert!(get("user-agent").is_some_and(|ua| ua.starts_with("trace-init/")));
    drop(guard);
}
