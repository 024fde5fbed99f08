//! Traced transactions and connections.

use std::sync::Arc;

use either::Either;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use opentelemetry::{Context, KeyValue};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Describe, Execute, Executor, SqlStr, Transaction};

use crate::config::Config;
use crate::database::TracedDatabase;
use crate::executor::{conn_fetch_many, conn_fetch_optional};
use crate::statement::StatementSpan;

/// A transaction from [`TracedPool::begin`](crate::TracedPool::begin). Use `&mut tx` as the
/// executor; finish with [`commit`](Self::commit) or [`rollback`](Self::rollback).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sqlx::Error> {
/// use opentelemetry::trace::TraceContextExt;
/// use sqlx_trace::TracedPool;
///
/// let pipeline = trace_core::testing::install();
/// let pool = TracedPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?;
/// sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)").execute(&pool).await?;
///
/// let trace_id = trace_core::manual::Operation::new("request")
///     .run_result(async {
///         let mut tx = pool.begin().await?;
///         sqlx::query("INSERT INTO items (name) VALUES ($1)").bind("pen").execute(&mut tx).await?;
///         tx.commit().await?;
///         Ok::<_, sqlx::Error>(opentelemetry::Context::current().span().span_context().trace_id())
///     })
///     .await?;
///
/// let trace = pipeline.wait_for_spans(trace_id, 4);
/// let request = trace.span("request");
/// let names: Vec<&str> = trace.children(request).iter().map(|s| s.name.as_ref()).collect();
/// assert_eq!(names, ["BEGIN", "INSERT items", "COMMIT"]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TracedTransaction<'c, DB: TracedDatabase> {
    tx: Option<Transaction<'c, DB>>,
    config: Arc<Config>,
    parent: Context,
}

impl<'c, DB: TracedDatabase> TracedTransaction<'c, DB> {
    pub(crate) fn new(tx: Transaction<'c, DB>, config: Arc<Config>, parent: Context) -> Self {
        Self {
            tx: Some(tx),
            config,
            parent,
        }
    }

    /// The wrapped sqlx transaction.
    ///
    /// ```
    /// # async fn run(pool: sqlx_trace::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let mut tx = pool.begin().await?;
    /// if let Some(raw) = tx.inner() {
    ///     sqlx::query("SET LOCAL statement_timeout = 1000").execute(&mut **raw).await?; // not traced
    /// }
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub fn inner(&mut self) -> Option<&mut Transaction<'c, DB>> {
        self.tx.as_mut()
    }

    /// Commits, with a `COMMIT` span.
    ///
    /// ```
    /// # async fn run(pool: sqlx_trace::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let mut tx = pool.begin().await?;
    /// sqlx::query("UPDATE stock SET n = n - 1 WHERE id = $1").bind(7).execute(&mut tx).await?;
    /// tx.commit().await?; // BEGIN, UPDATE stock and COMMIT spans under the current span
    /// # Ok(()) }
    /// ```
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let mut span = StatementSpan::start::<DB>(&self.config, "COMMIT", &self.parent);
        let Some(tx) = self.tx.take() else {
            return Ok(());
        };
        let r = tx.commit().await;
        match &r {
            Ok(()) => span.succeed(),
            Err(e) => span.fail(e),
        }
        r
    }

    /// Rolls back, with a `ROLLBACK` span.
    ///
    /// ```
    /// # async fn run(pool: sqlx_trace::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let tx = pool.begin().await?;
    /// tx.rollback().await?;
    /// # Ok(()) }
    /// ```
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let mut span = StatementSpan::start::<DB>(&self.config, "ROLLBACK", &self.parent);
        let Some(tx) = self.tx.take() else {
            return Ok(());
        };
        let r = tx.rollback().await;
        match &r {
            Ok(()) => span.succeed(),
            Err(e) => span.fail(e),
        }
        r
    }
}

