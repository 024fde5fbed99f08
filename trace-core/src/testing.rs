//! An in-memory pipeline for tests: every finished span is kept, and a test reads the spans of its
//! own trace as a tree. Enabled by the `testing` feature.
//!
//! The pipeline is process-wide (the OpenTelemetry globals and the `tracing` global subscriber are),
//! so tests running in parallel share it and each reads only its own trace id.
//!
//! ```
//! use opentelemetry::trace::{Tracer, TraceContextExt};
//! let pipeline = trace_core::testing::install();
//! let tracer = opentelemetry::global::tracer("doc-test");
//! let trace_id = tracer.in_span("work", |cx| cx.span().span_context().trace_id());
//! let trace = pipeline.wait_for_spans(trace_id, 1);
//! assert_eq!(trace.span("work").name, "work");
//! ```

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{global, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

use crate::attributes::is_declared;
use crate::export::{QueueConfig, SpanQueue};
use crate::tracer::{KnownSampler, PresetIdGenerator, RootSampler};

/// The installed test pipeline: read the spans of one trace with [`TestPipeline::trace`] or,
/// for spans that end on another task, [`TestPipeline::wait_for_spans`] /
/// [`TestPipeline::wait_until`].
///
/// ```
/// use opentelemetry::trace::TraceContextExt;
/// let pipeline = trace_core::testing::install();
/// let span = tracing::info_span!("parent");
/// let trace_id = span.in_scope(|| {
///     tracing::info_span!("child").in_scope(|| {});
///     opentelemetry::Context::current().span().span_context().trace_id()
/// });
/// drop(span);
/// let trace = pipeline.wait_until(trace_id, |t| t.find("parent").is_some());
/// assert_eq!(trace.spans.len(), 2);
/// assert!(pipeline.all_spans().len() >= 2);
/// ```
#[derive(Debug)]
pub struct TestPipeline {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

/// Installs the test pipeline once per process and returns it: a global tracer provider that keeps
/// every span in memory, the W3C trace-context and baggage propagators, and a global `tracing`
/// subscriber bridging `tracing` spans and events onto the trace.
///
/// ```
/// let first = trace_core::testing::install();
/// let again = trace_core::testing::install(); // every test may call it
/// assert!(std::ptr::eq(first, again));
/// ```
pub fn install() -> &'static TestPipeline {
    static PIPELINE: OnceLock<TestPipeline> = OnceLock::new();
    PIPELINE.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let sampler = KnownSampler::ParentBased(RootSampler::AlwaysOn);
        // the same queue trace-init exports through, so tests see what production exports
        let queue = SpanQueue::new(
            exporter.clone(),
            QueueConfig {
                max_queue_size: 1 << 16,
                scheduled_delay: Duration::from_millis(20),
                ..QueueConfig::default()
            },
        );
        let provider = SdkTracerProvider::builder()
            .with_span_processor(queue.clone())
            .with_sampler(sampler.to_sdk())
            .with_id_generator(PresetIdGenerator::default())
            .build();
        crate::tracer::register(&provider, Some(sampler), true);
        crate::tracer::register_queue(&queue);
        global::set_tracer_provider(provider.clone());
        global::set_text_map_propagator(crate::propagation::default_propagator());
        let otel = crate::events::bridge_layer(&provider);
        let subscriber = tracing_subscriber::registry()
            .with(otel)
            .with(crate::events::SpanEventsLayer::new());
        let _ = tracing::subscriber::set_global_default(subscriber);
        TestPipeline { exporter, provider }
    })
}

impl TestPipeline {
    /// Every span finished so far.
    ///
    /// ```
    /// let spans = trace_core::testing::install().all_spans();
    /// ```
    pub fn all_spans(&self) -> Vec<SpanData> {
        let _ = self.provider.force_flush();
        self.exporter.get_finished_spans().unwrap_or_default()
    }

    /// The finished spans of one trace.
    ///
    /// ```
    /// let pipeline = trace_core::testing::install();
    /// let trace = pipeline.trace(opentelemetry::trace::TraceId::from(1_u128));
    /// assert!(trace.spans.is_empty());
    /// ```
    pub fn trace(&self, trace_id: TraceId) -> Trace {
        Trace {
            spans: self
                .all_spans()
                .into_iter()
                .filter(|s| s.span_context.trace_id() == trace_id)
                .collect(),
        }
    }

