//! A server for loopback load runs (`scripts/load.sh` drives it with wrk): axum on one tokio worker
//! thread, bare or traced, exporting over OTLP/gRPC to a receiver that keeps nothing (by default
//! one that does not decode what it takes: `LOAD_RECEIVER=decode` for one that does).
//!
//! `load_server <bare|traced|traced-10pct|traced-off|traced-off-noid|otel-axum|pass-through|propagate|spin-<ns>> <port> [collector-down]`
//!
//! `spin-<ns>` (e.g. `spin-1700`) is the calibration: a layer that does nothing but keep the worker
//! busy for that many nanoseconds per request, so a load run says what a given in-process cost
//! turns into under load on the machine at hand.
//!
//! With `DEMO_SHAPE=1`, `bare` and the `traced*` variants serve the demo-shaped request of
//! `benches::demo_shape` instead (`GET /req`: a Redis GET and SET, three SQLite selects and an HTTP
//! call; traced, seven spans), from the same code with and without the adapters.

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use trace_init::{Protocol, Sampler};

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "traced".into());
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8099);
    let collector_down = args.next().as_deref() == Some("collector-down");
    let sampler = match variant.as_str() {
        "traced-10pct" => Sampler::ParentBasedTraceIdRatio(0.1),
        "traced-off" | "traced-off-noid" => Sampler::ParentBasedAlwaysOff,
        _ => Sampler::ParentBasedAlwaysOn,
    };
    // LOAD_EXPORT=discard (read by the `traced` variant only): the spans go through trace-core's
    // span queue to an exporter that drops them on the export thread (`benches::install`: no
    // encoding, no gRPC, no receiver), to tell what the request path costs under load from what
    // the export costs
    let mut receiver = None;
    let guard = if variant == "traced" && std::env::var("LOAD_EXPORT").as_deref() == Ok("discard") {
        benches::install();
        None
    } else {
        let endpoint = collector_endpoint(collector_down, &mut receiver);
        Some(std::sync::Arc::new(
            trace_init::builder()
                .service_name("load")
                .otlp(Protocol::Grpc, endpoint)
                .sampler(sampler)
                // axum-tracing-opentelemetry makes its spans at TRACE level (target otel::tracing)
                .default_log_filter("warn,otel::tracing=trace")
                .init()
                .unwrap(),
        ))
    };
    // LOAD_STATS_FILE: the span queue's counters, written there every 200 ms (queued, exported,
    // dropped, failed), so a load run can say how many spans were dropped or lost, then the export
    // requests the stand-in receiver took and their bytes (0 0 with the collector down)
    if let (Some(path), Some(g)) = (std::env::var_os("LOAD_STATS_FILE"), guard.clone()) {
        std::thread::spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(200));
            if let Some(s) = g.stats() {
                let (requests, bytes) = receiver
                    .as_ref()
                    .map_or((0, 0), |r| (r.requests(), r.bytes()));
                let line = format!(
                    "{} {} {} {} {requests} {bytes}\n",
                    s.queued, s.exported, s.dropped, s.failed
                );
                let _ = std::fs::write(&path, line);
            }
        });
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let base = Router::new().route("/users/{id}", get(|| async { "user" }));
        let demo = if std::env::var_os("DEMO_SHAPE").is_some() {
            Some(benches::demo_shape::apps().await)
        } else {
            None
        };
        let app = match (variant.as_str(), demo) {
            ("bare", Some((bare, _))) => bare,
            (_, Some((_, traced))) => traced,
            (_, None) => match variant.as_str() {
                "bare" => base,
                // the floors under any layer: one that only passes the request on, and one
                // that only makes the caller's context current (no span, no response header)
                "pass-through" => base.layer(tower::util::MapRequestLayer::new(
                    |r: axum::extract::Request| r,
                )),
                "propagate" => base.layer(benches::server_bench::PropagateLayer),
                v if v.starts_with("spin-") => {
                    let ns: u64 = v["spin-".len()..].parse().expect("spin-<nanoseconds>");
                    let busy = std::time::Duration::from_nanos(ns);
                    base.layer(tower::util::MapRequestLayer::new(
                        move |r: axum::extract::Request| {
                            let t = std::time::Instant::now();
                            while t.elapsed() < busy {
                                std::hint::spin_loop();
                            }
                            r
                        },
                    ))
                }
                // sampling off and no `x-trace-id`: what the response header costs under load
                "traced-off-noid" => base.layer(
                    tower_trace::TraceLayer::new()
                        .axum_body()
                        .without_trace_id_header(),
                ),
                "otel-axum" => base
                    .layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
                    .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default()),
                _ => base.layer(tower_trace::TraceLayer::new().axum_body()),
            },
        };
        let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        eprintln!("load_server {variant} on {port} (collector down: {collector_down})");
        axum::serve(l, app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap();
    });
    drop(guard);
}

/// Where the traced server exports: a port nothing listens on (`collector-down`), else a stand-in
/// receiver started in this process (kept in `receiver`, for its counters).
fn collector_endpoint(
    collector_down: bool,
    receiver: &mut Option<test_support::Receiver>,
) -> String {
    if collector_down {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = format!("http://{}", l.local_addr().unwrap());
        drop(l);
        dead
    } else {
        // A collector runs on other machines; the one here shares the two cores with the server,
        // so by default it takes the export requests without decoding them (the least a
        // collector that discards can cost). LOAD_RECEIVER=decode: the receiver that decodes
        // every request and counts its spans (the figures before 2026-11-29).
        let r = if std::env::var("LOAD_RECEIVER").as_deref() == Ok("decode") {
            let r = test_support::Receiver::grpc();
            r.set_mode(test_support::Mode::Discard);
            r
        } else {
            test_support::Receiver::grpc_sink()
        };
        receiver.insert(r).endpoint()
    }
}
