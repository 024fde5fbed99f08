//! The span queue: finished spans wait here for one export thread, which batches them and hands
//! them to the exporter: as they are held to a [`FinishedExporter`] (which reads them through
//! [`SpanView`]), or turned into the SDK's `SpanData` for any `SpanExporter`.
//!
//! [`SpanQueue`] takes two kinds of span: the adapters' own [`RecordingSpan`]s (queued by value
//! when they end; everything else happens on the export thread), and the SDK's spans
//! (`tracing` spans through `tracing-opentelemetry`, spans of other libraries), as the provider's
//! [`SpanProcessor`]. It behaves like the SDK's `BatchSpanProcessor` (same `OTEL_BSP_*` meaning:
//! a bounded queue, a batch size, a schedule delay; a full queue drops and counts, it never blocks
//! the caller) and adds delivery accounting: [`SpanQueue::stats`] counts what was queued, exported,
//! dropped at a full queue and lost in failed exports, and a [`DeliveryReport`] goes to a reporter
//! (by default one `tracing` warning) at most once per report interval, never once per span.
//!
//! With an export batch of 32 or more, each thread stages its ended spans and hands them over
//! a sixteenth of a batch at a time (at most 32): the export thread takes what is staged at its
//! scheduled export, at a flush and at shutdown, so a span waits no longer than the schedule
//! delay, as in the SDK. The queue's bound then applies to what was handed over; each thread
//! holds at most one partial hand-over besides.
//!
//! ```
//! use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
//! use trace_core::export::{QueueConfig, SpanQueue};
//!
//! let exporter = InMemorySpanExporter::default();
//! let queue = SpanQueue::new(exporter.clone(), QueueConfig::default());
//! let provider = SdkTracerProvider::builder().with_span_processor(queue.clone()).build();
//! trace_core::tracer::register_queue(&queue);
//! # let _ = provider.shutdown();
//! ```
//!
//! [`RecordingSpan`]: crate::recording::RecordingSpan

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::time::SystemTime;

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter, SpanLimits, SpanProcessor};
use opentelemetry_sdk::Resource;

use crate::recording::Recorded;

/// The queue's settings (the `OTEL_BSP_*` variables and the span limits).
///
/// ```
/// use std::time::Duration;
/// let config = trace_core::export::QueueConfig {
///     max_queue_size: 8192,
///     scheduled_delay: Duration::from_secs(1),
///     ..Default::default()
/// };
/// assert_eq!(config.max_export_batch_size, 512);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct QueueConfig {
    /// Spans that may wait for export; past this, new spans are dropped and counted.
    pub max_queue_size: usize,
    /// Spans per export call.
    pub max_export_batch_size: usize,
    /// Longest wait before a partial batch is exported.
    pub scheduled_delay: Duration,
    /// Limits applied to the adapters' spans (the SDK applies the provider's to its own).
    pub limits: SpanLimits,
    /// Shortest time between two delivery reports.
    pub report_interval: Duration,
}

impl Default for QueueConfig {
    /// The specification's defaults: queue 2048, batch 512, delay 5 s; reports at most every 60 s.
    fn default() -> Self {
        Self {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_secs(5),
            limits: SpanLimits::default(),
            report_interval: Duration::from_secs(60),
        }
    }
}

/// Counters of a [`SpanQueue`] since it started.
///
/// ```
/// use opentelemetry_sdk::trace::InMemorySpanExporter;
/// use trace_core::export::{QueueConfig, QueueStats, SpanQueue};
/// let queue = SpanQueue::new(InMemorySpanExporter::default(), QueueConfig::default());
/// assert_eq!(queue.stats(), QueueStats::default()); // nothing yet
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Spans accepted into the queue.
    pub queued: u64,
    /// Spans the exporter accepted.
    pub exported: u64,
    /// Spans dropped because the queue was full.
    pub dropped: u64,
    /// Spans in exports that failed (collector down, rejected, timed out).
    pub failed: u64,
}

/// What was not delivered since the previous report.
///
/// ```
/// use trace_core::export::{DeliveryReport, QueueStats};
/// let report = DeliveryReport {
///     dropped: 3,
///     failed: 512,
///     unsent: 0,
///     last_error: Some("connection refused".into()),
///     totals: QueueStats::default(),
/// };
/// assert_eq!(
///     report.to_string(),
///     "3 spans dropped (queue full) and 512 spans lost in failed exports since the last report; \
///      last export error: connection refused"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Spans dropped at a full queue in the period.
    pub dropped: u64,
    /// Spans lost in failed exports in the period.
    pub failed: u64,
    /// Spans still queued when the pipeline shut down without finishing (exit with the
    /// collector unreachable): lost with the process. Zero in periodic reports.
    pub unsent: u64,
    /// The last export error in the period, if any.
    pub last_error: Option<String>,
    /// The totals since the queue started.
    pub totals: QueueStats,
}

impl fmt::Display for DeliveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} spans dropped (queue full) and {} spans lost in failed exports since the last report",
            self.dropped, self.failed
        )?;
        if self.unsent > 0 {
            write!(f, "; {} spans still queued at shutdown", self.unsent)?;
        }
        if let Some(e) = &self.last_error {
            write!(f, "; last export error: {e}")?;
        }
        Ok(())
    }
}

