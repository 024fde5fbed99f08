//! Trace context through Redis used as a queue: a Stream (`XADD` / `XREADGROUP`) or pub/sub.
//!
//! The producer stores the trace fields with the message; the consumer opens a span whose parent
//! (or link) is the producer's context, with `messaging.system=redis`.
//!
//! ```no_run
//! # async fn run(mut con: redis_trace::TracedConnection<redis::aio::MultiplexedConnection>) -> redis::RedisResult<()> {
//! use redis::AsyncCommands;
//! use redis_trace::queue;
//! // producer
//! let send = queue::producer("jobs");
//! let mut entry = vec![("payload".to_string(), "{\"id\":7}".to_string())];
//! entry.extend(send.fields());
//! let _id: String = send.run(con.xadd("jobs", "*", &entry)).await?;
//!
//! // consumer: with the fields of the entry it read
//! let fields: Vec<(String, String)> = entry;
//! queue::consumer("jobs", Some("1-0"), fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
//!     .run(async { /* process */ })
//!     .await;
//! # Ok(()) }
//! ```

pub use trace_core::messaging::{inject_fields, Consumer, ConsumerOptions, Producer};

/// A PRODUCER span `send {destination}` with `messaging.system=redis`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use opentelemetry::trace::{SpanKind, TraceContextExt};
/// use trace_core::testing::SpanDataExt;
///
/// let pipeline = trace_core::testing::install();
/// let send = redis_trace::queue::producer("jobs");
/// let trace_id = send.context().span().span_context().trace_id();
/// let fields = send.fields(); // store these with the message
/// assert_eq!(fields[0].0, "traceparent");
/// send.run(async { /* XADD jobs * payload ... traceparent ... */ }).await;
///
/// let trace = pipeline.wait_for_spans(trace_id, 1);
/// let span = trace.span("send jobs");
/// assert_eq!(span.span_kind, SpanKind::Producer);
/// assert_eq!(span.str_attr("messaging.system"), "redis");
/// # }
/// ```
pub fn producer(destination: &str) -> Producer {
    Producer::start("redis", destination)
}

/// A CONSUMER span `process {destination}` continuing the trace carried by `fields`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use opentelemetry::trace::TraceContextExt;
/// use trace_core::testing::SpanDataExt;
///
/// let pipeline = trace_core::testing::install();
/// let send = redis_trace::queue::producer("jobs");
/// let trace_id = send.context().span().span_context().trace_id();
/// let entry = send.fields(); // as XREADGROUP hands them back
/// send.end();
///
/// let fields = entry.iter().map(|(k, v)| (k.as_str(), v.as_str()));
/// redis_trace::queue::consumer("jobs", Some("1700000000000-0"), fields)
///     .run(async { /* the job; its spans nest here */ })
///     .await;
///
/// let trace = pipeline.wait_for_spans(trace_id, 2); // one trace across the queue
/// let (send, process) = (trace.span("send jobs"), trace.span("process jobs"));
/// assert_eq!(process.parent_span_id, send.span_context.span_id());
/// assert_eq!(process.str_attr("messaging.message.id"), "1700000000000-0");
/// # }
/// ```
pub fn consumer<'a>(
    destination: &str,
    message_id: Option<&str>,
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Consumer {
    Consumer::start_with(
        "redis",
        destination,
        fields,
        ConsumerOptions {
            message_id,
            ..ConsumerOptions::default()
        },
    )
}

/// A CONSUMER span that starts a new trace and links the producer's context.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use opentelemetry::trace::TraceContextExt;
///
/// let pipeline = trace_core::testing::install();
/// let send = redis_trace::queue::producer("emails");
/// let producer_span = send.context().span().span_context().clone();
/// let entry = send.fields();
/// send.end();
///
/// let fields = entry.iter().map(|(k, v)| (k.as_str(), v.as_str()));
/// let process = redis_trace::queue::consumer_linked("emails", None, fields);
/// let own_trace = process.context().span().span_context().trace_id();
/// process.run(async {}).await;
///
/// assert_ne!(own_trace, producer_span.trace_id());
/// let trace = pipeline.wait_for_spans(own_trace, 1);
/// let link = &trace.span("process emails").links[0].span_context;
/// assert_eq!(link.trace_id(), producer_span.trace_id());
/// assert_eq!(link.span_id(), producer_span.span_id());
/// assert!(link.is_remote()); // read back from the message
/// # }
/// ```
pub fn consumer_linked<'a>(
    destination: &str,
    message_id: Option<&str>,
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Consumer {
    Consumer::start_with(
        "redis",
        destination,
        fields,
        ConsumerOptions {
            message_id,
            link: true,
            ..ConsumerOptions::default()
        },
    )
}

/// A CONSUMER span with every option (see [`ConsumerOptions`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use opentelemetry::Key;
/// use redis_trace::queue::ConsumerOptions;
///
/// let entry: Vec<(String, String)> = Vec::new(); // a message without trace fields
/// let options = ConsumerOptions {
///     message_id: Some("42-0"),
///     link: false,
///     baggage_attributes: &[Key::from_static_str("tenant.id")],
/// };
/// let fields = entry.iter().map(|(k, v)| (k.as_str(), v.as_str()));
/// let n = redis_trace::queue::consumer_with("events", fields, options)
///     .run(async { 1 + 1 })
///     .await;
/// assert_eq!(n, 2); // the job's own result, unchanged
/// # }
/// ```
pub fn consumer_with<'a>(
    destination: &str,
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    options: ConsumerOptions<'_>,
) -> Consumer {
    Consumer::start_with("redis", destination, fields, options)
}
