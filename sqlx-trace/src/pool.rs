//! [`TracedPool`]: a sqlx pool whose every statement is a CLIENT span.

use std::ops::Deref;
use std::sync::Arc;

use either::Either;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use opentelemetry::Context;
use sqlx::{Database, Describe, Execute, Executor, Pool, SqlStr};
use trace_core::db::DbTarget;
use trace_core::sql::QueryText;
use trace_core::tracer::Tracer;

use crate::config::{Config, DEFAULT_MAX_QUERY_TEXT};
use crate::database::TracedDatabase;
use crate::executor::{pool_fetch_many, pool_fetch_optional};
use crate::statement::StatementSpan;
use crate::transaction::{TracedConnection, TracedTransaction};

/// A sqlx [`Pool`] that opens one CLIENT span per statement. Use `&TracedPool` wherever sqlx takes
/// an executor; everything else reaches the inner pool through `Deref` or [`inner`](Self::inner).
///
/// ```no_run
/// # async fn run() -> Result<(), sqlx::Error> {
/// use sqlx_trace::TracedPool;
/// let pool = TracedPool::<sqlx::Postgres>::connect("postgres://127.0.0.1/test").await?;
/// let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE active = $1")
///     .bind(true)
///     .fetch_one(&pool)
///     .await?;
/// let mut tx = pool.begin().await?;
/// sqlx::query("UPDATE users SET seen = now() WHERE id = $1").bind(7).execute(&mut tx).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TracedPool<DB: Database> {
    pool: Pool<DB>,
    config: Arc<Config>,
}

impl<DB: Database> Clone for TracedPool<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            config: self.config.clone(),
        }
    }
}

impl<DB: TracedDatabase> TracedPool<DB> {
    /// Wraps a pool. Connection facts (database, host, port) come from its options.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sqlx::Error> {
    /// let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect("sqlite::memory:").await?;
    /// let traced = sqlx_trace::TracedPool::new(pool);
    /// let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(&traced).await?;
    /// assert_eq!(one, 1);
    /// # Ok(()) }
    /// ```
    pub fn new(pool: Pool<DB>) -> Self {
        let facts = DB::connection_facts(&pool.connect_options());
        let value = |s: String| trace_core::intern::target_value(&s);
        Self {
            pool,
            config: Arc::new(Config {
                tracer: Tracer::new("sqlx-trace"),
                target: DbTarget {
                    system: DB::SYSTEM,
                    namespace: facts.namespace.map(value),
                    server_address: facts.address.map(value),
                    server_port: facts.port,
                },
                query_text: QueryText::Sanitized,
                max_query_text: DEFAULT_MAX_QUERY_TEXT,
                sqlcommenter: false,
            }),
        }
    }

