//! Dropping the guard: every span reaches a live collector; a dead or silent one cannot hold the
//! exit beyond the shutdown timeout, and a refused one not even that long (retries end).

use std::time::{Duration, Instant};

use opentelemetry::trace::{Tracer, TracerProvider as _};
use test_support::{Mode, Receiver};
use trace_init::settings::BatchSettings;
use trace_init::Protocol;

fn pipeline(protocol: Protocol, endpoint: String, timeout: Duration) -> trace_init::Guard {
    let batch = BatchSettings {
        export_timeout: Duration::from_millis(500),
        ..BatchSettings::default()
    };
    pipeline_with(protocol, endpoint, batch, timeout)
}

fn pipeline_with(
    protocol: Protocol,
    endpoint: String,
    batch: BatchSettings,
    timeout: Duration,
) -> trace_init::Guard {
    trace_init::builder()
        .otlp(protocol, endpoint)
        .install_subscriber(false)
        .batch(batch)
        .shutdown_timeout(timeout)
        .init()
        .expect("pipeline")
}

fn make_spans(guard: &trace_init::Guard, n: usize) {
    let tracer = guard.provider().unwrap().tracer("shutdown-test");
    for i in 0..n {
        tracer.in_span(format!("op {i}"), |_| {});
    }
}

/// An endpoint nothing listens on (a port bound and released).
fn dead_endpoint() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", closed.local_addr().unwrap())
}

/// Drops `guard` and asserts the exit took less than `limit`.
fn assert_exits_within(guard: trace_init::Guard, limit: Duration, what: &str) {
    let started = Instant::now();
    drop(guard);
    assert!(
        started.elapsed() < limit,
        "{what}: shutdown took {:?}",
        started.elapsed()
    );
}

#[test]
fn nothing_is_lost_on_shutdown_with_a_live_collector() {
    for (protocol, receiver) in [
        (Protocol::Grpc, Receiver::grpc()),
        (Protocol::HttpProtobuf, Receiver::http()),
    ] {
        let endpoint = match protocol {
            Protocol::Grpc => receiver.endpoint(),
            Protocol::HttpProtobuf => format!("{}/v1/traces", receiver.endpoint()),
        };
        let guard = pipeline(protocol, endpoint, Duration::from_secs(10));
        make_spans(&guard, 1500);
        drop(guard);
        assert_eq!(receiver.spans().len(), 1500, "{protocol:?}");
    }
}

#[test]
fn a_dead_or_silent_collector_does_not_hold_the_exit() {
    let dead = dead_endpoint();
    let silent = Receiver::grpc();
    silent.set_mode(Mode::Hang);
    for (protocol, endpoint) in [
        (Protocol::Grpc, dead.clone()),
        (Protocol::HttpProtobuf, format!("{dead}/v1/traces")),
        (Protocol::Grpc, silent.endpoint()),
    ] {
        let guard = pipeline(protocol, endpoint.clone(), Duration::from_secs(1));
        make_spans(&guard, 100);
        // bounded by the 1 s shutdown timeout (generous margin for a loaded 2-core machine)
        assert_exits_within(
            guard,
            Duration::from_secs(5),
            &format!("{protocol:?} {endpoint}"),
        );
    }
}

#[test]
fn retries_stop_at_shutdown() {
    // A collector that refuses connections is retried with a backoff while the export timeout
    // lasts (30 s here); dropping the guard ends the retries, so the exit does not wait the
    // 30 s shutdown timeout.
    let dead = dead_endpoint();
    for (protocol, endpoint) in [
        (Protocol::Grpc, dead.clone()),
        (Protocol::HttpProtobuf, format!("{dead}/v1/traces")),
    ] {
        let batch = BatchSettings {
            schedule_delay: Duration::from_millis(50),
            export_timeout: Duration::from_secs(30),
            ..BatchSettings::default()
        };
        let guard = pipeline_with(protocol, endpoint.clone(), batch, Duration::from_secs(30));
        make_spans(&guard, 10);
        // the scheduled export is retrying by now; more spans wait behind it
        std::thread::sleep(Duration::from_millis(300));
        make_spans(&guard, 10);
        assert_exits_within(
            guard,
            Duration::from_secs(10),
            &format!("{protocol:?} {endpoint}"),
        );
    }
}
