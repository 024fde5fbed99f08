//! A real OTLP trace receiver for tests: gRPC (the `opentelemetry-proto` service definition) and
//! HTTP/protobuf (`POST /v1/traces`), each on its own thread and runtime on 127.0.0.1.
//!
//! It can also misbehave on purpose ([`Mode`]): answer with errors, or accept and never answer.
#![warn(missing_docs)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::common::v1::KeyValue as ProtoKeyValue;
use prost::Message;

/// A byte buffer to hand to a writer (the console exporter, a `fmt` layer) and read back.
///
/// ```
/// use std::io::Write;
/// let buf = test_support::SharedBuf::default();
/// buf.clone().write_all(b"trace 4bf9").unwrap();
/// assert_eq!(buf.text(), "trace 4bf9");
/// ```
#[derive(Clone, Default, Debug)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    /// What was written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SharedBuf {
    type Writer = SharedBuf;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Accept and keep the spans.
    Accept = 0,
    /// Refuse every export with an error (gRPC `UNAVAILABLE`, HTTP 503).
    Fail = 1,
    /// Accept the connection, never answer.
    Hang = 2,
    /// Accept and count the spans, keep nothing (for load runs).
    Discard = 3,
    /// Accept and keep only each span's ids (trace, span, parent), for long runs.
    Ids = 4,
    /// Refuse every export as malformed (gRPC `INVALID_ARGUMENT`, HTTP 400): a failure OTLP
    /// does not retry.
    Reject = 5,
}

/// An attribute value as received.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A double.
    Double(f64),
    /// An array, as its values.
    Array(Vec<Value>),
    /// Anything else.
    Other,
}

fn value(v: Option<ProtoValue>) -> Value {
    match v {
        Some(ProtoValue::StringValue(s)) => Value::Str(s),
        Some(ProtoValue::IntValue(i)) => Value::Int(i),
        Some(ProtoValue::BoolValue(b)) => Value::Bool(b),
        Some(ProtoValue::DoubleValue(d)) => Value::Double(d),
        Some(ProtoValue::ArrayValue(a)) => {
            Value::Array(a.values.into_iter().map(|v| value(v.value)).collect())
        }
        _ => Value::Other,
    }
}

