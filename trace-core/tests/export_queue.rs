//! The span queue on its own: what it exports, what it drops and counts, how it reports losses,
//! and that a hung exporter never holds a caller. Each test uses its own provider and queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, SpanData, SpanExporter, SpanLimits, SpanProcessor,
};
use trace_core::export::{DeliveryReport, QueueConfig, SpanQueue};
use trace_core::tracer::{KnownSampler, RootSampler, SpanHandle, Tracer};

fn sampler() -> KnownSampler {
    KnownSampler::ParentBased(RootSampler::AlwaysOn)
}

fn pipeline<E: SpanExporter + 'static>(
    exporter: E,
    config: QueueConfig,
    reports: Option<Arc<Mutex<Vec<DeliveryReport>>>>,
) -> (SdkTracerProvider, SpanQueue, Tracer) {
    let queue = match reports {
        Some(r) => SpanQueue::with_reporter(
            exporter,
            config,
            Arc::new(move |rep: &DeliveryReport| r.lock().unwrap().push(rep.clone())),
        ),
        None => SpanQueue::new(exporter, config),
    };
    let provider = SdkTracerProvider::builder()
        .with_span_processor(queue.clone())
        .with_sampler(sampler().to_sdk())
        .build();
    let tracer = Tracer::from_provider("queue-test", &provider, Some(sampler())).with_queue(&queue);
    (provider, queue, tracer)
}

fn open(tracer: &Tracer, name: &'static str, parent: &Context) -> SpanHandle {
    tracer.start(
        SpanKind::Client,
        parent,
        Vec::new(),
        || (name.into(), vec![KeyValue::new("db.system.name", "redis")]),
        |a| a.push(KeyValue::new("server.port", 6379i64)),
    )
}

#[test]
fn own_spans_and_sdk_spans_arrive_with_parents_attributes_events_and_status() {
    let exporter = InMemorySpanExporter::default();
    let (provider, queue, tracer) = pipeline(exporter.clone(), QueueConfig::default(), None);

    let mut parent = open(&tracer, "parent", &Context::new());
    assert!(
        matches!(parent, SpanHandle::Recording(_)),
        "sampled spans are the queue's own"
    );
    let parent_sc = parent.span_context().clone();
    let cx = Context::new().with_remote_span_context(parent_sc.clone());
    // an SDK span (as tracing-opentelemetry makes) under it
    let sdk = provider.tracer("sdk");
    let mut child = sdk.start_with_context("sdk child", &cx);
    child.end();
    parent.add_event("cache miss", vec![KeyValue::new("k", 1i64)]);
    parent.set_status(Status::error("boom"));
    parent.set_status(Status::Unset); // Error is not downgraded
    parent.update_name("renamed");
    parent.end();
    queue.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let p = spans.iter().find(|s| s.name == "renamed").unwrap();
    let c = spans.iter().find(|s| s.name == "sdk child").unwrap();
    assert_eq!(c.parent_span_id, p.span_context.span_id());
    assert_eq!(c.span_context.trace_id(), p.span_context.trace_id());
    assert_eq!(p.span_kind, SpanKind::Client);
    assert!(p.span_context.is_sampled());
    assert_eq!(
        p.attributes,
        vec![
            KeyValue::new("db.system.name", "redis"),
            KeyValue::new("server.port", 6379i64)
        ]
    );
    assert_eq!(p.events.events[0].name, "cache miss");
    assert_eq!(p.status, Status::error("boom"));
    assert_eq!(p.instrumentation_scope.name(), "queue-test");
    assert!(p.end_time >= p.start_time);
    let stats = queue.stats();
    assert_eq!((stats.queued, stats.exported, stats.dropped), (2, 2, 0));
    provider.shutdown().unwrap();
}

#[test]
fn a_dropped_span_handle_still_ends_and_is_exported_once() {
    let exporter = InMemorySpanExporter::default();
    let (provider, queue, tracer) = pipeline(exporter.clone(), QueueConfig::default(), None);
    {
        let mut s = open(&tracer, "dropped", &Context::new());
        s.end();
        s.end(); // a second end does nothing
    }
    drop(open(&tracer, "never ended", &Context::new()));
    queue.force_flush().unwrap();
    let names: Vec<_> = exporter
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["dropped", "never ended"]);
    provider.shutdown().unwrap();
}

