//! A collector that refuses, then comes back: the application's work is never affected, and the
//! spans made after it recovers arrive. A connection closed while idle (a collector's or a load
//! balancer's idle timeout) costs no export: the next batch goes out on a new one.

use std::time::Duration;

use opentelemetry::trace::{Tracer, TracerProvider as _};
use test_support::{Mode, Receiver};
use trace_init::settings::BatchSettings;
use trace_init::Protocol;

/// An OTLP pipeline to `endpoint` with these batch settings (no subscriber installed).
fn pipeline(protocol: Protocol, endpoint: String, batch: BatchSettings) -> trace_init::Guard {
    trace_init::builder()
        .otlp(protocol, endpoint)
        .install_subscriber(false)
        .batch(batch)
        .shutdown_timeout(Duration::from_secs(5))
        .init()
        .unwrap()
}

/// A receiver speaking `protocol`.
fn receiver_for(protocol: Protocol) -> Receiver {
    match protocol {
        Protocol::Grpc => Receiver::grpc(),
        Protocol::HttpProtobuf => Receiver::http(),
    }
}

/// The exporter's endpoint for a receiver at `base` (`http://host:port`).
fn endpoint_for(protocol: Protocol, base: &str) -> String {
    match protocol {
        Protocol::Grpc => base.to_owned(),
        Protocol::HttpProtobuf => format!("{base}/v1/traces"),
    }
}

#[test]
fn refusing_then_recovering_collector() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = receiver_for(protocol);
        receiver.set_mode(Mode::Fail);
        let endpoint = endpoint_for(protocol, &receiver.endpoint());
        let guard = pipeline(
            protocol,
            endpoint,
            BatchSettings {
                schedule_delay: Duration::from_millis(50),
                export_timeout: Duration::from_millis(500),
                ..BatchSettings::default()
            },
        );
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

/// A TCP proxy in front of a receiver that closes a connection once it has been idle for
/// `idle`, without a word (as a collector's or a load balancer's idle timeout does); counts the
/// connections it took.
struct IdleClosingProxy {
    addr: std::net::SocketAddr,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl IdleClosingProxy {
    fn start(upstream: std::net::SocketAddr, idle: Duration) -> Self {
        use std::io::{Read, Write};
        use std::net::{Shutdown, TcpListener, TcpStream};
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{Arc, Mutex};
        use std::time::Instant;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let last = Arc::new(Mutex::new(Instant::now()));
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let last = last.clone();
                    std::thread::spawn(move || {
                        from.set_read_timeout(Some(Duration::from_millis(20)))
                            .unwrap();
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    *last.lock().unwrap() = Instant::now();
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock
                                            | std::io::ErrorKind::TimedOut
                                    ) =>
                                {
                                    if last.lock().unwrap().elapsed() >= idle {
                                        break;
                                    }
                                }
                                Err(_) => break,
                            }
                        }
                        let _ = from.shutdown(Shutdown::Both);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Self { addr, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn a_connection_closed_while_idle_costs_no_export() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = receiver_for(protocol);
        let upstream = receiver
            .endpoint()
            .trim_start_matches("http://")
            .parse()
            .unwrap();
        let proxy = IdleClosingProxy::start(upstream, Duration::from_millis(150));
        let endpoint = endpoint_for(protocol, &format!("http://{}", proxy.addr));
        let guard = pipeline(
            protocol,
            endpoint,
            BatchSettings {
                schedule_delay: Duration::from_secs(60),
                ..BatchSettings::default()
            },
        );
        let tracer = guard.provider().unwrap().tracer("idle");
        for round in 0..3 {
            for i in 0..10 {
                tracer.in_span(format!("round {round} span {i}"), |_| ());
            }
            guard.force_flush();
            let s = guard.stats().unwrap();
            assert_eq!(
                (s.exported, s.failed, s.dropped),
                (10 * (round + 1), 0, 0),
                "{protocol:?}, round {round}: {s:?}"
            );
            // long enough for the proxy to close the connection the export used
            std::thread::sleep(Duration::from_millis(400));
        }
        assert!(
            proxy.connections() >= 3,
            "{protocol:?}: the proxy closed the idle connections ({} taken)",
            proxy.connections()
        );
        drop(guard);
        assert_eq!(receiver.spans().len(), 30, "{protocol:?}");
    }
}

/// A pipeline to `receiver` with a 10 s export timeout, `n` spans made and flushed as one batch.
fn one_flushed_batch(protocol: Protocol, receiver: &Receiver, n: usize) -> trace_init::Guard {
    let guard = pipeline(
        protocol,
        endpoint_for(protocol, &receiver.endpoint()),
        BatchSettings {
            schedule_delay: Duration::from_secs(60),
            export_timeout: Duration::from_secs(10),
            ..BatchSettings::default()
        },
    );
    let tracer = guard.provider().unwrap().tracer("retries");
    for i in 0..n {
        tracer.in_span(format!("span {i}"), |_| ());
    }
    guard.force_flush();
    guard
}

#[test]
fn a_briefly_unavailable_collector_loses_nothing() {
    // OTLP: UNAVAILABLE / 503 are retried with a backoff while the export timeout lasts
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = receiver_for(protocol);
        receiver.refuse_next(2);
        let guard = one_flushed_batch(protocol, &receiver, 20);
        let s = guard.stats().unwrap();
        assert_eq!(
            (s.queued, s.exported, s.failed, s.dropped),
            (20, 20, 0, 0),
            "{protocol:?}"
        );
        // one batch: refused twice, then taken
        assert_eq!(receiver.requests(), 3, "{protocol:?}");
        drop(guard);
        assert_eq!(receiver.spans().len(), 20, "{protocol:?}");
    }
}

#[test]
fn a_rejected_export_is_not_sent_again() {
    // OTLP: INVALID_ARGUMENT / 400 would fail again; the batch is counted lost at once
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = receiver_for(protocol);
        receiver.set_mode(Mode::Reject);
        let guard = one_flushed_batch(protocol, &receiver, 10);
        let s = guard.stats().unwrap();
        assert_eq!((s.exported, s.failed), (0, 10), "{protocol:?}");
        assert_eq!(receiver.requests(), 1, "{protocol:?}: sent once");
        drop(guard);
    }
}
