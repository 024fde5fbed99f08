//! The `console` exporter: each finished trace printed as an indented waterfall.
//!
//! ```text
//! trace 4bf92f3577b34da6a3ce929d0e0e4736 · GET /users/{id} · 12.41 ms
//!   GET /users/{id}        SERVER   +0.00 ms   12.41 ms |####################| 200
//!     GET user:42          CLIENT   +0.31 ms    0.12 ms |#                   | miss
//!     SELECT users         CLIENT   +0.52 ms    2.90 ms | #####              |
//!     GET /inventory       CLIENT   +3.60 ms    8.10 ms |      ############# | 500 ✗ 500
//! ```
//!
//! Spans are held per trace and the trace is printed once no span of it has arrived for
//! [`QUIET`] (a background thread checks every 100 ms), so a request, the service it called and
//! the worker that took its job usually print as one waterfall. Spans that arrive later still are
//! printed as a continuation. At most [`MAX_PENDING_TRACES`] traces are held; the oldest is
//! printed early beyond that. Everything pending is printed at shutdown.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::Value;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Unfinished traces held at most; beyond that the oldest is printed early.
///
/// ```
/// assert_eq!(trace_init::console::MAX_PENDING_TRACES, 1024);
/// ```
pub const MAX_PENDING_TRACES: usize = 1024;
/// How long a trace must be quiet before it is printed.
///
/// ```
/// assert_eq!(trace_init::console::QUIET, std::time::Duration::from_millis(300));
/// ```
pub const QUIET: Duration = Duration::from_millis(300);
const BAR: usize = 24;
const NAME_WIDTH: usize = 36;

/// Where the waterfall is written: any writer, shared (a file, a buffer in a test).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let file = std::fs::File::create(std::env::temp_dir().join("waterfall.txt")).unwrap();
/// let writer: trace_init::console::SharedWriter = Arc::new(Mutex::new(file));
/// let _guard = trace_init::builder()
///     .exporter(trace_init::Exporter::Console)
///     .console_writer(writer)
///     .init()
///     .unwrap();
/// ```
pub type SharedWriter = Arc<Mutex<dyn Write + Send>>;

/// The console exporter: what `OTEL_TRACES_EXPORTER=console` installs.
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// // a writer the test can read afterwards
/// #[derive(Clone, Default)]
/// struct Buffer(Arc<Mutex<Vec<u8>>>);
/// impl std::io::Write for Buffer {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
///         self.0.lock().unwrap().write(b)
///     }
///     fn flush(&mut self) -> std::io::Result<()> {
///         Ok(())
///     }
/// }
///
/// let buffer = Buffer::default();
/// let guard = trace_init::builder()
///     .exporter(trace_init::Exporter::Console)
///     .console_writer(Arc::new(Mutex::new(buffer.clone())))
///     .init()
///     .unwrap();
/// tracing::info_span!("nightly job").in_scope(|| tracing::info_span!("step one").in_scope(|| {}));
/// drop(guard); // prints every pending trace
/// let printed = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
/// assert!(printed.contains("nightly job") && printed.contains("  step one"));
/// ```
#[derive(Clone)]
pub struct ConsoleExporter {
    writer: SharedWriter,
    pending: Arc<Mutex<Pending>>,
}

#[derive(Default)]
struct Pending {
    traces: HashMap<TraceId, (Vec<SpanData>, Instant)>,
    order: Vec<TraceId>,
    printed: Vec<TraceId>,
    stopped: bool,
}

impl std::fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleExporter")
    }
}

impl Default for ConsoleExporter {
    fn default() -> Self {
        Self::new(Arc::new(Mutex::new(std::io::stdout())))
    }
}

impl ConsoleExporter {
    /// A console exporter writing to `writer`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let exporter = trace_init::console::ConsoleExporter::new(Arc::new(Mutex::new(std::io::stderr())));
    /// ```
    pub fn new(writer: SharedWriter) -> Self {
        let exporter = Self {
            writer,
            pending: Arc::default(),
        };
        let ticker = exporter.clone();
        let _ = std::thread::Builder::new()
            .name("console-exporter".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(100));
                if ticker.lock().stopped {
                    return;
                }
                ticker.print_ready(false);
            });
        exporter
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn accept(&self, batch: Vec<SpanData>) {
        let now = Instant::now();
        let mut p = self.lock();
        for span in batch {
            let tid = span.span_context.trace_id();
            if !p.traces.contains_key(&tid) {
                p.order.push(tid);
            }
            let entry = p.traces.entry(tid).or_insert_with(|| (Vec::new(), now));
            entry.0.push(span);
            entry.1 = now;
        }
    }

    /// Prints the traces that have been quiet long enough (all of them with `all`).
    fn print_ready(&self, all: bool) {
        let ready: Vec<(Vec<SpanData>, bool)> = {
            let mut p = self.lock();
            let now = Instant::now();
            let over = p.order.len().saturating_sub(MAX_PENDING_TRACES);
            let due: Vec<TraceId> = p
                .order
                .iter()
                .enumerate()
                .filter(|(i, t)| {
                    all || *i < over
                        || p.traces
                            .get(*t)
                            .is_some_and(|(_, at)| now.duration_since(*at) >= QUIET)
                })
                .map(|(_, t)| *t)
                .collect();
            let mut out = Vec::new();
            for tid in due {
                p.order.retain(|t| *t != tid);
                if let Some((spans, _)) = p.traces.remove(&tid) {
                    let continued = p.printed.contains(&tid);
                    if !continued {
                        p.printed.push(tid);
                        if p.printed.len() > MAX_PENDING_TRACES {
                            p.printed.remove(0);
                        }
                    }
                    out.push((spans, continued));
                }
            }
            out
        };
        for (spans, continued) in ready {
            self.print(&render(&spans, continued));
        }
    }

    fn print(&self, text: &str) {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = w.write_all(text.as_bytes());
        let _ = w.flush();
    }
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.accept(batch);
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.print_ready(true);
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.print_ready(true);
        self.lock().stopped = true;
        Ok(())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn since(a: SystemTime, b: SystemTime) -> Duration {
    b.duration_since(a).unwrap_or_default()
}