#[test]
fn span_times_come_from_the_clock_and_an_end_never_precedes_the_start() {
    let exporter = InMemorySpanExporter::default();
    let (provider, queue, tracer) = pipeline(exporter.clone(), QueueConfig::default(), None);
    let before = std::time::SystemTime::now();
    let mut timed = open(&tracer, "timed", &Context::new());
    std::thread::sleep(Duration::from_millis(20));
    timed.end();
    let after = std::time::SystemTime::now();
    // an end time from elsewhere, earlier than the start (another thread's clock, a caller)
    let mut early = open(&tracer, "ended early", &Context::new());
    early.end_with_timestamp(std::time::UNIX_EPOCH);
    // an event added through the context lands between its span's start and end
    let cx = Context::new().with_span(open(&tracer, "with event", &Context::new()));
    {
        let _g = cx.clone().attach();
        std::thread::sleep(Duration::from_millis(2));
        trace_core::manual::add_event("midway", Vec::new());
        std::thread::sleep(Duration::from_millis(2));
    }
    trace_core::span::end(&cx.span());
    queue.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let timed = spans.iter().find(|s| s.name == "timed").unwrap();
    let slack = Duration::from_millis(5);
    assert!(
        timed.start_time + slack >= before,
        "{:?} {before:?}",
        timed.start_time
    );
    assert!(
        timed.end_time <= after + slack,
        "{:?} {after:?}",
        timed.end_time
    );
    let took = timed.end_time.duration_since(timed.start_time).unwrap();
    assert!(took >= Duration::from_millis(19), "{took:?}");
    let early = spans.iter().find(|s| s.name == "ended early").unwrap();
    assert_eq!(early.end_time, early.start_time);
    let with_event = spans.iter().find(|s| s.name == "with event").unwrap();
    let event = &with_event.events.events[0];
    assert_eq!(event.name, "midway");
    assert!(
        with_event.start_time < event.timestamp && event.timestamp < with_event.end_time,
        "{:?} {:?} {:?}",
        with_event.start_time,
        event.timestamp,
        with_event.end_time
    );
    provider.shutdown().unwrap();
}

#[test]
fn span_limits_bound_attributes_events_and_links_and_count_the_rest() {
    let exporter = InMemorySpanExporter::default();
    let limits = SpanLimits {
        max_attributes_per_span: 3,
        max_events_per_span: 1,
        max_links_per_span: 1,
        max_attributes_per_event: 1,
        ..SpanLimits::default()
    };
    let (provider, queue, tracer) = pipeline(
        exporter.clone(),
        QueueConfig {
            limits,
            ..QueueConfig::default()
        },
        None,
    );
    let mut s = open(&tracer, "limited", &Context::new());
    for i in 0..5i64 {
        s.set_attribute(KeyValue::new(format!("a{i}"), i));
    }
    s.add_event(
        "e1",
        vec![KeyValue::new("x", 1i64), KeyValue::new("y", 2i64)],
    );
    s.add_event("e2", vec![]);
    let other = open(&tracer, "other", &Context::new());
    s.add_link(other.span_context().clone(), vec![]);
    s.add_link(other.span_context().clone(), vec![]);
    s.end();
    drop(other);
    queue.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let l = spans.iter().find(|s| s.name == "limited").unwrap();
    assert_eq!(l.attributes.len(), 3);
    assert_eq!(l.dropped_attributes_count, 4); // 2 from start + 5 set, 3 kept
    assert_eq!(l.events.events.len(), 1);
    assert_eq!(l.events.dropped_count, 1);
    assert_eq!(l.events.events[0].dropped_attributes_count, 1);
    assert_eq!(l.links.links.len(), 1);
    assert_eq!(l.links.dropped_count, 1);
    provider.shutdown().unwrap();
}

/// An exporter that blocks until released, then fails or succeeds.
#[derive(Debug, Clone)]
struct Gate {
    open: Arc<AtomicBool>,
    fail: bool,
}

impl SpanExporter for Gate {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        while !self.open.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(2));
        }
        answer(self.fail)
    }
}

/// A test exporter's outcome: failed or delivered.
fn answer(fail: bool) -> OTelSdkResult {
    if fail {
        Err(OTelSdkError::InternalFailure("collector said no".into()))
    } else {
        Ok(())
    }
}

