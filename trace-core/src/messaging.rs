//! Trace context through queues: a PRODUCER span whose context travels in the message, and a
//! CONSUMER span on the other side whose parent (or link) is the producer's context.
//!
//! Attributes: `messaging.system`, `messaging.destination.name`, `messaging.operation.type`
//! (`send`, `process`), `messaging.message.id`. Span names: `send {destination}`,
//! `process {destination}`.
//!
//! ```
//! use trace_core::messaging::{Consumer, Producer};
//! # async fn run() {
//! // producer side
//! let send = Producer::start("redis", "jobs");
//! let fields = send.fields(); // [("traceparent", "00-..."), ...]: store them with the message
//! send.run(async { /* XADD jobs * payload .. traceparent .. */ }).await;
//!
//! // consumer side, with the fields read back from the message
//! let pairs = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
//! Consumer::start("redis", "jobs", pairs).run(async { /* handle it */ }).await;
//! # }
//! ```

use std::collections::HashMap;
use std::future::Future;

use opentelemetry::context::FutureExt;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue, StringValue};

use crate::attributes::{
    MESSAGING_DESTINATION_NAME, MESSAGING_MESSAGE_ID, MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM,
};
use crate::tracer::Tracer;

/// The trace fields of the current context (`traceparent`, `tracestate`, `baggage`), to store
/// with a message.
///
/// ```
/// use opentelemetry::trace::{Tracer as _, TraceContextExt};
/// trace_core::testing::install();
/// opentelemetry::global::tracer("doc").in_span("enqueue", |cx| {
///     let fields = trace_core::messaging::inject_fields();
///     let (name, value) = &fields[0];
///     assert_eq!(name, "traceparent");
///     assert!(value.contains(&cx.span().span_context().span_id().to_string()));
/// });
/// ```
pub fn inject_fields() -> Vec<(String, String)> {
    fields_of(&Context::current())
}

fn fields_of(cx: &Context) -> Vec<(String, String)> {
    let mut map = HashMap::new();
    crate::propagation::inject_into_map(cx, &mut map);
    let mut v: Vec<(String, String)> = map.into_iter().collect();
    v.sort();
    v
}

fn start(
    kind: SpanKind,
    operation: &'static str,
    system: &'static str,
    destination: &str,
    message_id: Option<&str>,
    parent: &Context,
    links: Vec<Link>,
) -> Context {
    let tracer = Tracer::new("trace-core");
    let dest = crate::limits::truncate_to(destination, 256).into_owned();
    let name = format!("{operation} {dest}");
    let head = || {
        let attrs = vec![
            MESSAGING_SYSTEM.kv(system),
            MESSAGING_DESTINATION_NAME.kv(dest.clone()),
            MESSAGING_OPERATION_TYPE.kv(operation),
        ];
        (name.into(), attrs)
    };
    tracer
        .start(kind, parent, links, head, |a| {
            if let Some(id) = message_id {
                a.push(MESSAGING_MESSAGE_ID.kv(StringValue::from(
                    crate::limits::truncate_to(id, 256).into_owned(),
                )));
            }
            a.extend_from_slice(crate::context_attributes::of(parent));
        })
        .into_context(parent)
}

/// A PRODUCER span (`send {destination}`), child of the current context. For any queue (Kafka,
/// SQS, NATS, ...); `redis_trace::queue` wraps it for Redis.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use trace_core::messaging::Producer;
/// let send = Producer::start("kafka", "orders");
/// let headers = send.fields(); // put these in the record's headers
/// send.run(async { /* producer.send(record with headers) */ }).await;
/// # let _ = headers;
/// # }
/// ```
#[derive(Debug)]
pub struct Producer {
    cx: Context,
}

impl Producer {
    /// Starts the span.
    ///
    /// ```
    /// let send = trace_core::messaging::Producer::start("rabbitmq", "invoices");
    /// send.end();
    /// ```
    pub fn start(system: &'static str, destination: &str) -> Self {
        Self {
            cx: start(
                SpanKind::Producer,
                "send",
                system,
                destination,
                None,
                &Context::current(),
                Vec::new(),
            ),
        }
    }

    /// The trace fields to store with the message (this span's context).
    ///
    /// ```
    /// let send = trace_core::messaging::Producer::start("sqs", "jobs");
    /// let attributes: Vec<(String, String)> = send.fields(); // SQS message attributes
    /// send.end();
    /// ```
    pub fn fields(&self) -> Vec<(String, String)> {
        fields_of(&self.cx)
    }

    /// The span's context.
    ///
    /// ```
    /// use opentelemetry::trace::TraceContextExt;
    /// let send = trace_core::messaging::Producer::start("nats", "events");
    /// let trace_id = send.context().span().span_context().trace_id();
    /// send.end();
    /// ```
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Runs `fut` (the send) inside the span, then ends it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let id = trace_core::messaging::Producer::start("kafka", "orders").run(async { 17_u64 }).await;
    /// # }
    /// ```
    pub async fn run<F: Future>(self, fut: F) -> F::Output {
        let out = fut.with_context(self.cx.clone()).await;
        crate::span::end(&self.cx.span());
        out
    }

