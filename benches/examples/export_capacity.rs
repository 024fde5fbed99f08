//! How many spans per second the export pipeline (default `OTEL_BSP_*` settings, OTLP/gRPC to a
//! collector stand-in in the process that takes the requests without decoding them) takes before
//! the batch processor drops. Spans are made at a set rate for 5 s per step; the span queue's
//! counters after the flush tell how many were exported and dropped. `LOAD_RECEIVER=decode`: a
//! receiver that decodes every request and counts its spans instead.
//!
//! `cargo run --release -p benches --example export_capacity`

use std::time::{Duration, Instant};

use opentelemetry::trace::{Tracer, TracerProvider as _};
use test_support::{Mode, Receiver};

/// The receiver, and whether it counts spans itself.
fn receiver() -> (Receiver, bool) {
    if std::env::var("LOAD_RECEIVER").as_deref() == Ok("decode") {
        let r = Receiver::grpc();
        r.set_mode(Mode::Discard);
        (r, true)
    } else {
        (Receiver::grpc_sink(), false)
    }
}
use trace_init::Protocol;

fn main() {
    println!(
        "{:>12} {:>10} {:>10} {:>8}",
        "target/s", "made", "arrived", "dropped"
    );
    for rate in [
        10_000u64, 20_000, 30_000, 40_000, 50_000, 100_000, 200_000, 400_000, 800_000,
    ] {
        let (receiver, counts) = receiver();
        let guard = trace_init::builder()
            .otlp(Protocol::Grpc, receiver.endpoint())
            .install_subscriber(false)
            .shutdown_timeout(Duration::from_secs(30))
            .init()
            .unwrap();
        let tracer = guard.provider().unwrap().tracer("capacity");
        let start = Instant::now();
        let mut made = 0u64;
        while start.elapsed() < Duration::from_secs(5) {
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            while made < due {
                tracer.in_span("op", |_| ());
                made += 1;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        guard.force_flush();
        let exported = guard.stats().map_or(0, |s| s.exported);
        drop(guard);
        let arrived = if counts {
            receiver.discarded() as u64
        } else {
            exported
        };
        println!(
            "{rate:>12} {made:>10} {arrived:>10} {:>8}",
            made.saturating_sub(arrived)
        );
    }
}