/// An exporter that records the size of each batch, holding the first until released.
#[derive(Debug, Clone, Default)]
struct BatchSizes {
    open: Arc<AtomicBool>,
    sizes: Arc<Mutex<Vec<usize>>>,
}

impl SpanExporter for BatchSizes {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        while !self.open.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.sizes.lock().unwrap().push(batch.len());
        Ok(())
    }
}

#[test]
fn a_wake_up_exports_full_batches_only_and_the_rest_waits_for_the_next_or_a_flush() {
    let exporter = BatchSizes::default();
    let (provider, queue, tracer) = pipeline(
        exporter.clone(),
        QueueConfig {
            max_export_batch_size: 8,
            // no scheduled export during the test: only wake-ups and the flush export
            scheduled_delay: Duration::from_secs(600),
            ..QueueConfig::default()
        },
        None,
    );
    let exported = || exporter.sizes.lock().unwrap().iter().sum::<usize>();
    // 8 spans wake the export thread, which holds the first batch in the exporter; 12 more
    // arrive meanwhile, so its next drain takes more than a batch's worth
    for _ in 0..8 {
        open(&tracer, "s", &Context::new()).end();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue.stats().queued < 8 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(50));
    for _ in 0..12 {
        open(&tracer, "s", &Context::new()).end();
    }
    exporter.open.store(true, Ordering::Relaxed);
    while exported() < 16 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    // time for a partial export request, if one were made
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        *exporter.sizes.lock().unwrap(),
        vec![8, 8],
        "only full batches until a flush"
    );
    assert_eq!(queue.stats().exported, 16);
    // the 4 held back count towards the next wake-up: 4 more make a batch
    for _ in 0..4 {
        open(&tracer, "s", &Context::new()).end();
    }
    while exported() < 24 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(*exporter.sizes.lock().unwrap(), vec![8, 8, 8]);
    // what is left goes out with a flush (or the scheduled export), in one last batch
    for _ in 0..3 {
        open(&tracer, "s", &Context::new()).end();
    }
    queue.force_flush().unwrap();
    assert_eq!(*exporter.sizes.lock().unwrap(), vec![8, 8, 8, 3]);
    assert_eq!((queue.stats().queued, queue.stats().exported), (27, 27));
    provider.shutdown().unwrap();
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking_and_reports_once_per_interval() {
    let open_gate = Arc::new(AtomicBool::new(false));
    let reports = Arc::new(Mutex::new(Vec::new()));
    let (provider, queue, tracer) = pipeline(
        Gate {
            open: open_gate.clone(),
            fail: true,
        },
        QueueConfig {
            max_queue_size: 16,
            max_export_batch_size: 4,
            scheduled_delay: Duration::from_millis(10),
            report_interval: Duration::from_millis(300),
            ..QueueConfig::default()
        },
        Some(reports.clone()),
    );
    // the export thread is stuck in the exporter: spans pile up, then overflow
    let started = Instant::now();
    for _ in 0..1000 {
        open(&tracer, "s", &Context::new()).end();
    }
    // 1000 span ends with a hung exporter: nothing waited on it (generous bound for a slow VM)
    assert!(started.elapsed() < Duration::from_secs(2));
    let stats = queue.stats();
    assert!(stats.dropped >= 1000 - 16 - 4, "{stats:?}");
    assert_eq!(stats.queued + stats.dropped, 1000, "{stats:?}");

    open_gate.store(true, Ordering::Relaxed);
    // failed exports are counted; reports come at most once per interval
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue.stats().failed < queue.stats().queued && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(400));
    for _ in 0..10 {
        open(&tracer, "more", &Context::new()).end();
    }
    std::thread::sleep(Duration::from_millis(100));
    let r = reports.lock().unwrap().clone();
    assert!(!r.is_empty(), "losses are reported");
    assert!(r.len() <= 2, "at most one report per interval: {r:#?}");
    assert_eq!(
        r[0].last_error.as_deref(),
        Some("Operation failed: collector said no")
    );
    let reported: u64 = r.iter().map(|x| x.dropped).sum();
    assert!(reported >= 1000 - 20, "{r:#?}");
    let _ = provider.shutdown_with_timeout(Duration::from_secs(2));
}