fn kind(k: &SpanKind) -> &'static str {
    match k {
        SpanKind::Server => "SERVER",
        SpanKind::Client => "CLIENT",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
        SpanKind::Internal => "",
    }
}

fn attr<'a>(s: &'a SpanData, key: &str) -> Option<&'a Value> {
    s.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn key_facts(s: &SpanData) -> String {
    let mut out = String::new();
    if let Some(v) = attr(s, "http.response.status_code") {
        let _ = write!(out, " {v}");
    }
    if let Some(Value::Bool(hit)) = attr(s, "db.redis.cache_hit") {
        out.push_str(if *hit { " hit" } else { " miss" });
    }
    if let Some(v) = attr(s, "db.response.returned_rows") {
        let _ = write!(out, " rows={v}");
    }
    if let Status::Error { description } = &s.status {
        let et = attr(s, "error.type")
            .map(|v| v.to_string())
            .unwrap_or_default();
        let _ = write!(out, " ✗ {et}");
        if !description.is_empty() {
            let d: String = description.chars().take(80).collect();
            let _ = write!(out, " ({d})");
        }
    }
    out
}

/// Renders a trace's spans as a waterfall (`continued`: the trace was printed before).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
/// use opentelemetry_sdk::trace::SpanData;
///
/// let start = SystemTime::now();
/// let span = SpanData {
///     span_context: SpanContext::new(
///         TraceId::from(7_u128),
///         SpanId::from(1_u64),
///         TraceFlags::SAMPLED,
///         false,
///         TraceState::default(),
///     ),
///     parent_span_id: SpanId::INVALID,
///     parent_span_is_remote: false,
///     span_kind: SpanKind::Server,
///     name: "GET /users/{id}".into(),
///     start_time: start,
///     end_time: start + Duration::from_millis(12),
///     attributes: vec![opentelemetry::KeyValue::new("http.response.status_code", 200_i64)],
///     dropped_attributes_count: 0,
///     events: Default::default(),
///     links: Default::default(),
///     status: Status::Unset,
///     instrumentation_scope: Default::default(),
/// };
/// let text = trace_init::console::render(&[span], false);
/// assert!(text.starts_with("trace 00000000000000000000000000000007"));
/// assert!(text.contains("GET /users/{id}") && text.contains("SERVER") && text.contains("200"));
/// ```
pub fn render(spans: &[SpanData], continued: bool) -> String {
    let mut out = String::new();
    if spans.is_empty() {
        return out;
    }
    let start = spans
        .iter()
        .map(|s| s.start_time)
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let end = spans.iter().map(|s| s.end_time).max().unwrap_or(start);
    let total = since(start, end).max(Duration::from_micros(1));
    let ids: Vec<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
    let mut roots: Vec<&SpanData> = spans
        .iter()
        .filter(|s| !ids.contains(&s.parent_span_id))
        .collect();
    roots.sort_by_key(|s| s.start_time);
    let title = roots.first().map(|r| r.name.as_ref()).unwrap_or("");
    let _ = writeln!(
        out,
        "trace {}{} · {} · {:.2} ms",
        spans[0].span_context.trace_id(),
        if continued { " (continued)" } else { "" },
        title,
        ms(total)
    );
    for r in roots {
        line(&mut out, spans, r, 1, start, total);
    }
    out
}

fn line(
    out: &mut String,
    spans: &[SpanData],
    s: &SpanData,
    depth: usize,
    t0: SystemTime,
    total: Duration,
) {
    let offset = since(t0, s.start_time);
    let dur = since(s.start_time, s.end_time);
    let from = ((offset.as_secs_f64() / total.as_secs_f64()) * BAR as f64) as usize;
    let len = (((dur.as_secs_f64() / total.as_secs_f64()) * BAR as f64).ceil() as usize).max(1);
    let from = from.min(BAR - 1);
    let len = len.min(BAR - from);
    let bar: String = (0..BAR)
        .map(|i| {
            if i >= from && i < from + len {
                '#'
            } else {
                ' '
            }
        })
        .collect();
    let indent = "  ".repeat(depth);
    let mut name = format!("{indent}{}", s.name);
    if name.chars().count() > NAME_WIDTH {
        name = name.chars().take(NAME_WIDTH - 1).collect::<String>() + "…";
    }
    let _ = writeln!(
        out,
        "{name:<NAME_WIDTH$} {:<8} +{:>8.2} ms {:>9.2} ms |{bar}|{}",
        kind(&s.span_kind),
        ms(offset),
        ms(dur),
        key_facts(s)
    );
    let mut children: Vec<&SpanData> = spans
        .iter()
        .filter(|c| c.parent_span_id == s.span_context.span_id())
        .collect();
    children.sort_by_key(|c| c.start_time);
    for c in children {
        line(out, spans, c, depth + 1, t0, total);
    }
}
