//! [`TracedConnection`]: wraps any async `ConnectionLike`.

use std::sync::Arc;

use opentelemetry::Context;
use redis::aio::ConnectionLike;
use redis::{Arg, Cmd, Pipeline, RedisFuture, Value};
use trace_core::redis::KeyMode;
use trace_core::tracer::Tracer;

use crate::command::{CommandSpan, Config};

fn args(cmd: &Cmd) -> impl Iterator<Item = &[u8]> {
    cmd.args_iter().map(|a| match a {
        Arg::Simple(b) => b,
        _ => b"0".as_slice(),
    })
}

/// An async Redis connection (`MultiplexedConnection`, `ConnectionManager`, a cluster
/// connection, ...) that opens one CLIENT span per command and per pipeline. It is itself a
/// `ConnectionLike`, so `AsyncCommands`, `cmd(..).query_async`, `pipe()` and scripts work unchanged.
///
/// ```no_run
/// # async fn run() -> redis::RedisResult<()> {
/// use redis::AsyncCommands;
/// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
/// let mut con = redis_trace::TracedConnection::connect(&client).await?;
/// let _: () = con.set("greeting", "hello").await?;
/// let v: Option<String> = con.get("greeting").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TracedConnection<C> {
    inner: C,
    config: Arc<Config>,
}

impl TracedConnection<redis::aio::MultiplexedConnection> {
    /// Opens a multiplexed connection from `client` and wraps it, taking `server.address` and
    /// `server.port` from the client's connection info.
    ///
    /// ```no_run
    /// # async fn run() -> redis::RedisResult<()> {
    /// let client = redis::Client::open("redis://cache.internal:6379/2")?;
    /// // server.address = cache.internal, server.port = 6379, db.namespace = 2
    /// let con = redis_trace::TracedConnection::connect(&client).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(client: &redis::Client) -> redis::RedisResult<Self> {
        let inner = client.get_multiplexed_async_connection().await?;
        Ok(Self::new(inner).with_address_of(client))
    }
}

impl<C> TracedConnection<C> {
    /// Wraps a connection.
    ///
    /// ```no_run
    /// # async fn run() -> redis::RedisResult<()> {
    /// let client = redis::Client::open("redis://127.0.0.1/")?;
    /// let manager = redis::aio::ConnectionManager::new(client.clone()).await?;
    /// let con = redis_trace::TracedConnection::new(manager).with_address_of(&client);
    /// # Ok(()) }
    /// ```
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            config: Arc::new(Config::new()),
        }
    }

    fn update(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(Arc::make_mut(&mut self.config));
        self
    }

    /// Records `server.address`/`server.port` from a client's connection info.
    ///
    /// ```no_run
    /// # async fn run() -> redis::RedisResult<()> {
    /// let client = redis::Client::open("redis://127.0.0.1:6380/")?;
    /// let inner = client.get_multiplexed_async_connection().await?;
    /// let con = redis_trace::TracedConnection::new(inner).with_address_of(&client);
    /// # Ok(()) }
    /// ```
    pub fn with_address_of(self, client: &redis::Client) -> Self {
        match client.get_connection_info().addr() {
            redis::ConnectionAddr::Tcp(h, p) => self.with_server(h.clone(), *p),
            redis::ConnectionAddr::TcpTls { host, port, .. } => {
                self.with_server(host.clone(), *port)
            }
            _ => self,
        }
    }

    /// Records this `server.address`/`server.port`.
    ///
    /// ```
    /// # fn run(inner: redis::aio::MultiplexedConnection) {
    /// // reached through a tunnel or proxy: record the server's own name
    /// let con = redis_trace::TracedConnection::new(inner).with_server("sessions.redis.internal", 6379);
    /// # }
    /// ```
    pub fn with_server(self, host: impl Into<String>, port: u16) -> Self {
        let host = host.into();
        self.update(|c| {
            c.target.server_address = Some(trace_core::intern::target_value(&host));
            c.target.server_port = Some(port);
        })
    }

    /// Keeps (default), hashes or drops keys in `db.query.text`.
    ///
    /// ```
    /// # fn run(inner: redis::aio::MultiplexedConnection) {
    /// use redis_trace::KeyMode;
    /// // keys hold e-mail addresses here: record `GET ?` instead of the key
    /// let con = redis_trace::TracedConnection::new(inner).with_key_mode(KeyMode::Drop);
    /// # }
    /// ```
    pub fn with_key_mode(self, mode: KeyMode) -> Self {
        self.update(|c| c.key_mode = mode)
    }

    /// Longest `db.query.text`, in bytes (default 1024).
    ///
    /// ```
    /// # fn run(inner: redis::aio::MultiplexedConnection) {
    /// let con = redis_trace::TracedConnection::new(inner).with_max_query_text(256);
    /// # }
    /// ```
    pub fn with_max_query_text(self, bytes: usize) -> Self {
        self.update(|c| c.max_query_text = bytes)
    }

    /// Uses `tracer` instead of the registered pipeline's.
    ///
    /// ```
    /// # fn run(inner: redis::aio::MultiplexedConnection) {
    /// let tracer = trace_core::tracer::Tracer::from_global("cache");
    /// let con = redis_trace::TracedConnection::new(inner).with_tracer(tracer);
    /// # }
    /// ```
    pub fn with_tracer(self, tracer: Tracer) -> Self {
        self.update(|c| c.tracer = tracer)
    }

    /// The wrapped connection.
    ///
    /// ```
    /// # async fn run(mut con: redis_trace::TracedConnection<redis::aio::MultiplexedConnection>) -> redis::RedisResult<()> {
    /// use redis::AsyncCommands;
    /// // not traced
    /// let _: () = con.inner().set("warmup", 1).await?;
    /// # Ok(()) }
    /// ```
    pub fn inner(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Unwraps.
    ///
    /// ```
    /// # fn run(con: redis_trace::TracedConnection<redis::aio::MultiplexedConnection>) {
    /// let plain: redis::aio::MultiplexedConnection = con.into_inner();
    /// # }
    /// ```
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for TracedConnection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let span = CommandSpan::command(
            &self.config,
            self.inner.get_db(),
            args(cmd),
            &Context::current(),
        );
        if !span.is_recording() {
            // nothing to record when it returns: the connection's own future, not wrapped
            return self.inner.req_packed_command(cmd);
        }
        let fut = self.inner.req_packed_command(cmd);
        Box::pin(async move {
            let result = fut.await;
            span.reply(result.as_ref());
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let span = CommandSpan::pipeline(
            &self.config,
            self.inner.get_db(),
            pipeline.cmd_iter().map(args),
            pipeline.is_transaction(),
            &Context::current(),
        );
        if !span.is_recording() {
            return self.inner.req_packed_commands(pipeline, offset, count);
        }
        let fut = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let result = fut.await;
            span.replies(result.as_deref());
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}