#[test]
fn shutdown_with_a_hung_exporter_returns_within_its_timeout_and_reports_what_is_left() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let (provider, _queue, tracer) = pipeline(
        Gate {
            open: Arc::new(AtomicBool::new(false)),
            fail: false,
        },
        QueueConfig {
            scheduled_delay: Duration::from_millis(10),
            ..QueueConfig::default()
        },
        Some(reports.clone()),
    );
    open(&tracer, "s", &Context::new()).end();
    std::thread::sleep(Duration::from_millis(50)); // the thread is now stuck exporting
    for _ in 0..5 {
        open(&tracer, "waiting", &Context::new()).end();
    }
    let t = Instant::now();
    let r = provider.shutdown_with_timeout(Duration::from_millis(300));
    assert!(r.is_err(), "a shutdown that could not finish says so");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let r = reports.lock().unwrap().clone();
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!(r[0].unsent, 5, "{r:#?}");
    assert!(r[0]
        .to_string()
        .contains("5 spans still queued at shutdown"));
}

#[test]
fn spans_ended_after_shutdown_are_ignored() {
    let exporter = InMemorySpanExporter::default();
    let (provider, queue, tracer) = pipeline(exporter.clone(), QueueConfig::default(), None);
    open(&tracer, "before", &Context::new()).end();
    queue.force_flush().unwrap();
    assert_eq!(exporter.get_finished_spans().unwrap().len(), 1);
    provider.shutdown().unwrap();
    open(&tracer, "after", &Context::new()).end();
    assert!(queue.force_flush().is_err());
    let stats = queue.stats();
    assert_eq!((stats.queued, stats.exported, stats.dropped), (1, 1, 0));
}

/// What a test exporter read of one span: name, attributes, parent span id, status.
type Read = (String, Vec<KeyValue>, opentelemetry::trace::SpanId, Status);

/// A `FinishedExporter` that keeps what it read through `SpanView`.
#[derive(Clone, Default)]
struct Viewed(Arc<Mutex<Vec<Read>>>);

impl trace_core::export::FinishedExporter for Viewed {
    fn export(&mut self, batch: &[trace_core::export::FinishedSpan]) -> OTelSdkResult {
        use trace_core::export::SpanView;
        let mut seen = self.0.lock().unwrap();
        for s in batch {
            seen.push((
                s.name().to_owned(),
                s.attributes().to_vec(),
                s.parent_span_id(),
                s.status().clone(),
            ));
        }
        Ok(())
    }
}

#[test]
fn a_finished_exporter_reads_own_and_sdk_spans_as_they_are_held() {
    let viewed = Viewed::default();
    let queue = SpanQueue::with_finished_exporter(viewed.clone(), QueueConfig::default());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(queue.clone())
        .with_sampler(sampler().to_sdk())
        .build();
    let tracer = Tracer::from_provider("queue-test", &provider, Some(sampler())).with_queue(&queue);

    let mut parent = open(&tracer, "GET", &Context::new());
    assert!(matches!(parent, SpanHandle::Recording(_)));
    let parent_sc = parent.span_context().clone();
    let cx = Context::new().with_remote_span_context(parent_sc.clone());
    let mut child = provider.tracer("sdk").start_with_context("sdk child", &cx);
    child.end();
    parent.set_status(Status::error("boom"));
    parent.end();
    queue.force_flush().unwrap();

    let seen = viewed.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "both kinds of span reach the exporter");
    let own = seen
        .iter()
        .find(|s| s.0 == "GET")
        .expect("the adapter span");
    assert_eq!(
        own.1,
        vec![
            KeyValue::new("db.system.name", "redis"),
            KeyValue::new("server.port", 6379i64)
        ]
    );
    assert_eq!(own.3, Status::error("boom"));
    let sdk = seen
        .iter()
        .find(|s| s.0 == "sdk child")
        .expect("the SDK span");
    assert_eq!(sdk.2, parent_sc.span_id());
    assert_eq!(queue.stats().exported, 2);
    let _ = provider.shutdown();
}

/// A `FinishedExporter` that takes each batch and reads it on a thread of its own, then
/// answers `fail` or success.
struct Elsewhere {
    seen: Arc<Mutex<Vec<(String, std::thread::ThreadId)>>>,
    fail: bool,
}