/// Receives delivery reports (at most one per report interval). See
/// [`SpanQueue::with_reporter`].
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// static LOST: AtomicU64 = AtomicU64::new(0);
/// let reporter: trace_core::export::Reporter =
///     Arc::new(|r| { LOST.fetch_add(r.dropped + r.failed, Ordering::Relaxed); });
/// ```
pub type Reporter = Arc<dyn Fn(&DeliveryReport) + Send + Sync>;

fn log_report(r: &DeliveryReport) {
    tracing::warn!(
        target: "trace_core::export",
        dropped = r.dropped,
        failed = r.failed,
        unsent = r.unsent,
        total_dropped = r.totals.dropped,
        total_failed = r.totals.failed,
        "{r}"
    );
}

/// What goes through the channel to the export thread: one span, or a thread's staged spans
/// (see [`Stage`]). A single span travels by value, as the channel did before staging (small
/// export batches stage nothing).
#[allow(clippy::large_enum_variant)]
enum Handoff {
    One(Finished),
    Batch(Vec<Finished>),
}

impl Handoff {
    fn len(&self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Batch(b) => b.len(),
        }
    }
}

/// The spans one thread has ended for one queue and not yet handed over: they go to the
/// export thread [`STAGE_SPANS`] at a time, or when the export thread takes them (at its
/// scheduled export, a flush, or shutdown). The thread writes only memory of its own per span
/// (its stage's lock and vector); the channel's slot, the shared counters and the wake-up check,
/// whose cache lines the export thread writes, are touched once per hand-over. On a machine
/// where a line that moved to another core takes hundreds of nanoseconds to come back, that was
/// most of a span's cost.
struct Stage {
    state: Mutex<StageState>,
}

/// The stages of one queue.
#[derive(Default)]
struct Registry {
    stages: Vec<Arc<Stage>>,
    /// The queue has shut down: no new stages.
    closed: bool,
}

#[derive(Default)]
struct StageState {
    spans: Vec<Finished>,
    /// The queue has shut down: what comes now is discarded.
    closed: bool,
}

/// Spans a thread stages before handing them over (at most; fewer when the export batch is
/// small, see [`SpanQueue::stage_size`]).
const STAGE_SPANS: usize = 32;

/// A source of queue ids: a thread's stages are keyed by the queue's id, never reused.
static NEXT_QUEUE_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's stages, one per queue it has ended spans for.
    static STAGES: std::cell::RefCell<Vec<(u64, Arc<Stage>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A finished span waiting for export, held by value in the channel: the memory a span was built
/// in is freed on the thread that built it (where the allocator reuses it for the next span),
/// not on the export thread.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Finished {
    /// One of the adapters' spans.
    Recorded(Recorded),
    /// A span of the SDK (boxed: the adapters' spans, the common case, are what sets the size
    /// every staged and queued span takes).
    Sdk(Box<SpanData>),
}

/// Read access to a finished span's data: what an exporter writes out. Implemented by the SDK's
/// `SpanData` and by [`FinishedSpan`], so one encoder serves both.
///
/// ```
/// use trace_core::export::SpanView;
///
/// /// One line per span, from either form.
/// fn line(span: &impl SpanView) -> String {
///     let took = span.end_time().duration_since(span.start_time()).unwrap_or_default();
///     format!("{} {:?} {} attributes", span.name(), took, span.attributes().len())
/// }
/// # let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
/// # let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
/// #     .with_simple_exporter(exporter.clone())
/// #     .build();
/// # use opentelemetry::trace::{Tracer as _, TracerProvider as _};
/// # provider.tracer("doc").in_span("op", |_| ());
/// # let spans = exporter.get_finished_spans().unwrap();
/// assert!(line(&spans[0]).starts_with("op "));
/// ```
pub trait SpanView {
    /// The span's own context (trace id, span id, flags, trace state).
    fn span_context(&self) -> &SpanContext;
    /// The parent's span id; [`SpanId::INVALID`] for a root span.
    fn parent_span_id(&self) -> SpanId;
    /// Whether the parent came from another process.
    fn parent_is_remote(&self) -> bool;
    /// The span name.
    fn name(&self) -> &str;
    /// The span kind.
    fn kind(&self) -> &SpanKind;
    /// When the span started.
    fn start_time(&self) -> SystemTime;
    /// When the span ended.
    fn end_time(&self) -> SystemTime;
    /// The attributes, in the order they were set.
    fn attributes(&self) -> &[KeyValue];
    /// Attributes dropped by the span limits.
    fn dropped_attributes_count(&self) -> u32;
    /// The events.
    fn events(&self) -> &[Event];
    /// Events dropped by the span limits.
    fn dropped_events_count(&self) -> u32;
    /// The links.
    fn links(&self) -> &[Link];
    /// Links dropped by the span limits.
    fn dropped_links_count(&self) -> u32;
    /// The status.
    fn status(&self) -> &Status;
    /// The instrumentation scope.
    fn instrumentation_scope(&self) -> &InstrumentationScope;
}

