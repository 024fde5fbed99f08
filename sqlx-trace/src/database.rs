//! What differs between the databases: system name, dialect, rows affected, connection facts.

use either::Either;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::{Database, Describe, Execute, SqlStr};
use trace_core::sql::Dialect;

/// The per-database calls are the same code for every driver: each connection type implements
/// `Executor` concretely, so they just forward.
macro_rules! delegate_to_connection {
    () => {
        fn fetch_many_on<'e, 'q: 'e, E: 'q + Execute<'q, Self>>(
            conn: &'e mut Self::Connection,
            query: E,
        ) -> ResultStream<'e, Self> {
            sqlx::Executor::fetch_many(conn, query)
        }
        fn fetch_optional_on<'e, 'q: 'e, E: 'q + Execute<'q, Self>>(
            conn: &'e mut Self::Connection,
            query: E,
        ) -> BoxFuture<'e, Result<Option<Self::Row>, sqlx::Error>> {
            sqlx::Executor::fetch_optional(conn, query)
        }
        fn prepare_with_on<'e>(
            conn: &'e mut Self::Connection,
            sql: SqlStr,
            parameters: &'e [Self::TypeInfo],
        ) -> BoxFuture<'e, Result<Self::Statement, sqlx::Error>> {
            sqlx::Executor::prepare_with(conn, sql, parameters)
        }
        fn describe_on(
            conn: &mut Self::Connection,
            sql: SqlStr,
        ) -> BoxFuture<'_, Result<Describe<Self>, sqlx::Error>> {
            sqlx::Executor::describe(conn, sql)
        }
    };
}

/// The stream of results `fetch_many` yields.
///
/// ```
/// fn rows_only<'e>(s: sqlx_trace::ResultStream<'e, sqlx::Sqlite>) -> impl futures_util::Stream + 'e {
///     use futures_util::StreamExt;
///     s.filter_map(|r| async move { r.ok()?.right() })
/// }
/// ```
pub type ResultStream<'e, DB> = BoxStream<
    'e,
    Result<Either<<DB as Database>::QueryResult, <DB as Database>::Row>, sqlx::Error>,
>;

/// A sqlx database the wrapper knows how to describe: implemented for `sqlx::Postgres`,
/// `sqlx::MySql` and `sqlx::Sqlite` (each behind the cargo feature of its name).
///
/// ```
/// use sqlx_trace::TracedDatabase;
/// assert_eq!(<sqlx::Postgres as TracedDatabase>::SYSTEM, "postgresql");
/// assert_eq!(<sqlx::MySql as TracedDatabase>::SYSTEM, "mysql");
/// assert_eq!(<sqlx::Sqlite as TracedDatabase>::SYSTEM, "sqlite");
/// ```
pub trait TracedDatabase: Database {
    /// `db.system.name` (for MySQL, MariaDB is detected at connect time).
    const SYSTEM: &'static str;
    /// The dialect the sanitiser reads.
    const DIALECT: Dialect;
    /// Rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;
    /// Database name, server address and port, from the pool's connect options.
    fn connection_facts(
        options: &<Self::Connection as sqlx::Connection>::Options,
    ) -> ConnectionFacts;
    /// `fetch_many` on a connection of this database.
    fn fetch_many_on<'e, 'q: 'e, E: 'q + Execute<'q, Self>>(
        conn: &'e mut Self::Connection,
        query: E,
    ) -> ResultStream<'e, Self>;
    /// `fetch_optional` on a connection of this database.
    fn fetch_optional_on<'e, 'q: 'e, E: 'q + Execute<'q, Self>>(
        conn: &'e mut Self::Connection,
        query: E,
    ) -> BoxFuture<'e, Result<Option<Self::Row>, sqlx::Error>>;
    /// `prepare_with` on a connection of this database.
    fn prepare_with_on<'e>(
        conn: &'e mut Self::Connection,
        sql: SqlStr,
        parameters: &'e [Self::TypeInfo],
    ) -> BoxFuture<'e, Result<Self::Statement, sqlx::Error>>;
    /// `describe` on a connection of this database.
    fn describe_on(
        conn: &mut Self::Connection,
        sql: SqlStr,
    ) -> BoxFuture<'_, Result<Describe<Self>, sqlx::Error>>;
    /// `db.system.name` as the server reports itself (MariaDB behind the MySQL driver).
    fn detect_system(pool: &sqlx::Pool<Self>) -> BoxFuture<'_, &'static str> {
        let _ = pool;
        Box::pin(async { Self::SYSTEM })
    }
}