    /// Connects a pool to `url` and wraps it. For MySQL, a MariaDB server is recognised from its
    /// version and recorded as `db.system.name = mariadb`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sqlx::Error> {
    /// let pool = sqlx_trace::TracedPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let pool = Pool::<DB>::connect(url).await?;
        let system = DB::detect_system(&pool).await;
        Ok(Self::new(pool).with_system_name(system))
    }

    fn update(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(Arc::make_mut(&mut self.config));
        self
    }

    /// Sets `db.system.name` (for example `mariadb` for a MariaDB server reached as MySQL).
    ///
    /// ```
    /// # async fn run(pool: sqlx::MySqlPool) {
    /// // a TiDB cluster reached through the MySQL driver
    /// let traced = sqlx_trace::TracedPool::new(pool).with_system_name("tidb");
    /// # }
    /// ```
    pub fn with_system_name(self, name: &'static str) -> Self {
        self.update(|c| c.target.system = name)
    }

    /// How `db.query.text` is recorded: sanitised (default), full, or not at all.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sqlx::Error> {
    /// use sqlx_trace::{QueryText, TracedPool};
    /// use trace_core::testing::SpanDataExt;
    ///
    /// let pipeline = trace_core::testing::install();
    /// let pool = TracedPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?.with_query_text(QueryText::Off);
    /// let trace_id = trace_core::manual::Operation::new("request")
    ///     .run_result(async {
    ///         sqlx::query("SELECT 'secret'").execute(&pool).await?;
    ///         let cx = opentelemetry::Context::current();
    ///         Ok::<_, sqlx::Error>(opentelemetry::trace::TraceContextExt::span(&cx).span_context().trace_id())
    ///     })
    ///     .await?;
    /// let trace = pipeline.wait_for_spans(trace_id, 2);
    /// assert!(trace.span("SELECT").attr("db.query.text").is_none());
    /// # Ok(()) }
    /// ```
    pub fn with_query_text(self, mode: QueryText) -> Self {
        self.update(|c| c.query_text = mode)
    }

    /// Longest `db.query.text`, in bytes (default 2048).
    ///
    /// ```
    /// # async fn run(pool: sqlx::PgPool) {
    /// let traced = sqlx_trace::TracedPool::new(pool).with_max_query_text(512);
    /// # }
    /// ```
    pub fn with_max_query_text(self, bytes: usize) -> Self {
        self.update(|c| c.max_query_text = bytes)
    }

    /// Appends the current `traceparent` to each statement as a sqlcommenter comment (off by
    /// default). Statements that already hold a comment, and prepared statements, are untouched.
    /// Every commented statement has a distinct text, so it is sent unprepared-cached: this costs
    /// the server a parse per statement.
    ///
    /// ```
    /// # async fn run(pool: sqlx::PgPool) {
    /// // statements reach the server as `SELECT ... /*traceparent='00-...-01'*/`, so pg_stat_activity
    /// // and the slow-query log name the trace
    /// let traced = sqlx_trace::TracedPool::new(pool).with_sqlcommenter(true);
    /// # }
    /// ```
    pub fn with_sqlcommenter(self, on: bool) -> Self {
        self.update(|c| c.sqlcommenter = on)
    }

    /// Uses `tracer` instead of the registered pipeline's.
    ///
    /// ```
    /// # async fn run(pool: sqlx::PgPool) {
    /// let tracer = trace_core::tracer::Tracer::from_global("reporting-db");
    /// let traced = sqlx_trace::TracedPool::new(pool).with_tracer(tracer);
    /// # }
    /// ```
    pub fn with_tracer(self, tracer: Tracer) -> Self {
        self.update(|c| c.tracer = tracer)
    }

    /// The wrapped pool.
    ///
    /// ```
    /// # async fn run(pool: sqlx_trace::TracedPool<sqlx::Postgres>) -> Result<(), sqlx::Error> {
    /// // not traced: a statement you would rather not see in every trace
    /// sqlx::query("SELECT pg_sleep(0)").execute(pool.inner()).await?;
    /// // pool methods are reachable through Deref too
    /// let idle = pool.num_idle();
    /// # Ok(()) }
    /// ```
    pub fn inner(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Begins a traced transaction: its statements are children of the context current here;
    /// `BEGIN`, `COMMIT` and `ROLLBACK` get spans, and dropping it unfinished shows as a rollback.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sqlx::Error> {
    /// let pool = sqlx_trace::TracedPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?;
    /// let mut tx = pool.begin().await?;
    /// sqlx::query("CREATE TABLE t (v INTEGER)").execute(&mut tx).await?;
    /// tx.rollback().await?; // a ROLLBACK span
    /// # Ok(()) }
    /// ```
    pub async fn begin(&self) -> Result<TracedTransaction<'static, DB>, sqlx::Error> {
        let parent = Context::current();
        let mut span = StatementSpan::start::<DB>(&self.config, "BEGIN", &parent);
        match self.pool.begin().await {
            Ok(tx) => {
                span.succeed();
                Ok(TracedTransaction::new(tx, self.config.clone(), parent))
            }
            Err(e) => {
                span.fail(&e);
                Err(e)
            }
        }
    }

    /// Acquires a traced connection from the pool.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sqlx::Error> {
    /// let pool = sqlx_trace::TracedPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?;
    /// let mut conn = pool.acquire().await?;
    /// sqlx::query("PRAGMA foreign_keys = ON").execute(&mut conn).await?;
    /// # Ok(()) }
    /// ```
    pub async fn acquire(&self) -> Result<TracedConnection<DB>, sqlx::Error> {
        Ok(TracedConnection::new(
            self.pool.acquire().await?,
            self.config.clone(),
        ))
    }
}

impl<DB: Database> Deref for TracedPool<DB> {
    type Target = Pool<DB>;
    fn deref(&self) -> &Pool<DB> {
        &self.pool
    }
}

impl<'p, DB> Executor<'p> for &'_ TracedPool<DB>
where
    DB: TracedDatabase,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        pool_fetch_many::<DB, E>(
            self.pool.clone(),
            self.config.clone(),
            query,
            &Context::current(),
        )
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(pool_fetch_optional::<DB, E>(
            self.pool.clone(),
            self.config.clone(),
            query,
            Context::current(),
        ))
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.pool.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            DB::prepare_with_on(&mut conn, sql, parameters).await
        })
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<DB>, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.pool.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            DB::describe_on(&mut conn, sql).await
        })
    }
}