impl SpanView for SpanData {
    fn span_context(&self) -> &SpanContext {
        &self.span_context
    }
    fn parent_span_id(&self) -> SpanId {
        self.parent_span_id
    }
    fn parent_is_remote(&self) -> bool {
        self.parent_span_is_remote
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &SpanKind {
        &self.span_kind
    }
    fn start_time(&self) -> SystemTime {
        self.start_time
    }
    fn end_time(&self) -> SystemTime {
        self.end_time
    }
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn dropped_attributes_count(&self) -> u32 {
        self.dropped_attributes_count
    }
    fn events(&self) -> &[Event] {
        &self.events.events
    }
    fn dropped_events_count(&self) -> u32 {
        self.events.dropped_count
    }
    fn links(&self) -> &[Link] {
        &self.links.links
    }
    fn dropped_links_count(&self) -> u32 {
        self.links.dropped_count
    }
    fn status(&self) -> &Status {
        &self.status
    }
    fn instrumentation_scope(&self) -> &InstrumentationScope {
        &self.instrumentation_scope
    }
}

/// A finished span as the span queue holds it: one of the adapters' spans as it was recorded, or
/// an SDK span. A [`FinishedExporter`] is lent each batch and reads it through [`SpanView`]
/// without converting it (see the example there); the queue frees the spans afterwards.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
/// use opentelemetry_sdk::error::OTelSdkResult;
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use trace_core::export::{FinishedExporter, FinishedSpan, QueueConfig, SpanQueue, SpanView};
///
/// #[derive(Clone, Default)]
/// struct Names(Arc<Mutex<Vec<String>>>);
/// impl FinishedExporter for Names {
///     fn export(&mut self, batch: &[FinishedSpan]) -> OTelSdkResult {
///         let mut names = self.0.lock().unwrap();
///         names.extend(batch.iter().map(|s| format!("{} {:?}", s.name(), s.kind())));
///         Ok(())
///     }
/// }
/// let names = Names::default();
/// let queue = SpanQueue::with_finished_exporter(names.clone(), QueueConfig::default());
/// let provider = SdkTracerProvider::builder().with_span_processor(queue).build();
/// provider.tracer("doc").in_span("nightly", |_| ());
/// provider.force_flush().unwrap();
/// assert_eq!(*names.0.lock().unwrap(), ["nightly Internal"]);
/// ```
pub struct FinishedSpan(Finished);

impl fmt::Debug for FinishedSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinishedSpan")
            .field("name", &self.name())
            .field("span_context", self.span_context())
            .finish_non_exhaustive()
    }
}

impl FinishedSpan {
    /// The span in the SDK's form (for exporters that take `SpanData`).
    fn into_span_data(self) -> SpanData {
        match self.0 {
            Finished::Recorded(r) => r.into_span_data(),
            Finished::Sdk(s) => *s,
        }
    }

    /// Frees the span on this thread, handing its attribute vector back to the pool the
    /// adapters take theirs from.
    fn release(self) {
        if let Finished::Recorded(r) = self.0 {
            r.release();
        }
    }
}

macro_rules! delegate_view {
    ($($name:ident -> $ty:ty),* $(,)?) => {
        impl SpanView for FinishedSpan {
            $(
                #[inline]
                fn $name(&self) -> $ty {
                    match &self.0 {
                        Finished::Recorded(r) => r.$name(),
                        Finished::Sdk(s) => s.$name(),
                    }
                }
            )*
        }
    };
}

delegate_view!(
    span_context -> &SpanContext,
    parent_span_id -> SpanId,
    parent_is_remote -> bool,
    name -> &str,
    kind -> &SpanKind,
    start_time -> SystemTime,
    end_time -> SystemTime,
    attributes -> &[KeyValue],
    dropped_attributes_count -> u32,
    events -> &[Event],
    dropped_events_count -> u32,
    links -> &[Link],
    dropped_links_count -> u32,
    status -> &Status,
    instrumentation_scope -> &InstrumentationScope,
);