fn attrs(kvs: Vec<ProtoKeyValue>) -> Vec<(String, Value)> {
    kvs.into_iter()
        .map(|kv| (kv.key, value(kv.value.and_then(|v| v.value))))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One span as it arrived.
#[derive(Debug, Clone)]
pub struct Span {
    /// Trace id, lower-case hex.
    pub trace_id: String,
    /// Span id, lower-case hex.
    pub span_id: String,
    /// Parent span id, hex, empty for a root.
    pub parent_span_id: String,
    /// Name.
    pub name: String,
    /// Kind (OTLP numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    /// Status code (0 unset, 1 ok, 2 error).
    pub status_code: i32,
    /// Status message.
    pub status_message: String,
    /// Attributes.
    pub attributes: Vec<(String, Value)>,
    /// The names of the span's events.
    pub events: Vec<String>,
    /// Links, as (trace id, span id) hex.
    pub links: Vec<(String, String)>,
    /// The resource's attributes.
    pub resource: Vec<(String, Value)>,
    /// Start and end, in nanoseconds since the epoch.
    pub start_end_ns: (u64, u64),
}

impl Span {
    /// An attribute's value.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
    /// A resource attribute's value.
    pub fn resource_attr(&self, key: &str) -> Option<&Value> {
        self.resource.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

#[derive(Default)]
struct State {
    spans: Mutex<Vec<Span>>,
    ids: Mutex<Vec<(String, String, String)>>,
    discarded: AtomicUsize,
    requests: AtomicUsize,
    bytes: AtomicUsize,
    headers: Mutex<Vec<(String, String)>>,
    mode: AtomicU8,
    refusals: AtomicUsize,
}

impl State {
    fn note_headers<'a>(&self, headers: impl Iterator<Item = (&'a str, &'a [u8])>) {
        *self.headers.lock().unwrap() = headers
            .map(|(k, v)| (k.to_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect();
    }

    fn mode(&self) -> Mode {
        match self.mode.load(Ordering::SeqCst) {
            1 => Mode::Fail,
            2 => Mode::Hang,
            3 => Mode::Discard,
            4 => Mode::Ids,
            5 => Mode::Reject,
            _ => Mode::Accept,
        }
    }

    /// How to answer this request: refused while [`Receiver::refuse_next`] refusals are left,
    /// else as the mode says.
    fn answer(&self) -> Mode {
        let refused = self
            .refusals
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refused {
            Mode::Fail
        } else {
            self.mode()
        }
    }

    fn take(&self, req: ExportTraceServiceRequest) {
        if self.mode() == Mode::Ids {
            let mut ids = self.ids.lock().unwrap();
            for rs in req.resource_spans {
                for ss in rs.scope_spans {
                    for s in ss.spans {
                        ids.push((hex(&s.trace_id), hex(&s.span_id), hex(&s.parent_span_id)));
                    }
                }
            }
            return;
        }
        let mut out = self.spans.lock().unwrap();
        for rs in req.resource_spans {
            let resource = attrs(rs.resource.map(|r| r.attributes).unwrap_or_default());
            for ss in rs.scope_spans {
                for s in ss.spans {
                    out.push(Span {
                        trace_id: hex(&s.trace_id),
                        span_id: hex(&s.span_id),
                        parent_span_id: hex(&s.parent_span_id),
                        name: s.name,
                        kind: s.kind,
                        status_code: s.status.as_ref().map(|st| st.code).unwrap_or(0),
                        status_message: s.status.map(|st| st.message).unwrap_or_default(),
                        attributes: attrs(s.attributes),
                        events: s.events.into_iter().map(|e| e.name).collect(),
                        links: s
                            .links
                            .into_iter()
                            .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                            .collect(),
                        resource: resource.clone(),
                        start_end_ns: (s.start_time_unix_nano, s.end_time_unix_nano),
                    });
                }
            }
        }
    }
}

struct Grpc(Arc<State>);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.requests.fetch_add(1, Ordering::SeqCst);
        self.0
            .note_headers(request.metadata().iter().filter_map(|e| match e {
                tonic::metadata::KeyAndValueRef::Ascii(k, v) => Some((k.as_str(), v.as_bytes())),
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            }));
        match self.0.answer() {
            Mode::Discard => {
                let n: usize = request
                    .get_ref()
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len())
                    .sum();
                self.0.discarded.fetch_add(n, Ordering::SeqCst);
                Ok(tonic::Response::new(ExportTraceServiceResponse {
                    partial_success: None,
                }))
            }
            Mode::Accept | Mode::Ids => {
                self.0.take(request.into_inner());
                Ok(tonic::Response::new(ExportTraceServiceResponse {
                    partial_success: None,
                }))
            }
            Mode::Fail => Err(tonic::Status::unavailable("receiver refuses on purpose")),
            Mode::Reject => Err(tonic::Status::invalid_argument(
                "receiver rejects on purpose",
            )),
            Mode::Hang => std::future::pending().await,
        }
    }
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    state: Arc<State>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish()
    }
}

fn spawn_runtime<F, Fut>(make: F) -> (Arc<State>, SocketAddr)
where
    F: FnOnce(Arc<State>, tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let state = Arc::new(State::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("local addr");
    let st = state.clone();
    std::thread::Builder::new()
        .name("otlp-receiver".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                make(st, listener).await
            });
        })
        .expect("receiver thread");
    (state, addr)
}

impl Receiver {
    /// Starts an OTLP/gRPC receiver (accepts gzip).
    pub fn grpc() -> Self {
        let (state, addr) = spawn_runtime(|state, listener| async move {
            let incoming = tokio_stream_from(listener);
            let svc = TraceServiceServer::new(Grpc(state))
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
            let _ = tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(incoming)
                .await;
        });
        Self { state, addr }
    }

