//! [`TracedSyncConnection`]: wraps a blocking `redis::ConnectionLike`.

use std::sync::Arc;

use opentelemetry::Context;
use redis::{ConnectionLike, RedisResult, Value};
use trace_core::redis::{parse_packed, KeyMode};

use crate::command::{CommandSpan, Config};

/// A blocking Redis connection that opens one CLIENT span per command and per pipeline.
///
/// ```no_run
/// # fn run() -> redis::RedisResult<()> {
/// use redis::Commands;
/// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
/// let mut con = redis_trace::TracedSyncConnection::new(client.get_connection()?).with_server("127.0.0.1", 6379);
/// let _: () = con.set("k", "v")?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TracedSyncConnection<C> {
    inner: C,
    config: Arc<Config>,
}

impl<C> TracedSyncConnection<C> {
    /// Wraps a connection.
    ///
    /// ```no_run
    /// # fn run() -> redis::RedisResult<()> {
    /// use redis::Commands;
    /// let client = redis::Client::open("redis://127.0.0.1/")?;
    /// let mut con = redis_trace::TracedSyncConnection::new(client.get_connection()?).with_server("127.0.0.1", 6379);
    /// let _: () = con.set("k", "v")?;
    /// # Ok(()) }
    /// ```
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            config: Arc::new(Config::new()),
        }
    }

    /// Records this `server.address`/`server.port`.
    ///
    /// ```
    /// # fn run(inner: redis::Connection) {
    /// let con = redis_trace::TracedSyncConnection::new(inner).with_server("127.0.0.1", 6379);
    /// # }
    /// ```
    pub fn with_server(mut self, host: impl Into<String>, port: u16) -> Self {
        let c = Arc::make_mut(&mut self.config);
        c.target.server_address = Some(trace_core::intern::target_value(&host.into()));
        c.target.server_port = Some(port);
        self
    }

    /// Keeps (default), hashes or drops keys in `db.query.text`.
    ///
    /// ```
    /// # fn run(inner: redis::Connection) {
    /// let con = redis_trace::TracedSyncConnection::new(inner).with_key_mode(redis_trace::KeyMode::Hash);
    /// # }
    /// ```
    pub fn with_key_mode(mut self, mode: KeyMode) -> Self {
        Arc::make_mut(&mut self.config).key_mode = mode;
        self
    }

    /// The wrapped connection.
    ///
    /// ```
    /// # fn run(mut con: redis_trace::TracedSyncConnection<redis::Connection>) -> redis::RedisResult<()> {
    /// let pong: String = redis::cmd("PING").query(con.inner())?; // not traced
    /// # Ok(()) }
    /// ```
    pub fn inner(&mut self) -> &mut C {
        &mut self.inner
    }
}

impl<C: ConnectionLike> ConnectionLike for TracedSyncConnection<C> {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        let parsed = parse_packed(cmd).map(|(a, _)| a).unwrap_or_default();
        let span = CommandSpan::command(
            &self.config,
            self.inner.get_db(),
            parsed.into_iter(),
            &Context::current(),
        );
        let result = self.inner.req_packed_command(cmd);
        span.reply(result.as_ref());
        result
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let mut commands: Vec<Vec<&[u8]>> = Vec::new();
        let mut rest = cmd;
        while let Some((args, r)) = parse_packed(rest) {
            commands.push(args);
            rest = r;
            if rest.is_empty() {
                break;
            }
        }
        let atomic = commands
            .first()
            .and_then(|c| c.first())
            .is_some_and(|n| n.eq_ignore_ascii_case(b"MULTI"));
        let inner_cmds: Vec<&Vec<&[u8]>> = if atomic && commands.len() >= 2 {
            commands[1..commands.len() - 1].iter().collect()
        } else {
            commands.iter().collect()
        };
        let span = CommandSpan::pipeline(
            &self.config,
            self.inner.get_db(),
            inner_cmds.into_iter().map(|c| c.iter().copied()),
            atomic,
            &Context::current(),
        );
        let result = self.inner.req_packed_commands(cmd, offset, count);
        span.replies(result.as_deref());
        result
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn check_connection(&mut self) -> bool {
        self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}
