//! A collector that refuses, then comes back: the application's work is never affected, and the
//! spans made after it recovers arrive.

use std::time::Duration;

use opentelemetry::trace::{Tracer, TracerProvider as _};
use test_support::{Mode, Receiver};
use trace_init::settings::BatchSettings;
use trace_init::Protocol;

#[test]
fn refusing_then_recovering_collector() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = match protocol {
            Protocol::Grpc => Receiver::grpc(),
            Protocol::HttpProtobuf => Receiver::http(),
        };
        receiver.set_mode(Mode::Fail);
        let endpoint = match protocol {
            Protocol::Grpc => receiver.endpoint(),
            Protocol::HttpProtobuf => format!("{}/v1/traces", receiver.endpoint()),
        };
        let guard = trace_init::builder()
            .otlp(protocol, endpoint)
            .install_subscriber(false)
            .batch(BatchSettings {
                schedule_delay: Duration::from_millis(50),
                export_timeout: Duration::from_millis(500),
                ..BatchSettings::default()
            })
            .shutdown_timeout(Duration::from_secs(5))
            .init()
            .unwrap();
        let tracer = guard.provider().unwrap().tracer("faults");
        // the application's own work goes on while every export is refused
        let mut sum = 0u64;
        for i in 0..200u64 {
            sum += tracer.in_span(format!("refused {i}"), |_| i);
        }
        assert_eq!(sum, 199 * 200 / 2);
        let refused = receiver.wait_until(Duration::from_secs(5), |_| receiver.requests() > 0);
        assert!(
            refused.is_empty(),
            "{protocol:?}: nothing kept while refusing"
        );
        assert!(
            receiver.requests() > 0,
            "{protocol:?}: exports were attempted"
        );
        // the refused spans are counted as lost, not silently gone
        guard.force_flush();
        let lost = guard.stats().unwrap();
        assert_eq!(lost.queued, 200, "{protocol:?}: {lost:?}");
        assert_eq!(lost.failed, 200, "{protocol:?}: {lost:?}");
        assert_eq!(lost.exported, 0, "{protocol:?}: {lost:?}");
        // it comes back
        receiver.set_mode(Mode::Accept);
        for i in 0..50 {
            tracer.in_span(format!("after {i}"), |_| ());
        }
        guard.force_flush();
        let after = guard.stats().unwrap();
        assert_eq!(
            (after.queued, after.exported, after.failed, after.dropped),
            (250, 50, 200, 0),
            "{protocol:?}"
        );
        drop(guard);
        let spans = receiver.spans();
        let after = spans
            .iter()
            .filter(|s| s.name.starts_with("after "))
            .count();
        assert_eq!(
            after, 50,
            "{protocol:?}: every span made after recovery arrived"
        );
    }
}