    /// Waits (up to 10 s) until the trace has at least `n` finished spans, then returns it.
    /// Spans end asynchronously (a server span ends when its body is done), hence the wait.
    ///
    /// ```
    /// use opentelemetry::trace::{TraceContextExt, Tracer as _};
    /// let pipeline = trace_core::testing::install();
    /// let id = opentelemetry::global::tracer("doc").in_span("a", |cx| cx.span().span_context().trace_id());
    /// assert_eq!(pipeline.wait_for_spans(id, 1).spans.len(), 1);
    /// ```
    pub fn wait_for_spans(&self, trace_id: TraceId, n: usize) -> Trace {
        self.wait_until(trace_id, |t| t.spans.len() >= n)
    }

    /// Waits (up to 10 s) until `ready` holds for the trace; panics with the trace otherwise.
    ///
    /// ```
    /// use opentelemetry::trace::{TraceContextExt, Tracer as _};
    /// let pipeline = trace_core::testing::install();
    /// let id = opentelemetry::global::tracer("doc").in_span("b", |cx| cx.span().span_context().trace_id());
    /// let trace = pipeline.wait_until(id, |t| t.find("b").is_some());
    /// ```
    pub fn wait_until(&self, trace_id: TraceId, mut ready: impl FnMut(&Trace) -> bool) -> Trace {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let t = self.trace(trace_id);
            if ready(&t) {
                return t;
            }
            if Instant::now() > deadline {
                panic!(
                    "trace {trace_id} never became ready; it holds:\n{}",
                    t.render()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The finished spans of one trace, read as a tree.
///
/// ```
/// use opentelemetry::trace::TraceContextExt;
/// let pipeline = trace_core::testing::install();
/// let root = tracing::info_span!("request");
/// let trace_id = root.in_scope(|| {
///     tracing::info_span!("query").in_scope(|| {});
///     tracing::info_span!("render").in_scope(|| {});
///     opentelemetry::Context::current().span().span_context().trace_id()
/// });
/// drop(root);
/// let trace = pipeline.wait_for_spans(trace_id, 3);
/// let request = trace.span("request");
/// assert_eq!(trace.roots().len(), 1);
/// assert_eq!(trace.children(request).len(), 2);
/// assert!(trace.find("missing").is_none());
/// assert!(trace.render().starts_with("request [Internal]"));
/// ```
#[derive(Debug, Clone)]
pub struct Trace {
    /// The spans, in the order they finished.
    pub spans: Vec<SpanData>,
}

impl Trace {
    /// The first span with this name, if any.
    ///
    /// ```
    /// let trace = trace_core::testing::Trace { spans: Vec::new() };
    /// assert!(trace.find("GET /").is_none());
    /// ```
    pub fn find(&self, name: &str) -> Option<&SpanData> {
        self.spans.iter().find(|s| s.name == name)
    }

    /// The span with this name; panics with the whole trace if there is none.
    ///
    /// ```
    /// use opentelemetry::trace::{TraceContextExt, Tracer as _};
    /// let pipeline = trace_core::testing::install();
    /// let id = opentelemetry::global::tracer("doc").in_span("c", |cx| cx.span().span_context().trace_id());
    /// assert_eq!(pipeline.wait_for_spans(id, 1).span("c").name, "c");
    /// ```
    pub fn span(&self, name: &str) -> &SpanData {
        self.find(name)
            .unwrap_or_else(|| panic!("no span named {name:?} in:\n{}", self.render()))
    }

    /// The spans whose parent is `parent`.
    ///
    /// ```
    /// use opentelemetry::trace::{TraceContextExt, Tracer as _};
    /// let pipeline = trace_core::testing::install();
    /// let tracer = opentelemetry::global::tracer("doc");
    /// let id = tracer.in_span("parent", |cx| {
    ///     tracer.in_span("child", |_| {});
    ///     cx.span().span_context().trace_id()
    /// });
    /// let trace = pipeline.wait_for_spans(id, 2);
    /// assert_eq!(trace.children(trace.span("parent"))[0].name, "child");
    /// ```
    pub fn children(&self, parent: &SpanData) -> Vec<&SpanData> {
        self.spans
            .iter()
            .filter(|s| s.parent_span_id == parent.span_context.span_id())
            .collect()
    }

    /// The spans whose parent is not in this trace (the local roots).
    ///
    /// ```
    /// assert!(trace_core::testing::Trace { spans: Vec::new() }.roots().is_empty());
    /// ```
    pub fn roots(&self) -> Vec<&SpanData> {
        self.spans
            .iter()
            .filter(|s| {
                s.parent_span_id == SpanId::INVALID
                    || !self
                        .spans
                        .iter()
                        .any(|p| p.span_context.span_id() == s.parent_span_id)
            })
            .collect()
    }

    /// The trace as an indented tree of `name [kind] key=value ...`, for failure messages.
    ///
    /// ```
    /// assert_eq!(trace_core::testing::Trace { spans: Vec::new() }.render(), "");
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::new();
        for r in self.roots() {
            self.render_into(r, 0, &mut out);
        }
        out
    }

    fn render_into(&self, s: &SpanData, depth: usize, out: &mut String) {
        let _ = write!(
            out,
            "{:indent$}{} [{:?}] {:?}",
            "",
            s.name,
            s.span_kind,
            s.status,
            indent = depth * 2
        );
        for kv in &s.attributes {
            let _ = write!(out, " {}={}", kv.key, kv.value);
        }
        out.push('\n');
        for c in self.children(s) {
            self.render_into(c, depth + 1, out);
        }
    }
}

/// Reading attributes of an exported span.
///
/// ```
/// use opentelemetry::trace::TraceContextExt;
/// use trace_core::testing::SpanDataExt;
///
/// let pipeline = trace_core::testing::install();
/// let span = tracing::info_span!("lookup", db.system.name = "postgresql");
/// let trace_id =
///     span.in_scope(|| opentelemetry::Context::current().span().span_context().trace_id());
/// drop(span);
/// let trace = pipeline.wait_for_spans(trace_id, 1);
/// let lookup = trace.span("lookup");
/// assert_eq!(lookup.str_attr("db.system.name"), "postgresql");
/// assert!(lookup.attr("db.namespace").is_none());
/// lookup.assert_declared(&[]); // every attribute is one the core schema declares
/// ```
pub trait SpanDataExt {
    /// The value of attribute `key`.
    fn attr(&self, key: &str) -> Option<&Value>;
    /// The string value of `key`; panics if absent or not a string.
    fn str_attr(&self, key: &str) -> &str;
    /// The integer value of `key`; panics if absent or not an integer.
    fn int_attr(&self, key: &str) -> i64;
    /// Panics if the span carries an attribute the core schema does not declare (other than
    /// `extra`, e.g. the test's own context attributes).
    fn assert_declared(&self, extra: &[&str]);
}

impl SpanDataExt for SpanData {
    fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }
    fn str_attr(&self, key: &str) -> &str {
        match self.attr(key) {
            Some(Value::String(s)) => s.as_str(),
            other => panic!("span {:?}: {key} is {other:?}, not a string", self.name),
        }
    }
    fn int_attr(&self, key: &str) -> i64 {
        match self.attr(key) {
            Some(Value::I64(i)) => *i,
            other => panic!("span {:?}: {key} is {other:?}, not an integer", self.name),
        }
    }
    fn assert_declared(&self, extra: &[&str]) {
        for kv in &self.attributes {
            let k = kv.key.as_str();
            assert!(
                is_declared(k) || extra.contains(&k),
                "span {:?} carries undeclared attribute {k}",
                self.name
            );
        }
    }
}

/// What a context carries to the next process, in a form to compare: its parent (trace id, span
/// id, flags, whether remote, `tracestate`) and its baggage, sorted by key. For tests of
/// propagation: two ways of reading the same headers, or a context before and after a queue.
///
/// ```
/// use trace_core::testing::Carried;
/// let mut headers = http::HeaderMap::new();
/// headers.insert(
///     "traceparent",
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
/// );
/// let read = Carried::of(&trace_core::propagation::DefaultPropagator.extract_headers(&headers));
/// assert_eq!(read.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(read.sampled && read.remote && read.baggage.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    /// The parent's trace id (`TraceId::INVALID` without one).
    pub trace_id: TraceId,
    /// The parent's span id.
    pub span_id: SpanId,
    /// The sampled flag.
    pub sampled: bool,
    /// Whether the parent came from another process.
    pub remote: bool,
    /// The `tracestate` header value.
    pub trace_state: String,
    /// The baggage entries, `(key, value)`, sorted by key.
    pub baggage: Vec<(String, String)>,
}

impl Carried {
    /// What `cx` carries.
    ///
    /// ```
    /// let carried = trace_core::testing::Carried::of(&opentelemetry::Context::new());
    /// assert!(!carried.sampled && carried.baggage.is_empty());
    /// ```
    pub fn of(cx: &opentelemetry::Context) -> Self {
        use opentelemetry::baggage::BaggageExt;
        use opentelemetry::trace::TraceContextExt;
        let span = cx.span();
        let sc = span.span_context();
        let mut baggage: Vec<(String, String)> = cx
            .baggage()
            .iter()
            .map(|(k, (v, _))| (k.to_string(), v.to_string()))
            .collect();
        baggage.sort();
        Self {
            trace_id: sc.trace_id(),
            span_id: sc.span_id(),
            sampled: sc.is_sampled(),
            remote: sc.is_remote(),
            trace_state: sc.trace_state().header(),
            baggage,
        }
    }
}