impl<DB: TracedDatabase> Drop for TracedTransaction<'_, DB> {
    fn drop(&mut self) {
        if self.tx.is_some() {
            // sqlx rolls an unfinished transaction back when it is dropped; make that visible.
            let mut span = StatementSpan::start::<DB>(&self.config, "ROLLBACK", &self.parent);
            span.event(
                "transaction dropped without commit",
                vec![KeyValue::new("db.transaction.outcome", "dropped")],
            );
            span.succeed();
        }
    }
}

fn finished_error() -> sqlx::Error {
    sqlx::Error::Protocol("the transaction is already finished".into())
}

fn finished_future<'e, T: Send + 'e>() -> BoxFuture<'e, Result<T, sqlx::Error>> {
    Box::pin(async { Err(finished_error()) })
}

fn finished<'e, T: Send + 'e>() -> BoxStream<'e, Result<T, sqlx::Error>> {
    Box::pin(futures_util::stream::once(async { Err(finished_error()) }))
}

impl<'t, 'c, DB> Executor<'t> for &'t mut TracedTransaction<'c, DB>
where
    DB: TracedDatabase,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let this = self;
        match this.tx.as_mut() {
            Some(tx) => conn_fetch_many::<DB, E>(&mut **tx, &this.config, query, &this.parent),
            None => finished(),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let config = self.config.clone();
        let parent = self.parent.clone();
        match self.tx.as_mut() {
            Some(tx) => Box::pin(async move {
                conn_fetch_optional::<DB, E>(&mut **tx, &config, query, &parent).await
            }),
            None => finished_future(),
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        't: 'e,
    {
        match self.tx.as_mut() {
            Some(tx) => DB::prepare_with_on(&mut **tx, sql, parameters),
            None => finished_future(),
        }
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<DB>, sqlx::Error>>
    where
        't: 'e,
    {
        match self.tx.as_mut() {
            Some(tx) => DB::describe_on(&mut **tx, sql),
            None => finished_future(),
        }
    }
}

/// A connection from [`TracedPool::acquire`](crate::TracedPool::acquire); use `&mut conn` as the
/// executor.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sqlx::Error> {
/// let pool = sqlx_trace::TracedPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?;
/// let mut conn = pool.acquire().await?;
/// // one connection for several statements (a temporary table lives on it)
/// sqlx::query("CREATE TEMP TABLE scratch (v INTEGER)").execute(&mut conn).await?;
/// sqlx::query("INSERT INTO scratch VALUES (1), (2)").execute(&mut conn).await?;
/// let n: i64 = sqlx::query_scalar("SELECT count(*) FROM scratch").fetch_one(&mut conn).await?;
/// assert_eq!(n, 2);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TracedConnection<DB: Database> {
    conn: PoolConnection<DB>,
    config: Arc<Config>,
}

impl<DB: Database> TracedConnection<DB> {
    pub(crate) fn new(conn: PoolConnection<DB>, config: Arc<Config>) -> Self {
        Self { conn, config }
    }

    /// The wrapped pool connection.
    ///
    /// ```
    /// # async fn run(pool: sqlx_trace::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// let mut conn = pool.acquire().await?;
    /// sqlx::query("LISTEN jobs").execute(&mut **conn.inner()).await?; // not traced
    /// # Ok(()) }
    /// ```
    pub fn inner(&mut self) -> &mut PoolConnection<DB> {
        &mut self.conn
    }
}

impl<'t, DB> Executor<'t> for &'t mut TracedConnection<DB>
where
    DB: TracedDatabase,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, DB>,
    {
        conn_fetch_many::<DB, E>(&mut *self.conn, &self.config, query, &Context::current())
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let parent = Context::current();
        let config = self.config.clone();
        Box::pin(async move {
            conn_fetch_optional::<DB, E>(&mut *self.conn, &config, query, &parent).await
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        't: 'e,
    {
        DB::prepare_with_on(&mut self.conn, sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<DB>, sqlx::Error>>
    where
        't: 'e,
    {
        DB::describe_on(&mut self.conn, sql)
    }
}