/// An exporter that takes the span queue's spans as they are held ([`FinishedSpan`], read through
/// [`SpanView`]) instead of the SDK's `SpanData`: the adapters' spans skip the conversion. With
/// [`export`](Self::export) the queue frees each batch on its own thread after the call; with
/// [`export_owned`](Self::export_owned) the exporter takes the batch and frees it where it drops it.
///
/// ```
/// use opentelemetry_sdk::error::OTelSdkResult;
/// use trace_core::export::{FinishedExporter, FinishedSpan, QueueConfig, SpanQueue, SpanView};
///
/// struct Names;
/// impl FinishedExporter for Names {
///     fn export(&mut self, batch: &[FinishedSpan]) -> OTelSdkResult {
///         for span in batch {
///             println!("{} ({} attributes)", span.name(), span.attributes().len());
///         }
///         Ok(())
///     }
/// }
/// let queue = SpanQueue::with_finished_exporter(Names, QueueConfig::default());
/// # let _ = queue;
/// ```
pub trait FinishedExporter: Send + 'static {
    /// Exports one batch; returns when it is delivered or has failed.
    fn export(&mut self, batch: &[FinishedSpan]) -> OTelSdkResult;
    /// Exports one batch it owns, for an exporter that reads the spans on another thread (its
    /// sending thread, so the request body it writes is read where it was written); returns
    /// when it is delivered or has failed. The spans are freed where the batch is dropped. By
    /// default, [`export`](Self::export).
    ///
    /// ```
    /// use opentelemetry_sdk::error::OTelSdkResult;
    /// use trace_core::export::{FinishedBatch, FinishedExporter, FinishedSpan, SpanView};
    ///
    /// struct Elsewhere;
    /// impl FinishedExporter for Elsewhere {
    ///     fn export(&mut self, batch: &[FinishedSpan]) -> OTelSdkResult {
    ///         batch.iter().for_each(|s| println!("{}", s.name()));
    ///         Ok(())
    ///     }
    ///     fn export_owned(&mut self, batch: FinishedBatch) -> OTelSdkResult {
    ///         // read and freed on a thread of the exporter's
    ///         std::thread::spawn(move || batch.len()).join().map(drop).map_err(|_| {
    ///             opentelemetry_sdk::error::OTelSdkError::InternalFailure("panicked".into())
    ///         })
    ///     }
    /// }
    /// ```
    fn export_owned(&mut self, batch: FinishedBatch) -> OTelSdkResult {
        self.export(&batch)
    }
    /// Called once when the queue shuts down.
    fn shutdown(&mut self) -> OTelSdkResult {
        Ok(())
    }
    /// The provider's resource, before the first export.
    fn set_resource(&mut self, _resource: &Resource) {}
}

/// Where the export thread's batches go: an SDK exporter (spans converted to `SpanData`) or a
/// [`FinishedExporter`].
trait Sink: Send + 'static {
    fn push(&mut self, span: Finished);
    fn len(&self) -> usize;
    /// Exports what is held and empties the batch.
    fn export(&mut self) -> OTelSdkResult;
    fn shutdown(&mut self) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &Resource);
}

struct SdkSink<E> {
    exporter: E,
    batch: Vec<SpanData>,
    batch_size: usize,
}

impl<E: SpanExporter + 'static> Sink for SdkSink<E> {
    fn push(&mut self, span: Finished) {
        self.batch.push(FinishedSpan(span).into_span_data());
    }
    fn len(&self) -> usize {
        self.batch.len()
    }
    fn export(&mut self) -> OTelSdkResult {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size));
        futures_executor::block_on(self.exporter.export(batch))
    }
    fn shutdown(&mut self) -> OTelSdkResult {
        self.exporter.shutdown()
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource);
    }
}

/// A batch of finished spans handed to [`FinishedExporter::export_owned`]: read as a slice;
/// dropped, it frees its spans and hands their attribute vectors back to the adapters' pool.
pub struct FinishedBatch(Vec<FinishedSpan>);

impl fmt::Debug for FinishedBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinishedBatch")
            .field("spans", &self.0.len())
            .finish()
    }
}

impl std::ops::Deref for FinishedBatch {
    type Target = [FinishedSpan];
    fn deref(&self) -> &[FinishedSpan] {
        &self.0
    }
}

impl Drop for FinishedBatch {
    fn drop(&mut self) {
        for span in self.0.drain(..) {
            span.release();
        }
    }
}

struct FinishedSink<E> {
    exporter: E,
    batch: Vec<FinishedSpan>,
    batch_size: usize,
}

impl<E: FinishedExporter> Sink for FinishedSink<E> {
    fn push(&mut self, span: Finished) {
        self.batch.push(FinishedSpan(span));
    }
    fn len(&self) -> usize {
        self.batch.len()
    }
    fn export(&mut self) -> OTelSdkResult {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size));
        self.exporter.export_owned(FinishedBatch(batch))
    }
    fn shutdown(&mut self) -> OTelSdkResult {
        self.exporter.shutdown()
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource);
    }
}

enum Control {
    Wake,
    Flush(SyncSender<OTelSdkResult>),
    Shutdown(SyncSender<OTelSdkResult>),
    Resource(Box<Resource>),
}

/// A value on cache lines of its own: the request threads' counter and the export thread's are
/// not written on the same line.
#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

#[derive(Default)]
struct Counters {
    /// Spans in the channel so far (written by the threads that end spans).
    queued: Padded<AtomicU64>,
    /// Spans taken out of the channel so far, less those the export thread holds for its next
    /// batch (written by the export thread only): what the channel and that batch hold together
    /// is `queued - taken`.
    taken: Padded<AtomicU64>,
    exported: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    /// Spans in the channel or held for the next batch.
    fn pending(&self) -> u64 {
        self.queued
            .load(Ordering::Acquire)
            .saturating_sub(self.taken.load(Ordering::Acquire))
    }

