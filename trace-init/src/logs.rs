//! Log lines that carry `trace_id` and `span_id`, human-readable or JSON.

use std::fmt;

use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::settings::LogFormat;

/// Formats events as one line each, with the ids of the current span appended (human) or as fields
/// (JSON). The ids come from the current OpenTelemetry context, so lines logged inside an adapter's
/// span or inside a `tracing` span both carry them. `trace_init::init` installs it; to compose
/// a subscriber of your own:
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use trace_init::{logs::CorrelatedFormat, LogFormat};
///
/// let guard = trace_init::builder()
///     .exporter(trace_init::Exporter::None)
///     .install_subscriber(false)
///     .init()
///     .unwrap();
/// let subscriber = tracing_subscriber::registry()
///     .with(guard.otel_layer())
///     .with(tracing_subscriber::fmt::layer().event_format(CorrelatedFormat::new(LogFormat::Json, false)));
/// tracing::subscriber::with_default(subscriber, || {
///     // {"timestamp":...,"level":"INFO","fields":{"message":"paid"},"trace_id":"...","span_id":"..."}
///     tracing::info_span!("checkout").in_scope(|| tracing::info!("paid"));
/// });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CorrelatedFormat {
    format: LogFormat,
    ansi: bool,
}

impl CorrelatedFormat {
    /// A formatter for `format`; `ansi` colours the level in the human format.
    ///
    /// ```
    /// use trace_init::{logs::CorrelatedFormat, LogFormat};
    /// use tracing_subscriber::layer::SubscriberExt;
    /// let layer = tracing_subscriber::fmt::layer().event_format(CorrelatedFormat::new(LogFormat::Human, true));
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// # drop(subscriber);
    /// ```
    pub fn new(format: LogFormat, ansi: bool) -> Self {
        Self { format, ansi }
    }
}

/// The ids of the current span (trace id, span id, as hex), when there is a valid one.
///
/// ```
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
///
/// assert_eq!(trace_init::logs::current_ids(), None);
/// let remote = SpanContext::new(
///     TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
///     SpanId::from_hex("00f067aa0ba902b7").unwrap(),
///     TraceFlags::SAMPLED,
///     true,
///     TraceState::default(),
/// );
/// let _in = opentelemetry::Context::new().with_remote_span_context(remote).attach();
/// let (trace_id, span_id) = trace_init::logs::current_ids().unwrap();
/// assert_eq!(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(span_id, "00f067aa0ba902b7");
/// ```
pub fn current_ids() -> Option<(String, String)> {
    Context::map_current(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid()
            .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
    })
}

struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        self.0.insert(f.name().into(), format!("{v:?}").into());
    }
}

impl<S, N> FormatEvent<S, N> for CorrelatedFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let ids = current_ids();
        match self.format {
            LogFormat::Human => {
                SystemTime.format_time(&mut writer)?;
                if self.ansi {
                    let colour = match *meta.level() {
                        tracing::Level::ERROR => "31",
                        tracing::Level::WARN => "33",
                        tracing::Level::INFO => "32",
                        _ => "2",
                    };
                    write!(
                        writer,
                        " \x1b[{colour}m{:>5}\x1b[0m {}: ",
                        meta.level(),
                        meta.target()
                    )?;
                } else {
                    write!(writer, " {:>5} {}: ", meta.level(), meta.target())?;
                }
                ctx.field_format().format_fields(writer.by_ref(), event)?;
                if let Some((t, s)) = ids {
                    write!(writer, " trace_id={t} span_id={s}")?;
                }
                writeln!(writer)
            }
            LogFormat::Json => {
                let mut ts = String::new();
                SystemTime.format_time(&mut Writer::new(&mut ts))?;
                let mut fields = JsonFields(serde_json::Map::new());
                event.record(&mut fields);
                let mut obj = serde_json::Map::new();
                obj.insert("timestamp".into(), ts.into());
                obj.insert("level".into(), meta.level().as_str().into());
                obj.insert("target".into(), meta.target().into());
                if let Some(m) = fields.0.remove("message") {
                    obj.insert("message".into(), m);
                }
                if !fields.0.is_empty() {
                    obj.insert("fields".into(), fields.0.into());
                }
                if let Some((t, s)) = ids {
                    obj.insert("trace_id".into(), t.into());
                    obj.insert("span_id".into(), s.into());
                }
                writeln!(writer, "{}", serde_json::Value::Object(obj))
            }
        }
    }
}