    /// Ends the span.
    ///
    /// ```
    /// trace_core::messaging::Producer::start("kafka", "audit").end();
    /// ```
    pub fn end(self) {
        crate::span::end(&self.cx.span());
    }
}

/// How a consumer span relates to the message it processes.
///
/// ```
/// let options = trace_core::messaging::ConsumerOptions {
///     message_id: Some("offset-1042"),
///     link: true, // a batch job: its own trace, linked to each producer
///     ..Default::default()
/// };
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsumerOptions<'a> {
    /// Recorded as `messaging.message.id`.
    pub message_id: Option<&'a str>,
    /// Start a new trace that links the producer's context instead of continuing it.
    pub link: bool,
    /// Baggage keys copied onto the span and the spans beneath it (only these).
    pub baggage_attributes: &'a [opentelemetry::Key],
}

/// A CONSUMER span (`process {destination}`) whose parent, or link, is the producer's context.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), std::io::Error> {
/// use trace_core::messaging::Consumer;
/// let record_headers: Vec<(String, String)> = Vec::new(); // as read from the queue
/// let fields = record_headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
/// Consumer::start("kafka", "orders", fields)
///     .run_result(async {
///         // handle the message; an Err is recorded on the span
///         Ok::<_, std::io::Error>(())
///     })
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Consumer {
    cx: Context,
}

impl Consumer {
    /// Starts the span as a child of the context in `fields` (a new trace when there is none).
    ///
    /// ```
    /// let headers = [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
    /// let process = trace_core::messaging::Consumer::start("kafka", "orders", headers);
    /// process.end();
    /// ```
    pub fn start<'a>(
        system: &'static str,
        destination: &str,
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        Self::start_with(system, destination, fields, ConsumerOptions::default())
    }

    /// Starts the span with options (see [`ConsumerOptions`]).
    ///
    /// ```
    /// use trace_core::messaging::{Consumer, ConsumerOptions};
    /// let headers = [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
    /// let options = ConsumerOptions { message_id: Some("7"), ..Default::default() };
    /// Consumer::start_with("kafka", "orders", headers, options).end();
    /// ```
    pub fn start_with<'a>(
        system: &'static str,
        destination: &str,
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
        options: ConsumerOptions<'_>,
    ) -> Self {
        let ConsumerOptions {
            message_id,
            link,
            baggage_attributes,
        } = options;
        let mut carried = crate::propagation::extract_from_pairs(fields);
        let from_baggage = crate::context_attributes::from_baggage(&carried, baggage_attributes);
        if !from_baggage.is_empty() {
            carried = crate::context_attributes::merge(&carried, from_baggage);
        }
        let sc = carried.span().span_context().clone();
        let (parent, links) = if link {
            let links = if sc.is_valid() {
                vec![Link::new(sc, Vec::<KeyValue>::new(), 0)]
            } else {
                Vec::new()
            };
            (Context::current(), links)
        } else {
            (carried, Vec::new())
        };
        Self {
            cx: start(
                SpanKind::Consumer,
                "process",
                system,
                destination,
                message_id,
                &parent,
                links,
            ),
        }
    }

    /// The span's context.
    ///
    /// ```
    /// use opentelemetry::trace::TraceContextExt;
    /// opentelemetry::global::set_text_map_propagator(trace_core::propagation::default_propagator());
    /// let headers = [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
    /// let process = trace_core::messaging::Consumer::start("kafka", "orders", headers);
    /// // continues the producer's trace
    /// assert_eq!(process.context().span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// process.end();
    /// ```
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Runs `fut` (the processing) inside the span, then ends it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let no_headers: [(&str, &str); 0] = [];
    /// trace_core::messaging::Consumer::start("kafka", "orders", no_headers).run(async { /* handle */ }).await;
    /// # }
    /// ```
    pub async fn run<F: Future>(self, fut: F) -> F::Output {
        let out = fut.with_context(self.cx.clone()).await;
        crate::span::end(&self.cx.span());
        out
    }

    /// Runs `fut` inside the span, records an `Err` on it, then ends it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let no_headers: [(&str, &str); 0] = [];
    /// let r = trace_core::messaging::Consumer::start("kafka", "orders", no_headers)
    ///     .run_result(async { "7x".parse::<u32>() })
    ///     .await;
    /// assert!(r.is_err()); // recorded on the span, returned as it was
    /// # }
    /// ```
    pub async fn run_result<F, T, E>(self, fut: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: std::error::Error,
    {
        let out = fut.with_context(self.cx.clone()).await;
        if let Err(e) = &out {
            crate::span::record_failure_ref(
                &self.cx.span(),
                crate::span::short_type_name::<E>(),
                Some(std::borrow::Cow::Owned(e.to_string())),
            );
        }
        crate::span::end(&self.cx.span());
        out
    }

    /// Ends the span.
    ///
    /// ```
    /// let none: [(&str, &str); 0] = [];
    /// trace_core::messaging::Consumer::start("sqs", "jobs", none).end();
    /// ```
    pub fn end(self) {
        crate::span::end(&self.cx.span());
    }
}
