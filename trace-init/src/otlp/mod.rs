//! The OTLP trace exporter: gRPC or HTTP/protobuf, gzip optional, headers, a timeout per export.
//!
//! Each batch is written as protobuf straight from the spans as the queue holds them ([`encode`])
//! and sent by a small runtime of its own (one worker thread, owned by the
//! [`Guard`](crate::Guard)), so export never competes with the application's runtime and still
//! works while that one shuts down. The runtime's thread writes the request body too: the body is
//! read where it was written, not handed from the queue's thread to the sending one. A send that
//! fails in a way OTLP retries (gRPC `UNAVAILABLE` and the other transient codes, HTTP
//! 429/502/503/504, no connection) is sent again after the delay the collector asked for or an
//! exponential backoff ([`retry`]), while the export timeout lasts. A failed export is an error
//! to the span queue (which counts and reports it), never a panic, and takes at most the
//! timeout.

mod encode;
mod retry;
mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use trace_core::export::{FinishedBatch, FinishedExporter, FinishedSpan, SpanView};

use crate::settings::Protocol;
use retry::{Retry, SendError};

/// What the exporter calls itself in requests.
const USER_AGENT: &str = concat!("trace-init/", env!("CARGO_PKG_VERSION"));

/// The gRPC method of trace export.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Where and how spans are sent.
#[derive(Debug, Clone)]
pub(crate) struct OtlpConfig {
    pub(crate) protocol: Protocol,
    /// gRPC: the collector's base URL; HTTP: the full URL of the traces endpoint.
    pub(crate) endpoint: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) gzip: bool,
    pub(crate) timeout: Duration,
}

/// An OTLP exporter for the span queue.
pub(crate) struct OtlpExporter {
    transport: Transport,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
    /// Turns `true` when the pipeline shuts down: no more waiting to retry.
    stopping: tokio::sync::watch::Receiver<bool>,
    encoding: Arc<Encoding>,
}

/// What every request body of an exporter starts from: the resource, encoded once.
struct Encoding {
    resource: Vec<u8>,
    resource_schema_url: Option<String>,
    /// HTTP with gzip: the body is compressed here (gRPC compresses in its codec).
    gzip_body: bool,
}

impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("timeout", &self.timeout)
            .field("gzip_body", &self.encoding.gzip_body)
            .finish_non_exhaustive()
    }
}

// one per exporter, cloned once per batch: the size difference costs nothing worth a box
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Transport {
    Grpc {
        client: tonic::client::Grpc<tonic::transport::Channel>,
        metadata: tonic::metadata::MetadataMap,
    },
    Http {
        client: hyper_util::client::legacy::Client<
            hyper_util::client::legacy::connect::HttpConnector,
            http_body_util::Full<Bytes>,
        >,
        uri: http::Uri,
        headers: http::HeaderMap,
    },
}

/// Why an exporter could not be built.
#[derive(Debug)]
pub(crate) struct BuildError(pub(crate) String);