    fn snapshot(&self) -> QueueStats {
        QueueStats {
            queued: self.queued.load(Ordering::Relaxed),
            exported: self.exported.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// Delivery reporting, shared by the export thread (periodic reports) and the caller of a
/// shutdown (the last report, also when the export thread could not finish in time).
struct Reporting {
    reporter: Reporter,
    interval: Duration,
    counters: Arc<Counters>,
    state: Mutex<ReportState>,
}

struct ReportState {
    reported: QueueStats,
    last: Instant,
    last_error: Option<String>,
}

impl Reporting {
    fn note_error(&self, e: String) {
        if let Ok(mut st) = self.state.lock() {
            st.last_error = Some(e);
        }
    }

    /// Reports what was lost since the last report, when the interval has passed (always when
    /// `last`).
    fn report(&self, last: bool, unsent: u64) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if !last && st.last.elapsed() < self.interval {
            return;
        }
        let now = self.counters.snapshot();
        let dropped = now.dropped - st.reported.dropped;
        let failed = now.failed - st.reported.failed;
        if dropped == 0 && failed == 0 && unsent == 0 {
            return;
        }
        let report = DeliveryReport {
            dropped,
            failed,
            unsent,
            last_error: st.last_error.take(),
            totals: now,
        };
        st.reported = now;
        st.last = Instant::now();
        drop(st);
        (self.reporter)(&report);
    }
}

struct Shared {
    /// A handle that lives as long as the process, for spans to hold without counting
    /// references (see [`SpanQueue::handle`]).
    handle: std::sync::OnceLock<&'static SpanQueue>,
    spans: SyncSender<Handoff>,
    control: SyncSender<Control>,
    /// This queue's id in the threads' [`STAGES`].
    id: u64,
    /// Spans per hand-over from a thread's stage (1: no staging).
    stage_size: usize,
    /// Every thread's stage for this queue (the export thread takes from them).
    stages: Arc<Mutex<Registry>>,
    /// Emptied stage vectors, back from the export thread.
    spare: Arc<crossbeam_queue::ArrayQueue<Vec<Finished>>>,
    wake_sent: Arc<AtomicBool>,
    batch_size: usize,
    limits: SpanLimits,
    counters: Arc<Counters>,
    reporting: Arc<Reporting>,
    thread: Mutex<Option<JoinHandle<()>>>,
    flush_timeout: Duration,
}

/// The span queue and its export thread. Cloning gives another handle to the same queue.
///
/// It is the provider's span processor (for the SDK's spans) and, registered with
/// [`tracer::register_queue`](crate::tracer::register_queue), takes the adapters' spans as they
/// are. `trace-init` builds it from the `OTEL_BSP_*` variables.
///
/// ```
/// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
/// use trace_core::export::{QueueConfig, SpanQueue};
///
/// let exporter = InMemorySpanExporter::default();
/// let queue = SpanQueue::new(exporter.clone(), QueueConfig::default());
/// let provider = SdkTracerProvider::builder().with_span_processor(queue.clone()).build();
/// provider.tracer("doc").in_span("work", |_| ());
/// provider.force_flush().unwrap();
/// assert_eq!(exporter.get_finished_spans().unwrap()[0].name, "work");
/// assert_eq!((queue.stats().queued, queue.stats().exported), (1, 1));
/// ```
#[derive(Clone)]
pub struct SpanQueue {
    shared: Arc<Shared>,
}

impl fmt::Debug for SpanQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanQueue")
            .field("stats", &self.stats())
            .finish()
    }
}

