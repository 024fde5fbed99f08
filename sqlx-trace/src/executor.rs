//! The traced execution shared by the pool, transactions and connections: open the span, (acquire),
//! run the statement, record rows or the error, hand sqlx's result back unchanged.

use std::sync::Arc;

use either::Either;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use opentelemetry::Context;
use sqlx::{Database, Execute};

use crate::config::Config;
use crate::database::TracedDatabase;
use crate::statement::{Captured, StatementSpan};

/// Takes the query apart and opens its span under `parent`.
pub(crate) fn begin<'q, DB, E>(
    config: &Config,
    query: E,
    parent: &Context,
) -> (Captured<DB>, StatementSpan)
where
    DB: TracedDatabase,
    E: Execute<'q, DB>,
{
    let mut captured = Captured::new(query);
    let span = StatementSpan::start::<DB>(config, captured.text(), parent);
    if config.sqlcommenter {
        captured.add_comment(span.span_context());
    }
    (captured, span)
}

type Step<DB> = Either<<DB as Database>::QueryResult, <DB as Database>::Row>;

/// Wraps a result stream so the span sees every row, the final counts, and any error.
pub(crate) fn traced_stream<'e, DB: TracedDatabase>(
    mut span: StatementSpan,
    inner: BoxStream<'e, Result<Step<DB>, sqlx::Error>>,
) -> BoxStream<'e, Result<Step<DB>, sqlx::Error>> {
    Box::pin(async_stream::stream! {
        let mut inner = inner;
        while let Some(item) = inner.next().await {
            match &item {
                Ok(Either::Right(_)) => span.row(),
                Ok(Either::Left(result)) => span.affected(DB::rows_affected(result)),
                Err(e) => span.fail(e),
            }
            let failed = item.is_err();
            yield item;
            if failed {
                return;
            }
        }
        span.succeed();
    })
}

/// `fetch_many` through a pool: the span covers the wait for a connection.
pub(crate) fn pool_fetch_many<'e, 'q: 'e, DB, E>(
    pool: sqlx::Pool<DB>,
    config: Arc<Config>,
    query: E,
    parent: &Context,
) -> BoxStream<'e, Result<Step<DB>, sqlx::Error>>
where
    DB: TracedDatabase,
    E: 'q + Execute<'q, DB>,
{
    let (captured, mut span) = begin(&config, query, parent);
    Box::pin(async_stream::stream! {
        let mut conn = match pool.acquire().await {
            Ok(c) => c,
            Err(e) => {
                span.fail(&e);
                yield Err(e);
                return;
            }
        };
        span.connection_acquired();
        let mut inner = traced_stream::<DB>(span, DB::fetch_many_on(&mut conn, captured));
        while let Some(item) = inner.next().await {
            yield item;
        }
    })
}

/// `fetch_optional` through a pool.
pub(crate) async fn pool_fetch_optional<'q, DB, E>(
    pool: sqlx::Pool<DB>,
    config: Arc<Config>,
    query: E,
    parent: Context,
) -> Result<Option<DB::Row>, sqlx::Error>
where
    DB: TracedDatabase,
    E: 'q + Execute<'q, DB>,
{
    let (captured, mut span) = begin(&config, query, &parent);
    let mut conn = match pool.acquire().await {
        Ok(c) => c,
        Err(e) => {
            span.fail(&e);
            return Err(e);
        }
    };
    span.connection_acquired();
    finish_optional(span, DB::fetch_optional_on(&mut conn, captured).await)
}

/// Records a `fetch_optional` outcome.
pub(crate) fn finish_optional<R>(
    mut span: StatementSpan,
    result: Result<Option<R>, sqlx::Error>,
) -> Result<Option<R>, sqlx::Error> {
    match &result {
        Ok(row) => {
            if row.is_some() {
                span.row();
            }
            span.succeed();
        }
        Err(e) => span.fail(e),
    }
    result
}

/// `fetch_many` on a connection the caller already holds (transaction, acquired connection).
pub(crate) fn conn_fetch_many<'e, 'q: 'e, DB, E>(
    conn: &'e mut DB::Connection,
    config: &Config,
    query: E,
    parent: &Context,
) -> BoxStream<'e, Result<Step<DB>, sqlx::Error>>
where
    DB: TracedDatabase,
    E: 'q + Execute<'q, DB>,
{
    let (captured, span) = begin(config, query, parent);
    traced_stream::<DB>(span, DB::fetch_many_on(conn, captured))
}

/// `fetch_optional` on a held connection.
pub(crate) async fn conn_fetch_optional<'q, DB, E>(
    conn: &mut DB::Connection,
    config: &Config,
    query: E,
    parent: &Context,
) -> Result<Option<DB::Row>, sqlx::Error>
where
    DB: TracedDatabase,
    E: 'q + Execute<'q, DB>,
{
    let (captured, span) = begin(config, query, parent);
    finish_optional(span, DB::fetch_optional_on(conn, captured).await)
}