/// Where the pool connects: `db.namespace`, `server.address`, `server.port` of every span.
///
/// ```
/// use sqlx_trace::TracedDatabase;
/// let options: sqlx::postgres::PgConnectOptions =
///     "postgres://app@db.internal:6432/orders".parse().unwrap();
/// let facts = sqlx::Postgres::connection_facts(&options);
/// assert_eq!(facts.namespace.as_deref(), Some("orders"));
/// assert_eq!(facts.address.as_deref(), Some("db.internal"));
/// assert_eq!(facts.port, Some(6432));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConnectionFacts {
    /// `db.namespace`.
    pub namespace: Option<String>,
    /// `server.address`.
    pub address: Option<String>,
    /// `server.port`.
    pub port: Option<u16>,
}

#[cfg(feature = "postgres")]
impl TracedDatabase for sqlx::Postgres {
    const SYSTEM: &'static str = "postgresql";
    delegate_to_connection!();
    const DIALECT: Dialect = Dialect::Postgres;
    fn rows_affected(r: &sqlx::postgres::PgQueryResult) -> u64 {
        r.rows_affected()
    }
    fn connection_facts(o: &sqlx::postgres::PgConnectOptions) -> ConnectionFacts {
        let socket = o.get_socket().is_some();
        ConnectionFacts {
            namespace: o.get_database().map(str::to_owned),
            address: (!socket).then(|| o.get_host().to_owned()),
            port: (!socket).then(|| o.get_port()),
        }
    }
}

#[cfg(feature = "mysql")]
impl TracedDatabase for sqlx::MySql {
    const SYSTEM: &'static str = "mysql";
    delegate_to_connection!();
    const DIALECT: Dialect = Dialect::MySql;
    fn rows_affected(r: &sqlx::mysql::MySqlQueryResult) -> u64 {
        r.rows_affected()
    }
    fn detect_system(pool: &sqlx::Pool<Self>) -> BoxFuture<'_, &'static str> {
        Box::pin(async move {
            let version: Option<String> = sqlx::query_scalar("SELECT VERSION()")
                .fetch_optional(pool)
                .await
                .unwrap_or(None);
            match version {
                Some(v) if v.to_ascii_lowercase().contains("mariadb") => "mariadb",
                _ => "mysql",
            }
        })
    }
    fn connection_facts(o: &sqlx::mysql::MySqlConnectOptions) -> ConnectionFacts {
        let socket = o.get_socket().is_some();
        ConnectionFacts {
            namespace: o.get_database().map(str::to_owned),
            address: (!socket).then(|| o.get_host().to_owned()),
            port: (!socket).then(|| o.get_port()),
        }
    }
}

#[cfg(feature = "sqlite")]
impl TracedDatabase for sqlx::Sqlite {
    const SYSTEM: &'static str = "sqlite";
    delegate_to_connection!();
    const DIALECT: Dialect = Dialect::Sqlite;
    fn rows_affected(r: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        r.rows_affected()
    }
    fn connection_facts(o: &sqlx::sqlite::SqliteConnectOptions) -> ConnectionFacts {
        let mut name = o.get_filename().to_string_lossy().into_owned();
        if name.starts_with("file:sqlx-in-memory") || name.contains("mode=memory") {
            name = ":memory:".to_owned();
        }
        ConnectionFacts {
            namespace: (!name.is_empty()).then_some(name),
            address: None,
            port: None,
        }
    }
}