impl SpanQueue {
    /// Starts the export thread for `exporter`; reports go to a `tracing` warning.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use trace_core::export::{QueueConfig, SpanQueue};
    /// let queue = SpanQueue::new(InMemorySpanExporter::default(), QueueConfig::default());
    /// ```
    pub fn new<E: SpanExporter + 'static>(exporter: E, config: QueueConfig) -> Self {
        Self::with_reporter(exporter, config, Arc::new(log_report))
    }

    /// Starts the export thread for `exporter`, sending delivery reports to `reporter` (a
    /// metrics counter, an alert) instead of the log.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use trace_core::export::{DeliveryReport, QueueConfig, SpanQueue};
    ///
    /// let queue = SpanQueue::with_reporter(
    ///     InMemorySpanExporter::default(),
    ///     QueueConfig::default(),
    ///     Arc::new(|r: &DeliveryReport| eprintln!("tracing lost spans: {r}")),
    /// );
    /// assert_eq!(queue.stats().dropped, 0);
    /// ```
    pub fn with_reporter<E: SpanExporter + 'static>(
        exporter: E,
        config: QueueConfig,
        reporter: Reporter,
    ) -> Self {
        let batch_size = Self::batch_size(&config);
        let sink = SdkSink {
            exporter,
            batch: Vec::with_capacity(batch_size),
            batch_size,
        };
        Self::start(sink, config, reporter)
    }

    /// Starts the export thread for an exporter that reads the queued spans as they are (no
    /// conversion to `SpanData` for the adapters' spans); reports go to a `tracing` warning.
    ///
    /// ```
    /// use opentelemetry_sdk::error::OTelSdkResult;
    /// use trace_core::export::{FinishedExporter, FinishedSpan, QueueConfig, SpanQueue};
    /// struct Discard;
    /// impl FinishedExporter for Discard {
    ///     fn export(&mut self, _batch: &[FinishedSpan]) -> OTelSdkResult {
    ///         Ok(())
    ///     }
    /// }
    /// let queue = SpanQueue::with_finished_exporter(Discard, QueueConfig::default());
    /// ```
    pub fn with_finished_exporter<E: FinishedExporter>(exporter: E, config: QueueConfig) -> Self {
        let batch_size = Self::batch_size(&config);
        let sink = FinishedSink {
            exporter,
            batch: Vec::with_capacity(batch_size),
            batch_size,
        };
        Self::start(sink, config, Arc::new(log_report))
    }

    fn batch_size(config: &QueueConfig) -> usize {
        config
            .max_export_batch_size
            .clamp(1, config.max_queue_size.max(1))
    }

    /// Spans a thread stages before a hand-over: a sixteenth of the export batch, at most
    /// [`STAGE_SPANS`] (32 with the default batch of 512); 1, no staging, for batches under 32.
    fn stage_size(batch_size: usize) -> usize {
        (batch_size / 16).clamp(1, STAGE_SPANS)
    }

    fn start<S: Sink>(sink: S, config: QueueConfig, reporter: Reporter) -> Self {
        let max_queue = config.max_queue_size.max(1);
        let batch_size = Self::batch_size(&config);
        let stage_size = Self::stage_size(batch_size);
        // the bound counts spans: a hand-over holds up to `stage_size` of them
        let (spans, span_rx) = sync_channel((max_queue / stage_size).max(1));
        let stages = Arc::new(Mutex::new(Registry::default()));
        let spare = Arc::new(crossbeam_queue::ArrayQueue::new(
            (max_queue / stage_size).clamp(1, 256),
        ));
        let (control, control_rx) = sync_channel(64);
        let wake_sent = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let reporting = Arc::new(Reporting {
            reporter,
            interval: config.report_interval,
            counters: counters.clone(),
            state: Mutex::new(ReportState {
                reported: QueueStats::default(),
                last: Instant::now(),
                last_error: None,
            }),
        });
        let worker = Worker {
            sink,
            spans: span_rx,
            stages: stages.clone(),
            spare: spare.clone(),
            stage_size,
            control: control_rx,
            wake_sent: wake_sent.clone(),
            counters: counters.clone(),
            held: 0,
            batch_size,
            delay: config.scheduled_delay,
            reporting: reporting.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("trace-export".into())
            .spawn(move || worker.run())
            .ok();
        Self {
            shared: Arc::new(Shared {
                handle: std::sync::OnceLock::new(),
                spans,
                control,
                id: NEXT_QUEUE_ID.fetch_add(1, Ordering::Relaxed),
                stage_size,
                stages,
                spare,
                wake_sent,
                batch_size,
                limits: config.limits,
                counters,
                reporting,
                thread: Mutex::new(thread),
                flush_timeout: Duration::from_secs(5),
            }),
        }
    }

    /// A handle to this queue for the whole process, made once per queue: the adapters' spans
    /// hold it, so opening and ending a span writes no shared reference count (a cache line every
    /// worker thread would otherwise contend for). The queue's memory then stays allocated after
    /// its last other handle is dropped; its export thread still ends at shutdown.
    pub(crate) fn handle(&self) -> &'static SpanQueue {
        self.shared
            .handle
            .get_or_init(|| Box::leak(Box::new(self.clone())))
    }

    /// The counters since the queue started (`queued` includes the spans threads have staged
    /// and not yet handed over).
    ///
    /// ```
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use trace_core::export::{QueueConfig, SpanQueue};
    /// let queue = SpanQueue::new(InMemorySpanExporter::default(), QueueConfig::default());
    /// let s = queue.stats();
    /// assert_eq!((s.queued, s.exported, s.dropped, s.failed), (0, 0, 0, 0));
    /// ```
    pub fn stats(&self) -> QueueStats {
        let mut stats = self.shared.counters.snapshot();
        stats.queued += self.staged();
        stats
    }

    /// Spans the threads have staged and not yet handed over.
    fn staged(&self) -> u64 {
        let Ok(stages) = self.shared.stages.lock() else {
            return 0;
        };
        stages
            .stages
            .iter()
            .filter_map(|stage| stage.state.lock().ok())
            .map(|st| st.spans.len() as u64)
            .sum()
    }

    /// The span limits the adapters' spans are held to.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanLimits};
    /// use trace_core::export::{QueueConfig, SpanQueue};
    /// let config = QueueConfig { limits: SpanLimits { max_attributes_per_span: 32, ..Default::default() }, ..Default::default() };
    /// let queue = SpanQueue::new(InMemorySpanExporter::default(), config);
    /// assert_eq!(queue.limits().max_attributes_per_span, 32);
    /// ```
    pub fn limits(&self) -> SpanLimits {
        self.shared.limits
    }

    /// Queues a finished span; never blocks. A full queue drops it and counts the drop.
    pub(crate) fn push(&self, span: Finished) {
        self.push_with(move || span);
    }

    /// [`push`](Self::push) of the span `make` returns, made where it is stored (a span moved
    /// out of its box is written once, into the stage, not copied on the way).
    #[inline]
    pub(crate) fn push_with(&self, make: impl FnOnce() -> Finished) {
        let s = &self.shared;
        if s.stage_size == 1 {
            return self.hand_over(Handoff::One(make()));
        }
        // staged on this thread; a full stage is handed over whole
        let mut make = Some(make);
        let staged = STAGES.try_with(|stages| {
            let mut stages = stages.try_borrow_mut().ok()?;
            let i = match stages.iter().position(|(id, _)| *id == s.id) {
                Some(i) => i,
                None => {
                    // (the stages of queues that have shut down go first)
                    stages.retain(|(_, st)| st.state.lock().is_ok_and(|st| !st.closed));
                    let stage = Arc::new(Stage {
                        state: Mutex::new(StageState::default()),
                    });
                    let mut registry = s.stages.lock().ok()?;
                    if registry.closed {
                        make.take();
                        return Some(None);
                    }
                    registry.stages.push(stage.clone());
                    drop(registry);
                    stages.push((s.id, stage));
                    stages.len() - 1
                }
            };
            let mut st = stages[i].1.state.lock().ok()?;
            let make = make.take()?;
            if st.closed {
                return Some(None);
            }
            if st.spans.capacity() == 0 {
                st.spans = s
                    .spare
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(s.stage_size));
            }
            st.spans.extend(std::iter::once_with(make));
            Some((st.spans.len() >= s.stage_size).then(|| std::mem::take(&mut st.spans)))
        });
        if let Ok(Some(Some(full))) = staged {
            self.hand_over(Handoff::Batch(full));
        } else if let Some(make) = make {
            // no stage (this thread's locals are being torn down, or a span ended while its
            // own stage was busy): straight to the channel
            self.hand_over(Handoff::One(make()));
        }
    }

    fn hand_over(&self, h: Handoff) {
        let s = &self.shared;
        let n = h.len() as u64;
        match s.spans.try_send(h) {
            Ok(()) => {
                // one shared counter written per hand-over; the export thread's count is only read
                let queued = s.counters.queued.fetch_add(n, Ordering::AcqRel) + n;
                let pending = queued.saturating_sub(s.counters.taken.load(Ordering::Relaxed));
                if pending >= s.batch_size as u64
                    && !s.wake_sent.load(Ordering::Relaxed)
                    && !s.wake_sent.swap(true, Ordering::Relaxed)
                    && s.control.try_send(Control::Wake).is_err()
                {
                    s.wake_sent.store(false, Ordering::Relaxed);
                }
            }
            Err(TrySendError::Full(_)) => {
                s.counters.dropped.fetch_add(n, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                // shut down: nothing more is exported
            }
        }
    }

    fn request(
        &self,
        make: fn(SyncSender<OTelSdkResult>) -> Control,
        timeout: Duration,
    ) -> OTelSdkResult {
        let (tx, rx) = sync_channel(1);
        match self.shared.control.try_send(make(tx)) {
            Ok(()) => match rx.recv_timeout(timeout) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
                Err(RecvTimeoutError::Disconnected) => Err(OTelSdkError::AlreadyShutdown),
            },
            Err(TrySendError::Full(_)) => Err(OTelSdkError::InternalFailure(
                "the export thread's control queue is full".into(),
            )),
            Err(TrySendError::Disconnected(_)) => Err(OTelSdkError::AlreadyShutdown),
        }
    }
}