impl trace_core::export::FinishedExporter for Elsewhere {
    fn export(&mut self, _: &[trace_core::export::FinishedSpan]) -> OTelSdkResult {
        panic!("the queue hands its batches over with export_owned")
    }
    fn export_owned(&mut self, batch: trace_core::export::FinishedBatch) -> OTelSdkResult {
        use trace_core::export::SpanView;
        let seen = self.seen.clone();
        std::thread::spawn(move || {
            let here = std::thread::current().id();
            let mut seen = seen.lock().unwrap();
            seen.extend(batch.iter().map(|s| (s.name().to_owned(), here)));
            // the batch, and the spans in it, are freed here
        })
        .join()
        .unwrap();
        answer(self.fail)
    }
}

#[test]
fn an_exporter_may_take_its_batches_to_another_thread_and_its_failures_are_counted() {
    for fail in [false, true] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let exporter = Elsewhere {
            seen: seen.clone(),
            fail,
        };
        let queue = SpanQueue::with_finished_exporter(exporter, QueueConfig::default());
        let provider = SdkTracerProvider::builder()
            .with_span_processor(queue.clone())
            .with_sampler(sampler().to_sdk())
            .build();
        let tracer =
            Tracer::from_provider("queue-test", &provider, Some(sampler())).with_queue(&queue);
        for name in ["GET", "SET", "DEL"] {
            open(&tracer, name, &Context::new()).end();
        }
        let flushed = queue.force_flush();
        let mut names: Vec<_> = seen.lock().unwrap().iter().map(|s| s.0.clone()).collect();
        names.sort();
        assert_eq!(names, ["DEL", "GET", "SET"], "fail: {fail}");
        let test_thread = std::thread::current().id();
        assert!(seen.lock().unwrap().iter().all(|s| s.1 != test_thread));
        let stats = queue.stats();
        if fail {
            assert!(flushed.is_err(), "a failed export is the flush's error");
            assert_eq!((stats.exported, stats.failed), (0, 3));
        } else {
            flushed.unwrap();
            assert_eq!((stats.exported, stats.failed), (3, 0));
        }
        let _ = provider.shutdown();
    }
}

/// Keeps the names of what it exported, also after shutdown (the SDK's in-memory exporter
/// forgets them then).
#[derive(Clone, Debug, Default)]
struct Kept(Arc<Mutex<Vec<String>>>);

impl Kept {
    fn names(&self) -> Vec<String> {
        let mut n = self.0.lock().unwrap().clone();
        n.sort();
        n
    }
}

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut kept = self.0.lock().unwrap();
        kept.extend(batch.into_iter().map(|s| s.name.into_owned()));
        Ok(())
    }
}

/// A pipeline with the default batch (threads stage 32 spans per hand-over), exporting every
/// `delay`, into a [`Kept`].
fn staging(delay: Duration) -> (Kept, SdkTracerProvider, SpanQueue, Tracer) {
    let exporter = Kept::default();
    let (provider, queue, tracer) = pipeline(
        exporter.clone(),
        QueueConfig {
            scheduled_delay: delay,
            ..QueueConfig::default()
        },
        None,
    );
    (exporter, provider, queue, tracer)
}

/// Ends `count` spans named `{prefix}{i}` on a new thread, which then waits for `go` (dropped:
/// the thread ends) before it returns.
fn on_thread(
    tracer: &Tracer,
    prefix: &'static str,
    count: usize,
) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let tracer = tracer.clone();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let (ended, done) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        for i in 0..count {
            let name = format!("{prefix}{i:02}");
            tracer
                .start(
                    SpanKind::Internal,
                    &Context::new(),
                    Vec::new(),
                    || (name.into(), Vec::new()),
                    |_| {},
                )
                .end();
        }
        ended.send(()).unwrap();
        let _ = wait.recv();
    });
    done.recv().unwrap();
    (go, t)
}