impl OtlpExporter {
    /// An exporter sending through `runtime` (which must outlive it).
    pub(crate) fn new(
        config: &OtlpConfig,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(Self, StopRetries), BuildError> {
        if config.endpoint.starts_with("https://") {
            return Err(BuildError(format!(
                "{}: TLS is not supported by this exporter; send to a collector (agent or \
                 sidecar) over http://",
                config.endpoint
            )));
        }
        let transport = match config.protocol {
            Protocol::Grpc => {
                let endpoint = tonic::transport::Endpoint::from_shared(config.endpoint.clone())
                    .map_err(|e| BuildError(format!("{}: {e}", config.endpoint)))?
                    .timeout(config.timeout)
                    .connect_timeout(config.timeout)
                    .user_agent(USER_AGENT)
                    .map_err(|e| BuildError(e.to_string()))?;
                // the channel's tasks run on the exporter's runtime
                let channel = {
                    let _enter = runtime.enter();
                    endpoint.connect_lazy()
                };
                let mut client = tonic::client::Grpc::new(channel);
                if config.gzip {
                    client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
                }
                let mut metadata = tonic::metadata::MetadataMap::new();
                for (k, v) in &config.headers {
                    if let (Ok(k), Ok(v)) = (
                        tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes()),
                        v.parse(),
                    ) {
                        metadata.insert(k, v);
                    }
                }
                Transport::Grpc { client, metadata }
            }
            Protocol::HttpProtobuf => {
                let uri: http::Uri = config
                    .endpoint
                    .parse()
                    .map_err(|e| BuildError(format!("{}: {e}", config.endpoint)))?;
                let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
                connector.set_connect_timeout(Some(config.timeout));
                connector.set_nodelay(true);
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build(connector);
                let mut headers = http::HeaderMap::new();
                for (k, v) in &config.headers {
                    if let (Ok(k), Ok(v)) = (
                        http::HeaderName::from_bytes(k.as_bytes()),
                        http::HeaderValue::from_str(v),
                    ) {
                        headers.insert(k, v);
                    }
                }
                headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/x-protobuf"),
                );
                headers.insert(
                    http::header::USER_AGENT,
                    http::HeaderValue::from_static(USER_AGENT),
                );
                if config.gzip {
                    headers.insert(
                        http::header::CONTENT_ENCODING,
                        http::HeaderValue::from_static("gzip"),
                    );
                }
                Transport::Http {
                    client,
                    uri,
                    headers,
                }
            }
        };
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let encoding = Arc::new(Encoding {
            resource: encode::resource(&Resource::builder_empty().build()),
            resource_schema_url: None,
            gzip_body: config.gzip && matches!(transport, Transport::Http { .. }),
        });
        let exporter = Self {
            transport,
            runtime: runtime.clone(),
            timeout: config.timeout,
            stopping,
            encoding,
        };
        Ok((exporter, StopRetries(stop)))
    }
}

impl Encoding {
    /// The request body for `batch`.
    fn body<S: SpanView>(&self, batch: &[S]) -> Result<Bytes, String> {
        // sized exactly by the encoder, before it writes
        let mut out = Vec::new();
        encode::request(
            &self.resource,
            self.resource_schema_url.as_deref(),
            batch,
            &mut out,
        );
        if self.gzip_body {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(out.len() / 4),
                flate2::Compression::fast(),
            );
            gz.write_all(&out).map_err(|e| format!("gzip: {e}"))?;
            out = gz.finish().map_err(|e| format!("gzip: {e}"))?;
        }
        Ok(Bytes::from(out))
    }
}

/// Stops the exporter's retries when the pipeline shuts down: the last batches are tried once,
/// so an unreachable collector does not hold the exit for the whole shutdown timeout.
#[derive(Debug)]
pub(crate) struct StopRetries(tokio::sync::watch::Sender<bool>);

impl StopRetries {
    pub(crate) fn stop(&self) {
        let _ = self.0.send(true);
    }
}