impl SpanProcessor for SpanQueue {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.push(Finished::Sdk(Box::new(span)));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.request(Control::Flush, self.shared.flush_timeout)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let r = self.request(Control::Shutdown, timeout);
        if r.is_ok() {
            if let Some(t) = self.shared.thread.lock().ok().and_then(|mut t| t.take()) {
                let _ = t.join();
            }
        }
        // The last report, here as well: when the export thread could not finish in time (the
        // collector unreachable), the process may exit before it reports, and what is still
        // queued is lost with it.
        let unsent = if r.is_ok() {
            0
        } else {
            self.shared.counters.pending() + self.staged()
        };
        self.shared.reporting.report(true, unsent);
        r
    }

    fn set_resource(&mut self, resource: &Resource) {
        let _ = self
            .shared
            .control
            .try_send(Control::Resource(Box::new(resource.clone())));
    }
}

struct Worker<S> {
    sink: S,
    spans: Receiver<Handoff>,
    stages: Arc<Mutex<Registry>>,
    spare: Arc<crossbeam_queue::ArrayQueue<Vec<Finished>>>,
    stage_size: usize,
    control: Receiver<Control>,
    wake_sent: Arc<AtomicBool>,
    counters: Arc<Counters>,
    /// Spans in `sink` left from the last drain, waiting for a full batch (not counted in
    /// `counters.taken`, so that they count towards the next wake-up).
    held: u64,
    batch_size: usize,
    delay: Duration,
    reporting: Arc<Reporting>,
}

