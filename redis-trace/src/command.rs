//! One command or pipeline: the span opened for it and what is recorded when it returns.

use std::borrow::Cow;
use std::cell::Cell;

use opentelemetry::trace::Span as _;
use opentelemetry::{Context, StringValue};
use redis::{RedisError, Value};
use trace_core::attributes::DB_REDIS_CACHE_HIT;
use trace_core::db::{self, DbOperation, DbTarget};
use trace_core::redis::{
    command_name, is_collection_read, is_multi_read, is_single_read, render, KeyMode,
};
use trace_core::tracer::{SpanHandle, Tracer};

/// Default longest `db.query.text`, in bytes.
///
/// ```
/// assert_eq!(redis_trace::DEFAULT_MAX_QUERY_TEXT, 1024);
/// ```
pub const DEFAULT_MAX_QUERY_TEXT: usize = 1024;

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) tracer: Tracer,
    pub(crate) target: DbTarget,
    pub(crate) key_mode: KeyMode,
    pub(crate) max_query_text: usize,
}

impl Config {
    pub(crate) fn new() -> Self {
        Self {
            tracer: Tracer::new("redis-trace"),
            target: DbTarget {
                system: "redis",
                namespace: None,
                server_address: None,
                server_port: None,
            },
            key_mode: KeyMode::Keep,
            max_query_text: DEFAULT_MAX_QUERY_TEXT,
        }
    }
}

fn db_index(db: i64) -> StringValue {
    const SMALL: [&str; 16] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
    ];
    match usize::try_from(db).ok().and_then(|i| SMALL.get(i)) {
        Some(s) => StringValue::from(*s),
        None => StringValue::from(db.to_string()),
    }
}

fn read_kind(name: &str) -> Read {
    if is_single_read(name) {
        Read::Single
    } else if is_multi_read(name) {
        Read::Multi
    } else if is_collection_read(name) {
        Read::Collection
    } else {
        Read::No
    }
}

/// A pipeline's span name, text and size.
fn render_pipeline<'a, I, A>(config: &Config, commands: I, atomic: bool) -> DbOperation
where
    I: Iterator<Item = A>,
    A: Iterator<Item = &'a [u8]>,
{
    let mut names: Vec<Cow<'static, str>> = Vec::new();
    let mut text = String::new();
    for mut args in commands {
        if text.len() < config.max_query_text {
            let r = render(args, config.key_mode, config.max_query_text - text.len());
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(&r.text);
            names.push(r.name);
        } else {
            // the text is full: only the name is needed (for `PIPELINE GET`)
            names.push(args.next().map(command_name).unwrap_or(Cow::Borrowed("")));
        }
    }
    let word = if atomic { "MULTI" } else { "PIPELINE" };
    let same = names.first().filter(|f| names.iter().all(|n| n == *f));
    let name: Cow<'static, str> = match same {
        Some(n) => Cow::Owned(format!("{word} {n}")),
        None => Cow::Borrowed(word),
    };
    let text = trace_core::limits::truncate_to(&text, config.max_query_text).into_owned();
    DbOperation {
        operation: Some(StringValue::from(name.clone())),
        name,
        query_text: Some(StringValue::from(text)),
        summary: None,
        collection: None,
        batch_size: Some(names.len()),
    }
}

/// What kind of reply tells a cache hit.
#[derive(Debug, Clone, Copy)]
enum Read {
    No,
    Single,
    Multi,
    Collection,
}

/// The span of one command or pipeline.
pub(crate) struct CommandSpan {
    span: SpanHandle,
    read: Read,
}

impl CommandSpan {
    /// Opens the span for one command given as its arguments (rendered only when it records).
    pub(crate) fn command<'a>(
        config: &Config,
        db: i64,
        args: impl Iterator<Item = &'a [u8]>,
        parent: &Context,
    ) -> Self {
        let read = Cell::new(Read::No);
        let span = db::start_with(
            &config.tracer,
            &config.target,
            Some(db_index(db)),
            parent,
            || {
                let r = render(args, config.key_mode, config.max_query_text);
                read.set(read_kind(&r.name));
                DbOperation {
                    operation: Some(StringValue::from(r.name.clone())),
                    name: r.name,
                    query_text: Some(StringValue::from(r.text)),
                    summary: None,
                    collection: None,
                    batch_size: None,
                }
            },
        );
        Self {
            span,
            read: read.get(),
        }
    }

    /// Opens the span for a pipeline (`PIPELINE`, `PIPELINE GET`, `MULTI`, `MULTI SET`).
    pub(crate) fn pipeline<'a, I, A>(
        config: &Config,
        db: i64,
        commands: I,
        atomic: bool,
        parent: &Context,
    ) -> Self
    where
        I: Iterator<Item = A>,
        A: Iterator<Item = &'a [u8]>,
    {
        let span = db::start_with(
            &config.tracer,
            &config.target,
            Some(db_index(db)),
            parent,
            || render_pipeline(config, commands, atomic),
        );
        Self {
            span,
            read: Read::No,
        }
    }

    /// Whether the span records (a span that does not needs nothing when the reply comes).
    pub(crate) fn is_recording(&self) -> bool {
        self.span.is_recording()
    }

    /// Records a reply (a nil reply is not an error; a server error inside it is).
    pub(crate) fn reply(mut self, result: Result<&Value, &RedisError>) {
        if self.span.is_recording() {
            match result {
                Ok(Value::ServerError(e)) => {
                    let code = e.code().to_owned();
                    db::record_failure(&mut self.span, Some(&code), "server_error", e.to_string());
                }
                Ok(v) => {
                    let hit = match (self.read, v) {
                        (Read::No, _) => None,
                        (Read::Single, Value::Nil) => Some(false),
                        (Read::Single, _) => Some(true),
                        (Read::Multi, Value::Array(items)) => {
                            Some(items.iter().all(|i| !matches!(i, Value::Nil)))
                        }
                        (Read::Collection, Value::Array(items)) => Some(!items.is_empty()),
                        (Read::Collection, Value::Map(items)) => Some(!items.is_empty()),
                        (Read::Collection, Value::Set(items)) => Some(!items.is_empty()),
                        _ => None,
                    };
                    if let Some(h) = hit {
                        self.span.set_attribute(DB_REDIS_CACHE_HIT.kv(h));
                    }
                }
                Err(e) => self.fail(e),
            }
        }
        self.span.end();
    }

    /// Records a pipeline's replies: a failed command inside makes the span an error.
    pub(crate) fn replies(mut self, result: Result<&[Value], &RedisError>) {
        if self.span.is_recording() {
            match result {
                Ok(values) => {
                    if let Some(Value::ServerError(e)) =
                        values.iter().find(|v| matches!(v, Value::ServerError(_)))
                    {
                        let code = e.code().to_owned();
                        db::record_failure(
                            &mut self.span,
                            Some(&code),
                            "server_error",
                            e.to_string(),
                        );
                    }
                }
                Err(e) => self.fail(e),
            }
        }
        self.span.end();
    }

    fn fail(&mut self, e: &RedisError) {
        let code = e.code().map(str::to_owned);
        let et = if e.is_connection_refusal() {
            "connection_refused"
        } else if e.is_timeout() {
            "timeout"
        } else if e.is_io_error() {
            "io"
        } else {
            "redis_error"
        };
        db::record_failure(&mut self.span, code.as_deref(), et, e.to_string());
    }
}
