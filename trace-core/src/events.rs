//! A `tracing` layer that puts log events onto the current OpenTelemetry span when no `tracing`
//! span is there to take them.
//!
//! `tracing-opentelemetry` turns an event into a span event only when the event happens inside a
//! `tracing` span. Adapter spans are OpenTelemetry spans, so a handler's `tracing::info!` outside any
//! `#[instrument]` span would otherwise not reach the trace. This layer closes that gap: it adds such
//! an event (name = the message, attributes `level`, `target` and the event's fields) to the span of
//! the current OpenTelemetry context.

use std::fmt::Write as _;

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::limits::truncate;

/// See the module documentation.
///
/// ```
/// use opentelemetry::trace::{TraceContextExt, Tracer as _};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let pipeline = trace_core::testing::install(); // installs this layer with the bridge
/// let tracer = opentelemetry::global::tracer("doc");
/// // an OpenTelemetry span (as the adapters make), no `tracing` span around the log line
/// let trace_id = tracer.in_span("handler", |cx| {
///     tracing::info!(order.id = 7, "order accepted");
///     cx.span().span_context().trace_id()
/// });
/// let trace = pipeline.wait_for_spans(trace_id, 1);
/// assert_eq!(trace.span("handler").events[0].name, "order accepted");
///
/// // in a subscriber of your own
/// let subscriber = tracing_subscriber::registry().with(trace_core::events::SpanEventsLayer::new());
/// # drop(subscriber);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct SpanEventsLayer;

impl SpanEventsLayer {
    /// A new layer.
    ///
    /// ```
    /// let layer = trace_core::events::SpanEventsLayer::new();
    /// ```
    pub fn new() -> Self {
        Self
    }
}

struct Fields {
    message: String,
    attrs: Vec<KeyValue>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = truncate(value).into_owned();
        } else {
            self.attrs
                .push(KeyValue::new(field.name(), truncate(value).into_owned()));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attrs.push(KeyValue::new(field.name(), value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(v) => self.attrs.push(KeyValue::new(field.name(), v)),
            Err(_) => self
                .attrs
                .push(KeyValue::new(field.name(), value.to_string())),
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attrs.push(KeyValue::new(field.name(), value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attrs.push(KeyValue::new(field.name(), value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        self.record_str(field, &s);
    }
}

impl<S> Layer<S> for SpanEventsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        if ctx.event_span(event).is_some() {
            return; // tracing-opentelemetry records it on that span
        }
        Context::map_current(|cx| {
            let span = cx.span();
            if !span.is_recording() {
                return;
            }
            let meta = event.metadata();
            let mut fields = Fields {
                message: String::new(),
                attrs: vec![
                    KeyValue::new("level", meta.level().as_str()),
                    KeyValue::new("target", meta.target().to_owned()),
                ],
            };
            event.record(&mut fields);
            let name = if fields.message.is_empty() {
                meta.name().to_owned()
            } else {
                fields.message
            };
            span.add_event_with_timestamp(name, crate::clock::now(), fields.attrs);
        });
    }
}

/// The `tracing` → OpenTelemetry bridge on `provider`, with the settings this project uses
/// everywhere: no thread, location, target or busy/idle attributes on `tracing` spans (each costs
/// an attribute per span and none is in the semantic conventions).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
/// let subscriber = tracing_subscriber::registry()
///     .with(trace_core::events::bridge_layer(&provider))
///     .with(trace_core::events::SpanEventsLayer::new());
/// # drop(subscriber);
/// ```
pub fn bridge_layer<S>(
    provider: &opentelemetry_sdk::trace::SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use opentelemetry::trace::TracerProvider as _;
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("tracing"))
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_target(false)
}