impl<S: Sink> Worker<S> {
    fn run(mut self) {
        // Nothing the exporter does (HTTP clients, gRPC) may make spans of its own.
        let _suppress = Context::enter_telemetry_suppressed_scope();
        // here, not on a request thread: the counter's calibration measures for a millisecond
        crate::clock::calibrate();
        let mut last_export = Instant::now();
        loop {
            let wait = self
                .delay
                .checked_sub(last_export.elapsed())
                .unwrap_or(Duration::ZERO);
            match self.control.recv_timeout(wait) {
                Ok(Control::Wake) => {
                    self.wake_sent.store(false, Ordering::Relaxed);
                    let _ = self.drain(Stages::Leave);
                    last_export = Instant::now();
                }
                Ok(Control::Flush(reply)) => {
                    let r = self.drain(Stages::Take);
                    last_export = Instant::now();
                    let _ = reply.send(r);
                }
                Ok(Control::Shutdown(reply)) => {
                    let r = self.drain(Stages::Close);
                    let _ = self.sink.shutdown();
                    self.reporting.report(true, 0);
                    let _ = reply.send(r);
                    return;
                }
                Ok(Control::Resource(r)) => self.sink.set_resource(&r),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.drain(Stages::Take);
                    last_export = Instant::now();
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.drain(Stages::Close);
                    return;
                }
            }
            self.reporting.report(false, 0);
        }
    }

    /// Takes every span handed over when it is called and exports it in full batches; with
    /// `stages`, also what the threads have staged, and then exports the rest as a last, partial
    /// batch (`Stages::Close`: and marks their stages closed, at shutdown).
    fn drain(&mut self, stages: Stages) -> OTelSdkResult {
        let mut result = Ok(());
        let mut target = self.counters.pending();
        while target > 0 {
            let Ok(h) = self.spans.try_recv() else {
                break;
            };
            let n = h.len() as u64;
            target = target.saturating_sub(n);
            self.counters.taken.fetch_add(n, Ordering::Release);
            match h {
                Handoff::One(span) => self.feed(span, &mut result),
                Handoff::Batch(batch) => self.feed_all(batch, &mut result),
            }
        }
        if stages != Stages::Leave {
            let all: Vec<Arc<Stage>> = match self.stages.lock() {
                Ok(mut registry) => {
                    registry.closed |= stages == Stages::Close;
                    registry.stages.clone()
                }
                Err(_) => Vec::new(),
            };
            for stage in &all {
                let staged = match stage.state.lock() {
                    Ok(mut st) => {
                        st.closed |= stages == Stages::Close;
                        std::mem::take(&mut st.spans)
                    }
                    Err(_) => continue,
                };
                let n = staged.len() as u64;
                if n > 0 {
                    self.counters.queued.fetch_add(n, Ordering::AcqRel);
                    self.counters.taken.fetch_add(n, Ordering::Release);
                    self.feed_all(staged, &mut result);
                }
            }
            drop(all);
            // the stages of threads that have ended (only this list holds them) and are empty
            if let Ok(mut registry) = self.stages.lock() {
                registry.stages.retain(|st| {
                    Arc::strong_count(st) > 1 || st.state.lock().is_ok_and(|s| !s.spans.is_empty())
                });
            }
            if self.sink.len() > 0 {
                self.export(&mut result);
            }
        }
        // A wake-up exports full batches only (`feed` sends each as it fills): the few spans
        // that came in beside the batch that woke this thread wait in the sink for the next
        // one, or for the scheduled export, instead of making an export request of their own.
        // They count as pending again, so a batch's worth, held and handed over together, wakes
        // this thread as the specification's batch processor is woken.
        let held = self.sink.len() as u64;
        if held > self.held {
            self.counters
                .taken
                .fetch_sub(held - self.held, Ordering::Release);
        } else if held < self.held {
            self.counters
                .taken
                .fetch_add(self.held - held, Ordering::Release);
        }
        self.held = held;
        result
    }

    fn feed_all(&mut self, mut batch: Vec<Finished>, result: &mut OTelSdkResult) {
        for span in batch.drain(..) {
            self.feed(span, result);
        }
        if batch.capacity() == self.stage_size {
            let _ = self.spare.push(batch);
        }
    }

    fn feed(&mut self, span: Finished, result: &mut OTelSdkResult) {
        self.sink.push(span);
        if self.sink.len() >= self.batch_size {
            self.export(result);
        }
    }

    fn export(&mut self, result: &mut OTelSdkResult) {
        let n = self.sink.len() as u64;
        match self.sink.export() {
            Ok(()) => {
                self.counters.exported.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                self.counters.failed.fetch_add(n, Ordering::Relaxed);
                self.reporting.note_error(e.to_string());
                *result = Err(e);
            }
        }
    }
}

/// Whether a drain takes the threads' staged spans too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stages {
    /// Only what was handed over, and only full batches exported (a wake-up: a batch's worth
    /// is waiting).
    Leave,
    /// Staged spans too (the scheduled export, a flush).
    Take,
    /// Staged spans too, and no more staging (shutdown).
    Close,
}