    /// Starts an OTLP/gRPC endpoint that takes export requests without decoding them and
    /// answers each with success: what a collector that discards costs the machine, for load
    /// runs (a collector runs elsewhere; one on the same cores should cost as little as it can).
    /// It counts requests and bytes ([`Receiver::bytes`]), not spans. No compression.
    pub fn grpc_sink() -> Self {
        let (state, addr) = spawn_runtime(|state, listener| async move {
            let incoming = tokio_stream_from(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(Sink(state))
                .serve_with_incoming(incoming)
                .await;
        });
        Self { state, addr }
    }

    /// Bytes of export requests a [`Receiver::grpc_sink`] took.
    pub fn bytes(&self) -> usize {
        self.state.bytes.load(Ordering::Relaxed)
    }

    /// Starts an OTLP/HTTP protobuf receiver at `POST /v1/traces` (accepts gzip).
    pub fn http() -> Self {
        let (state, addr) = spawn_runtime(|state, listener| async move {
            let app = axum::Router::new().route(
                "/v1/traces",
                axum::routing::post(move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
                    let state = state.clone();
                    async move { http_export(&state, &headers, body).await }
                }),
            );
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|s| {
                let _ = s.set_nodelay(true);
            });
            let _ = axum::serve(listener, app).await;
        });
        Self { state, addr }
    }

    /// The endpoint URL for an exporter (`http://127.0.0.1:port`, plus `/v1/traces` for HTTP).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets how the receiver answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.state.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Refuses the next `n` export requests as [`Mode::Fail`] does, then answers as the mode
    /// says: a collector that is briefly unavailable.
    pub fn refuse_next(&self, n: usize) {
        self.state.refusals.store(n, Ordering::SeqCst);
    }

    /// The headers (gRPC: the ASCII metadata) of the last export request.
    pub fn last_headers(&self) -> Vec<(String, String)> {
        self.state.headers.lock().unwrap().clone()
    }

    /// Export requests received (answered or not).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The (trace id, span id, parent span id) of every span received in [`Mode::Ids`].
    pub fn ids(&self) -> Vec<(String, String, String)> {
        self.state.ids.lock().unwrap().clone()
    }

    /// Spans received and thrown away in [`Mode::Discard`].
    pub fn discarded(&self) -> usize {
        self.state.discarded.load(Ordering::SeqCst)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.state.spans.lock().unwrap().clone()
    }

    /// Waits (polling, up to `timeout`) until `ready` holds for the received spans.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut ready: impl FnMut(&[Span]) -> bool,
    ) -> Vec<Span> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if ready(&spans) || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

async fn http_export(
    state: &State,
    headers: &axum::http::HeaderMap,
    body: bytes::Bytes,
) -> (axum::http::StatusCode, Vec<u8>) {
    use axum::http::StatusCode;
    state.requests.fetch_add(1, Ordering::SeqCst);
    state.note_headers(headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())));
    match state.answer() {
        Mode::Fail => return (StatusCode::SERVICE_UNAVAILABLE, Vec::new()),
        Mode::Reject => return (StatusCode::BAD_REQUEST, Vec::new()),
        Mode::Hang => std::future::pending().await,
        Mode::Accept | Mode::Discard | Mode::Ids => {}
    }
    let gzip = headers
        .get("content-encoding")
        .map(|v| v.as_bytes() == b"gzip")
        .unwrap_or(false);
    let raw = if gzip {
        use std::io::Read;
        let mut out = Vec::new();
        if flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .is_err()
        {
            return (StatusCode::BAD_REQUEST, Vec::new());
        }
        out
    } else {
        body.to_vec()
    };
    match ExportTraceServiceRequest::decode(&raw[..]) {
        Ok(req) => {
            state.take(req);
            let resp = ExportTraceServiceResponse {
                partial_success: None,
            };
            (StatusCode::OK, resp.encode_to_vec())
        }
        Err(_) => (StatusCode::BAD_REQUEST, Vec::new()),
    }
}

/// A gRPC codec that takes an export request's bytes without decoding them and answers with an
/// empty response (an empty protobuf message is zero bytes).
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = ();
    type Error = tonic::Status;
    fn encode(&mut self, _: (), _: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    /// The message's length in bytes.
    type Item = usize;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<usize>, tonic::Status> {
        use bytes::Buf;
        let n = src.remaining();
        src.advance(n);
        Ok(Some(n))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = ();
    type Decode = usize;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// The trace export method of a [`Receiver::grpc_sink`].
#[derive(Clone)]
struct SinkExport(Arc<State>);

impl tonic::server::UnaryService<usize> for SinkExport {
    type Response = ();
    type Future = std::future::Ready<Result<tonic::Response<()>, tonic::Status>>;
    fn call(&mut self, request: tonic::Request<usize>) -> Self::Future {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
        self.0
            .bytes
            .fetch_add(*request.get_ref(), Ordering::Relaxed);
        std::future::ready(Ok(tonic::Response::new(())))
    }
}

/// The gRPC service of a [`Receiver::grpc_sink`].
#[derive(Clone)]
struct Sink(Arc<State>);

impl tonic::server::NamedService for Sink {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> tower_service::Service<axum::http::Request<B>> for Sink
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = axum::http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let method = SinkExport(self.0.clone());
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec).apply_compression_config(
                tonic::codec::EnabledCompressionEncodings::default(),
                tonic::codec::EnabledCompressionEncodings::default(),
            );
            Ok(grpc.unary(method, req).await)
        })
    }
}

fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    // Collectors answer with Nagle's algorithm off (Go's net package sets TCP_NODELAY on every
    // connection); without it a response written in pieces waits for the exporter's delayed ACK
    // (40 ms on Linux) and the exporter's queue overflows behind it.
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|s| {
        if let Ok(s) = &s {
            // a socket that refuses the option still serves, only slower
            let _ = s.set_nodelay(true);
        }
        s
    })
}

/// Runs `f` under a root span named `test` (with the in-memory test pipeline installed) and
/// returns the finished trace once it holds the root and `n` more spans.
pub async fn traced<F, Fut>(n: usize, f: F) -> trace_core::testing::Trace
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use opentelemetry::trace::TraceContextExt;
    let pipeline = trace_core::testing::install();
    let tid = trace_core::manual::Operation::new("test")
        .run(async {
            f().await;
            opentelemetry::Context::current()
                .span()
                .span_context()
                .trace_id()
        })
        .await;
    tokio::task::spawn_blocking(move || pipeline.wait_for_spans(tid, n + 1))
        .await
        .expect("the trace arrived")
}

/// Serves `app` on a free loopback port, sends it `GET path`, and returns the trace id from the
/// `x-trace-id` response header with the response body.
pub async fn serve_and_get(
    app: axum::Router,
    path: &str,
) -> (opentelemetry::trace::TraceId, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let res = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("the server answers");
    let tid = res
        .headers()
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| opentelemetry::trace::TraceId::from_hex(v).ok())
        .expect("an x-trace-id header");
    (tid, res.text().await.expect("a body"))
}

/// What each operation of a load run returned, with when it finished.
pub type Outcomes = Vec<(std::time::Instant, Result<(), String>)>;

/// The checks of a "server restarted under load" test: operations succeeded before `stopped_at`;
/// some failed while the server was down; every one from a second after `restarted_at` succeeded;
/// the trace holds one span named `span_name` per operation (plus the root), the failed ones with
/// status Error whose message is the error the caller got, an `error.type`, and `server.port`.
pub fn check_outage(
    outcomes: &Outcomes,
    stopped_at: std::time::Instant,
    restarted_at: std::time::Instant,
    trace: &trace_core::testing::Trace,
    span_name: &str,
    port: u16,
) {
    use opentelemetry::trace::Status;
    use trace_core::testing::SpanDataExt;
    let before: Vec<_> = outcomes.iter().filter(|(t, _)| *t < stopped_at).collect();
    assert!(
        before.len() > 10 && before.iter().all(|(_, r)| r.is_ok()),
        "operations ran before the stop"
    );
    let errors: Vec<&String> = outcomes
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .collect();
    assert!(!errors.is_empty(), "the stop was seen by the application");
    eprintln!(
        "{} operations, {} failed while the server was down; first error: {}",
        outcomes.len(),
        errors.len(),
        errors[0]
    );
    let after: Vec<_> = outcomes
        .iter()
        .filter(|(t, _)| *t > restarted_at + std::time::Duration::from_millis(1000))
        .collect();
    assert!(
        after.len() > 10 && after.iter().all(|(_, r)| r.is_ok()),
        "the client recovered once the server was back: {:?}",
        after
            .iter()
            .filter(|(_, r)| r.is_err())
            .take(3)
            .collect::<Vec<_>>()
    );
    let ops: Vec<_> = trace.spans.iter().filter(|s| s.name == span_name).collect();
    assert_eq!(ops.len(), outcomes.len(), "one span per operation");
    let failed: Vec<_> = ops
        .iter()
        .filter(|s| matches!(s.status, Status::Error { .. }))
        .collect();
    assert_eq!(failed.len(), errors.len());
    for s in &failed {
        let Status::Error { description } = &s.status else {
            unreachable!()
        };
        assert!(
            errors.iter().any(|e| **e == *description),
            "the span says what the caller got: {description}"
        );
        assert!(!s.str_attr("error.type").is_empty());
        assert_eq!(s.int_attr("server.port"), i64::from(port));
    }
}
