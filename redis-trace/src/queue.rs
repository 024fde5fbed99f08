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
pub fn producer(destination: &str) -> Producer {
    Producer::start("redis", destination)
}

/// A CONSUMER span `process {destination}` continuing the trace carried by `fields`.
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
pub fn consumer_with<'a>(
    destination: &str,
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    options: ConsumerOptions<'_>,
) -> Consumer {
    Consumer::start_with("redis", destination, fields, options)
}
