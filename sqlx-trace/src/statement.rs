//! One statement: the query taken apart (so its text can be read and given back), the span opened
//! for it, and what is recorded when it ends.

use std::time::Instant;

use opentelemetry::trace::{Span as _, SpanContext};
use opentelemetry::Context;
use sqlx::error::BoxDynError;
use sqlx::{Database, Execute, SqlSafeStr, SqlStr};
use trace_core::attributes::{
    DB_CLIENT_CONNECTION_WAIT_TIME, DB_RESPONSE_AFFECTED_ROWS, DB_RESPONSE_RETURNED_ROWS,
};
use trace_core::db;
use trace_core::sql::analyze;
use trace_core::tracer::SpanHandle;

use crate::config::Config;
use crate::database::TracedDatabase;

/// A query taken apart and put back together: the wrapper reads the text, then hands this to sqlx.
pub(crate) struct Captured<DB: Database> {
    sql: SqlStr,
    statement: Option<DB::Statement>,
    arguments: Option<DB::Arguments>,
    arguments_error: Option<BoxDynError>,
    persistent: bool,
}

impl<DB: Database> Captured<DB> {
    pub(crate) fn new<'q, E: Execute<'q, DB>>(mut query: E) -> Self {
        let statement = query.statement().cloned();
        let persistent = query.persistent();
        let (arguments, arguments_error) = match query.take_arguments() {
            Ok(a) => (a, None),
            Err(e) => (None, Some(e)),
        };
        Self {
            sql: query.sql(),
            statement,
            arguments,
            arguments_error,
            persistent,
        }
    }

    pub(crate) fn text(&self) -> &str {
        self.sql.as_str()
    }

    /// Appends the sqlcommenter comment, unless the statement already holds a comment or is a
    /// prepared statement (whose text cannot change).
    pub(crate) fn add_comment(&mut self, sc: &SpanContext) {
        let text = self.sql.as_str();
        if self.statement.is_some() || text.contains("--") || text.contains("/*") {
            return;
        }
        if !sc.is_valid() {
            return;
        }
        let tp = trace_core::propagation::format_traceparent(sc);
        let commented = format!(
            "{} /*traceparent='{}'*/",
            text.trim_end_matches(';').trim_end(),
            tp
        );
        self.sql = sqlx::AssertSqlSafe(commented).into_sql_str();
        // a unique text per request would only churn the statement cache
        self.persistent = false;
    }
}

impl<'q, DB: Database> Execute<'q, DB> for Captured<DB> {
    fn sql(self) -> SqlStr {
        self.sql
    }
    fn statement(&self) -> Option<&DB::Statement> {
        self.statement.as_ref()
    }
    fn take_arguments(&mut self) -> Result<Option<DB::Arguments>, BoxDynError> {
        match self.arguments_error.take() {
            Some(e) => Err(e),
            None => Ok(self.arguments.take()),
        }
    }
    fn persistent(&self) -> bool {
        self.persistent
    }
}

/// The span of one statement, ended when the statement finishes or is dropped.
pub(crate) struct StatementSpan {
    span: SpanHandle,
    /// Whether the statement reads rows (its row count is recorded even when zero).
    reads: bool,
    started: Instant,
    returned: u64,
    affected: u64,
    ended: bool,
}

impl StatementSpan {
    /// Opens the span for `sql` under `parent`.
    pub(crate) fn start<DB: TracedDatabase>(config: &Config, sql: &str, parent: &Context) -> Self {
        // the statement is taken apart only when the span records
        let reads = std::cell::Cell::new(false);
        let span = db::start_with(&config.tracer, &config.target, None, parent, || {
            let analysis = analyze(
                sql,
                DB::DIALECT,
                config.query_text,
                config.max_query_text,
                config.target.system,
            );
            reads.set(analysis.reads);
            analysis.operation()
        });
        Self {
            span,
            reads: reads.get(),
            started: Instant::now(),
            returned: 0,
            affected: 0,
            ended: false,
        }
    }

    /// The span's context (for sqlcommenter).
    pub(crate) fn span_context(&self) -> &SpanContext {
        self.span.span_context()
    }

    /// Records how long the statement waited for a pool connection.
    pub(crate) fn connection_acquired(&mut self) {
        if self.span.is_recording() {
            let waited = self.started.elapsed().as_secs_f64();
            self.span
                .set_attribute(DB_CLIENT_CONNECTION_WAIT_TIME.kv(waited));
        }
    }

    /// Adds an event to the span.
    pub(crate) fn event(&mut self, name: &'static str, attributes: Vec<opentelemetry::KeyValue>) {
        self.span.add_event(name, attributes);
    }

    pub(crate) fn row(&mut self) {
        self.returned += 1;
    }

    pub(crate) fn affected(&mut self, n: u64) {
        self.affected += n;
    }

    /// Ends the span with the rows seen.
    pub(crate) fn succeed(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        if self.span.is_recording() {
            if self.reads || self.returned > 0 {
                self.span
                    .set_attribute(DB_RESPONSE_RETURNED_ROWS.kv(self.returned as i64));
            }
            if self.affected > 0 {
                self.span
                    .set_attribute(DB_RESPONSE_AFFECTED_ROWS.kv(self.affected as i64));
            }
        }
        self.span.end();
    }

    /// Ends the span as failed with sqlx's error (which the caller gets back unchanged).
    pub(crate) fn fail(&mut self, error: &sqlx::Error) {
        if self.ended {
            return;
        }
        self.ended = true;
        let code = error
            .as_database_error()
            .and_then(|e| e.code().map(|c| c.into_owned()));
        db::record_failure(
            &mut self.span,
            code.as_deref(),
            error_type(error),
            error.to_string(),
        );
        self.span.end();
    }
}

impl Drop for StatementSpan {
    fn drop(&mut self) {
        // Dropped before the end (the caller stopped reading): not an error, the span still ends.
        if !self.ended {
            self.ended = true;
            self.span.end();
        }
    }
}

/// `error.type` for a sqlx error that has no SQLSTATE.
pub(crate) fn error_type(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Configuration(_) => "configuration",
        sqlx::Error::InvalidArgument(_) => "invalid_argument",
        sqlx::Error::Database(_) => "database",
        sqlx::Error::Io(_) => "io",
        sqlx::Error::Tls(_) => "tls",
        sqlx::Error::Protocol(_) => "protocol",
        sqlx::Error::RowNotFound => "row_not_found",
        sqlx::Error::TypeNotFound { .. } => "type_not_found",
        sqlx::Error::ColumnIndexOutOfBounds { .. } => "column_index_out_of_bounds",
        sqlx::Error::ColumnNotFound(_) => "column_not_found",
        sqlx::Error::ColumnDecode { .. } => "column_decode",
        sqlx::Error::Encode(_) => "encode",
        sqlx::Error::Decode(_) => "decode",
        sqlx::Error::AnyDriverError(_) => "driver",
        sqlx::Error::PoolTimedOut => "pool_timed_out",
        sqlx::Error::PoolClosed => "pool_closed",
        sqlx::Error::WorkerCrashed => "worker_crashed",
        _ => "_OTHER",
    }
}
