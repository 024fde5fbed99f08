//! The demo's database, whichever one `DATABASE_URL` names (SQLite by default).

use sqlx_trace::TracedPool;

/// A traced pool of one of the three databases.
#[derive(Debug, Clone)]
pub enum Db {
    /// SQLite (the default: embedded, nothing to install).
    Sqlite(TracedPool<sqlx::Sqlite>),
    /// PostgreSQL.
    Postgres(TracedPool<sqlx::Postgres>),
    /// MySQL or MariaDB.
    MySql(TracedPool<sqlx::MySql>),
}

/// Runs `$body` with `$p` bound to whichever pool this is.
macro_rules! on {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            Db::Sqlite($p) => $body,
            Db::Postgres($p) => $body,
            Db::MySql($p) => $body,
        }
    };
}

impl Db {
    /// Connects to `url` (`sqlite:`, `postgres://`, `mysql://`).
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Ok(if url.starts_with("postgres") {
            Db::Postgres(TracedPool::connect(url).await?)
        } else if url.starts_with("mysql") || url.starts_with("mariadb") {
            Db::MySql(TracedPool::connect(url).await?)
        } else {
            Db::Sqlite(TracedPool::connect(url).await?)
        })
    }

    /// The statement with PostgreSQL (`$1`) or other (`?`) placeholders.
    fn sql(&self, pg: &'static str, other: &'static str) -> &'static str {
        match self {
            Db::Postgres(_) => pg,
            _ => other,
        }
    }

    /// Creates the tables and the sample rows (idempotent).
    pub async fn setup(&self) -> Result<(), sqlx::Error> {
        for stmt in [
            "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL, email VARCHAR(128) NOT NULL)",
            "CREATE TABLE IF NOT EXISTS stock (item INTEGER PRIMARY KEY, quantity INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS audit (id INTEGER NOT NULL, user_id INTEGER NOT NULL, event VARCHAR(32) NOT NULL)",
        ] {
            on!(self, p => sqlx::query(stmt).execute(p.inner()).await.map(|_| ()))?;
        }
        let seeded: i64 = on!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(p.inner()).await)?;
        if seeded == 0 {
            for (id, name) in [(1, "ada"), (2, "grace"), (3, "edsger")] {
                let q = self.sql(
                    "INSERT INTO users (id, name, email) VALUES ($1, $2, $3)",
                    "INSERT INTO users (id, name, email) VALUES (?, ?, ?)",
                );
                let email = format!("{name}@example.com");
                on!(self, p => sqlx::query(q).bind(id).bind(name).bind(&email).execute(p.inner()).await.map(|_| ()))?;
                let q = self.sql(
                    "INSERT INTO stock (item, quantity) VALUES ($1, $2)",
                    "INSERT INTO stock (item, quantity) VALUES (?, ?)",
                );
                on!(self, p => sqlx::query(q).bind(id).bind(id * 10).execute(p.inner()).await.map(|_| ()))?;
            }
        }
        Ok(())
    }

    /// The user's name, if the user exists (traced).
    pub async fn user(&self, id: i64) -> Result<Option<String>, sqlx::Error> {
        let q = self.sql(
            "SELECT name FROM users WHERE id = $1",
            "SELECT name FROM users WHERE id = ?",
        );
        on!(self, p => sqlx::query_scalar::<_, String>(q).bind(id).fetch_optional(p).await)
    }

    /// The stock of an item (traced).
    pub async fn stock(&self, item: i64) -> Result<i64, sqlx::Error> {
        let q = self.sql(
            "SELECT quantity FROM stock WHERE item = $1",
            "SELECT quantity FROM stock WHERE item = ?",
        );
        let n: Option<i32> =
            on!(self, p => sqlx::query_scalar::<_, i32>(q).bind(item).fetch_optional(p).await)?;
        Ok(n.map(i64::from).unwrap_or(0))
    }

    /// Records an event for a user (traced).
    pub async fn audit(&self, user_id: i64, event: &str) -> Result<(), sqlx::Error> {
        let q = self.sql(
            "INSERT INTO audit (id, user_id, event) VALUES ($1, $2, $3)",
            "INSERT INTO audit (id, user_id, event) VALUES (?, ?, ?)",
        );
        let id = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros()
            % 1_000_000_000) as i64;
        on!(self, p => sqlx::query(q).bind(id).bind(user_id).bind(event).execute(p).await.map(|_| ()))
    }

    /// A report over a table that does not exist: this query fails, on purpose.
    pub async fn broken_report(&self) -> Result<i64, sqlx::Error> {
        on!(self, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sales_report").fetch_one(p).await)
    }
}