#[test]
fn spans_a_thread_has_staged_are_exported_at_a_flush_while_it_lives_and_after_it_ends() {
    // no scheduled export here
    let (exporter, provider, queue, tracer) = staging(Duration::from_secs(600));
    // a thread with fewer spans than a hand-over, still running; one with a hand-over and a
    // few more; one that has ended
    let (alive, a) = on_thread(&tracer, "alive", 5);
    let (more, m) = on_thread(&tracer, "more", 40);
    let (gone, g) = on_thread(&tracer, "gone", 3);
    drop(gone);
    g.join().unwrap();
    // counted as queued while staged
    assert_eq!(queue.stats().queued, 48);
    queue.force_flush().unwrap();
    let got = exporter.names();
    assert_eq!(got.len(), 48, "{got:?}");
    for (prefix, n) in [("alive", 5), ("more", 40), ("gone", 3)] {
        for i in 0..n {
            assert!(got.contains(&format!("{prefix}{i:02}")), "{prefix}{i:02}");
        }
    }
    // the living threads stage again after the flush took theirs
    drop((alive, more));
    a.join().unwrap();
    m.join().unwrap();
    let stats = queue.stats();
    assert_eq!((stats.queued, stats.exported, stats.dropped), (48, 48, 0));
    provider.shutdown().unwrap();
}

#[test]
fn staged_spans_leave_at_the_scheduled_export_and_at_shutdown() {
    let (exporter, provider, queue, tracer) = staging(Duration::from_millis(50));
    // staged on a thread that then only waits: the scheduled export takes them
    let (idle, i) = on_thread(&tracer, "idle", 3);
    let deadline = Instant::now() + Duration::from_secs(10);
    while exporter.names().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(exporter.names(), ["idle00", "idle01", "idle02"]);
    // staged just before shutdown: exported by it, without a flush
    let (last, l) = on_thread(&tracer, "last", 2);
    provider.shutdown().unwrap();
    assert_eq!(
        exporter.names(),
        ["idle00", "idle01", "idle02", "last00", "last01"]
    );
    // and the stage is closed: what its thread ends now is neither exported nor counted
    open(&tracer, "after", &Context::new()).end();
    let stats = queue.stats();
    assert_eq!((stats.queued, stats.exported, stats.dropped), (5, 5, 0));
    drop((idle, last));
    i.join().unwrap();
    l.join().unwrap();
}

#[test]
fn a_full_queue_drops_whole_hand_overs_and_counts_every_span() {
    let open_gate = Arc::new(AtomicBool::new(false));
    // batch 64: threads hand over 4 spans at a time; the queue holds 64
    let (provider, queue, tracer) = pipeline(
        Gate {
            open: open_gate.clone(),
            fail: false,
        },
        QueueConfig {
            max_queue_size: 64,
            max_export_batch_size: 64,
            scheduled_delay: Duration::from_millis(10),
            ..QueueConfig::default()
        },
        None,
    );
    let started = Instant::now();
    for _ in 0..1000 {
        open(&tracer, "s", &Context::new()).end();
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    let stats = queue.stats();
    assert_eq!(stats.queued + stats.dropped, 1000, "{stats:?}");
    // what waits: the queue, the batch the exporter holds, one partial hand-over
    assert!(stats.queued <= 64 + 64 + 3, "{stats:?}");
    assert_eq!(stats.dropped % 4, 0, "whole hand-overs: {stats:?}");
    open_gate.store(true, Ordering::Relaxed);
    queue.force_flush().unwrap();
    let stats = queue.stats();
    assert_eq!(stats.exported, stats.queued, "{stats:?}");
    provider.shutdown().unwrap();
}

/// Ends a span when dropped: held in a thread-local, so the span ends while the thread's locals
/// (the span queue's stage among them) are being torn down.
struct EndsOnDrop(Option<Tracer>);

impl Drop for EndsOnDrop {
    fn drop(&mut self) {
        if let Some(tracer) = self.0.take() {
            open(&tracer, "at thread exit", &Context::new()).end();
        }
    }
}

thread_local! {
    static ENDS_ON_DROP: std::cell::RefCell<EndsOnDrop> =
        const { std::cell::RefCell::new(EndsOnDrop(None)) };
}

#[test]
fn a_span_ended_while_its_thread_is_torn_down_is_still_exported() {
    let (exporter, provider, queue, tracer) = staging(Duration::from_secs(600));
    let t = tracer.clone();
    std::thread::spawn(move || {
        // one span first, so the thread has a stage that its exit tears down too
        open(&t, "before exit", &Context::new()).end();
        ENDS_ON_DROP.with(|e| e.borrow_mut().0 = Some(t));
    })
    .join()
    .unwrap();
    queue.force_flush().unwrap();
    assert_eq!(exporter.names(), ["at thread exit", "before exit"]);
    provider.shutdown().unwrap();
}