/// Sends `body` until it is delivered, fails in a way OTLP does not retry, no time is left before
/// `deadline` for the next backoff, or the pipeline is `stopping`.
async fn send_with_retries(
    transport: Transport,
    body: Bytes,
    deadline: tokio::time::Instant,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    let mut backoff = retry::Backoff::new();
    loop {
        let e = match send(transport.clone(), body.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let Retry::Yes(asked) = e.retry else {
            return Err(e.message);
        };
        let wait = backoff.wait(asked);
        if *stopping.borrow() || tokio::time::Instant::now() + wait >= deadline {
            return Err(e.message);
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopping.wait_for(|stop| *stop) => return Err(e.message),
        }
    }
}

/// One attempt.
async fn send(transport: Transport, body: Bytes) -> Result<(), SendError> {
    match transport {
        Transport::Grpc {
            mut client,
            metadata,
        } => {
            client
                .ready()
                .await
                .map_err(|e| SendError::transport(format!("gRPC channel: {e}")))?;
            let mut request = tonic::Request::new(body);
            *request.metadata_mut() = metadata;
            let path = http::uri::PathAndQuery::from_static(EXPORT_PATH);
            client
                .unary::<Bytes, Bytes, _>(request, path, RawCodec)
                .await
                .map(|response| partial_success(response.get_ref()))
                .map_err(|status| SendError::grpc(&status))
        }
        Transport::Http {
            client,
            uri,
            headers,
        } => {
            let mut request = http::Request::post(uri)
                .body(http_body_util::Full::new(body))
                .map_err(|e| SendError::permanent(e.to_string()))?;
            *request.headers_mut() = headers;
            let response = client
                .request(request)
                .await
                .map_err(|e| SendError::transport(format!("HTTP: {e}")))?;
            let status = response.status();
            if !status.is_success() {
                return Err(SendError::http(status, response.headers()));
            }
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            partial_success(&body);
            Ok(())
        }
    }
}

/// Notes an `ExportTraceServiceResponse` that says some spans were rejected (field 1,
/// `partial_success`: `rejected_spans = 1`, `error_message = 2`). The export itself succeeded:
/// OTLP says not to retry it.
fn partial_success(response: &[u8]) {
    let rejected = read_partial_success(response);
    if let Some((n, message)) = rejected.filter(|(n, _)| *n > 0) {
        tracing::warn!(target: "trace_init::otlp", rejected = n, "the collector rejected {n} spans: {message}");
    }
}

/// The rejected span count and message of a response, if it says any.
fn read_partial_success(mut b: &[u8]) -> Option<(i64, String)> {
    let mut inner = wire::next_field(&mut b, 1)?;
    let (mut rejected, mut message) = (0i64, String::new());
    while !inner.is_empty() {
        let k = wire::varint(&mut inner)?;
        match k {
            8 => rejected = wire::varint(&mut inner)? as i64,
            18 => message = String::from_utf8_lossy(wire::bytes(&mut inner)?).into_owned(),
            _ => wire::skip(&mut inner, k & 7)?,
        }
    }
    Some((rejected, message))
}

impl OtlpExporter {
    /// Writes one request body (`body`) and sends it, both on the exporter's runtime, retried as
    /// OTLP says within the timeout, and waits for the outcome.
    async fn deliver<F>(&self, body: F) -> OTelSdkResult
    where
        F: FnOnce(&Encoding) -> Result<Bytes, String> + Send + 'static,
    {
        let transport = self.transport.clone();
        let timeout = self.timeout;
        let stopping = self.stopping.clone();
        let encoding = self.encoding.clone();
        let task = self.runtime.spawn(async move {
            let body = body(&encoding).map_err(OTelSdkError::InternalFailure)?;
            let deadline = tokio::time::Instant::now() + timeout;
            let send = send_with_retries(transport, body, deadline, stopping);
            match tokio::time::timeout_at(deadline, send).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(OTelSdkError::InternalFailure(e)),
                Err(_) => Err(OTelSdkError::Timeout(timeout)),
            }
        });
        task.await
            .unwrap_or_else(|e| Err(OTelSdkError::InternalFailure(format!("export task: {e}"))))
    }

    fn use_resource(&mut self, resource: &Resource) {
        self.encoding = Arc::new(Encoding {
            resource: encode::resource(resource),
            resource_schema_url: resource.schema_url().map(str::to_owned),
            gzip_body: self.encoding.gzip_body,
        });
    }
}

impl SpanExporter for OtlpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        self.deliver(move |e| e.body(&batch)).await
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.use_resource(resource);
    }
}

/// The span queue hands its spans over as they are held: the adapters' spans are encoded without
/// becoming `SpanData` first.
impl FinishedExporter for OtlpExporter {
    fn export(&mut self, batch: &[FinishedSpan]) -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let body = self
            .encoding
            .body(batch)
            .map_err(OTelSdkError::InternalFailure)?;
        futures_executor::block_on(self.deliver(move |_| Ok(body)))
    }

    /// The batch is written into the request body on the runtime's thread, which sends it, and
    /// freed there.
    fn export_owned(&mut self, batch: FinishedBatch) -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        futures_executor::block_on(self.deliver(move |e| e.body(&batch)))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.use_resource(resource);
    }
}

/// A gRPC codec for bytes already encoded (requests) and not decoded (responses).
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Bytes>, tonic::Status> {
        use bytes::Buf;
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_success_is_read() {
        // partial_success { rejected_spans: 3, error_message: "no" }
        let b = [10, 6, 8, 3, 18, 2, b'n', b'o'];
        assert_eq!(read_partial_success(&b), Some((3, "no".into())));
        assert_eq!(read_partial_success(&[]), None);
        // truncated: no panic
        assert_eq!(read_partial_success(&[10, 6, 8]), None);
    }
}
