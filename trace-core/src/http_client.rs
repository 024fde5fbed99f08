//! The HTTP client span family (kind CLIENT): one span per physical attempt.
//!
//! Name `{method}` or `{method} {url.template}`. Attributes: `http.request.method` (+ `_original`),
//! `url.full` (redacted), `server.address`, `server.port`, `url.scheme`, `url.template`,
//! `network.protocol.version`, `http.request.resend_count`, captured headers,
//! `http.response.status_code`, `error.type`. Status rule: 4xx and 5xx are errors, as are transport
//! failures.

use crate::attributes::PushAttr;
use std::borrow::Cow;

use http::{HeaderMap, Method, StatusCode, Version};
use opentelemetry::trace::{Span, SpanKind, Status};
use opentelemetry::{Context, StringValue};

use crate::attributes::*;
use crate::http_common::{name_for, normalize_method, protocol_version, scheme_value};
use crate::intern::{host_value, route_value};
use crate::limits::truncate;
use crate::redact::{HeaderCapture, UrlRedaction};
use crate::tracer::{SpanHandle, Tracer};

/// What the client span family records beyond the required attributes. The functions an HTTP
/// client adapter calls: [`start`](Self::start), then [`record_response`](Self::record_response)
/// or [`record_transport_error`](Self::record_transport_error), then `end`.
///
/// ```
/// use opentelemetry::trace::{Span as _, Status};
/// use trace_core::http_client::{HttpClientSchema, OutgoingRequest};
/// use trace_core::testing::SpanDataExt;
///
/// let pipeline = trace_core::testing::install();
/// let schema = HttpClientSchema::default();
/// let tracer = trace_core::tracer::Tracer::new("my-http-client");
/// let headers = http::HeaderMap::new();
/// let req = OutgoingRequest {
///     method: &http::Method::GET,
///     url: "https://user:pw@api.example.com/v1/items?X-Goog-Signature=abc",
///     scheme: "https",
///     host: "api.example.com",
///     port: Some(443),
///     template: Some("/v1/items"),
///     resend_count: 0,
///     headers: &headers,
/// };
/// let mut span = schema.start(&tracer, &req, &opentelemetry::Context::new());
/// schema.record_response(&mut span, http::StatusCode::NOT_FOUND, http::Version::HTTP_11, &headers);
/// let trace_id = span.span_context().trace_id();
/// span.end();
///
/// let trace = pipeline.wait_for_spans(trace_id, 1);
/// let exported = trace.span("GET /v1/items");
/// assert_eq!(
///     exported.str_attr("url.full"),
///     "https://REDACTED:REDACTED@api.example.com/v1/items?X-Goog-Signature=REDACTED"
/// );
/// assert_eq!(exported.str_attr("error.type"), "404"); // 4xx is an error for a client
/// assert!(matches!(exported.status, Status::Error { .. }));
/// ```
#[derive(Debug, Clone, Default)]
pub struct HttpClientSchema {
    /// Request headers recorded as `http.request.header.<name>`.
    pub request_headers: HeaderCapture,
    /// Response headers recorded as `http.response.header.<name>`.
    pub response_headers: HeaderCapture,
    /// Redaction of `url.full`.
    pub url_redaction: UrlRedaction,
}

/// The parts of an outgoing request the span is built from (see [`HttpClientSchema`]).
///
/// ```
/// let headers = http::HeaderMap::new();
/// let url = "http://inventory:8080/stock/42";
/// let req = trace_core::http_client::OutgoingRequest {
///     method: &http::Method::POST,
///     url,
///     scheme: "http",
///     host: "inventory",
///     port: Some(8080),
///     template: None, // the span is then named "POST", never by the raw path
///     resend_count: 1, // a retry: `http.request.resend_count` = 1
///     headers: &headers,
/// };
/// ```
#[derive(Debug, Clone, Copy)]
pub struct OutgoingRequest<'a> {
    /// Request method.
    pub method: &'a Method,
    /// The full URL (redacted before it is recorded).
    pub url: &'a str,
    /// `url.scheme`.
    pub scheme: &'a str,
    /// `server.address`.
    pub host: &'a str,
    /// `server.port` (explicit or the scheme's default).
    pub port: Option<u16>,
    /// A low-cardinality template of the URL, supplied by the caller.
    pub template: Option<&'a str>,
    /// How many times this request was sent before (0 for the first attempt).
    pub resend_count: u32,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

/// The classes of transport failure recorded as `error.type`.
///
/// ```
/// use trace_core::http_client::TransportError;
/// assert_eq!(TransportError::Timeout.as_str(), "timeout");
/// assert_eq!(TransportError::Connect.as_str(), "connect");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// The request timed out.
    Timeout,
    /// The connection could not be made.
    Connect,
    /// The request could not be built or sent.
    Request,
    /// Reading the response body failed.
    Body,
    /// Decoding the response failed.
    Decode,
    /// Too many redirects, or a redirect policy refused one.
    Redirect,
    /// Anything else.
    Other,
}

impl TransportError {
    /// The `error.type` value.
    ///
    /// ```
    /// assert_eq!(trace_core::http_client::TransportError::Body.as_str(), "body");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Request => "request",
            Self::Body => "body",
            Self::Decode => "decode",
            Self::Redirect => "redirect",
            Self::Other => "_OTHER",
        }
    }
}

impl HttpClientSchema {
    /// Starts the client span under `parent` (attributes built only when it will record).
    ///
    /// ```
    /// use opentelemetry::trace::Span as _;
    /// use trace_core::http_client::{HttpClientSchema, OutgoingRequest};
    /// let headers = http::HeaderMap::new();
    /// let req = OutgoingRequest {
    ///     method: &http::Method::GET, url: "http://localhost:8080/", scheme: "http", host: "localhost",
    ///     port: Some(8080), template: None, resend_count: 0, headers: &headers,
    /// };
    /// let tracer = trace_core::tracer::Tracer::new("doc");
    /// let mut span = HttpClientSchema::default().start(&tracer, &req, &opentelemetry::Context::current());
    /// span.end();
    /// ```
    pub fn start(
        &self,
        tracer: &Tracer,
        req: &OutgoingRequest<'_>,
        parent: &Context,
    ) -> SpanHandle {
        let method = normalize_method(req.method);
        let head = || {
            let name = name_for(&method, req.template);
            let mut attrs = crate::recording::attribute_vec(16);
            attrs.push_attr(|| HTTP_REQUEST_METHOD.kv(method.normalized.clone()));
            attrs.push_attr(|| SERVER_ADDRESS.kv(host_value(&truncate(req.host))));
            if let Some(p) = req.port {
                attrs.push_attr(|| SERVER_PORT.kv(i64::from(p)));
            }
            (name, attrs)
        };
        tracer.start(SpanKind::Client, parent, Vec::new(), head, |a| {
            if let Some(orig) = method.original.clone() {
                a.push_attr(|| HTTP_REQUEST_METHOD_ORIGINAL.kv(orig));
            }
            a.push_attr(|| {
                URL_FULL.kv(truncate(&self.url_redaction.redact_url(req.url)).into_owned())
            });
            a.push_attr(|| URL_SCHEME.kv(scheme_value(req.scheme)));
            if let Some(t) = req.template {
                a.push_attr(|| URL_TEMPLATE.kv(route_value(t)));
            }
            if req.resend_count > 0 {
                a.push_attr(|| HTTP_REQUEST_RESEND_COUNT.kv(i64::from(req.resend_count)));
            }
            self.request_headers.capture_into(req.headers, a);
            a.extend_from_slice(crate::context_attributes::of(parent));
        })
    }

    /// Records a response: status code, protocol version, captured headers, and the client status
    /// rule (4xx and 5xx are errors with `error.type` = the code).
    ///
    /// ```
    /// use opentelemetry::trace::{Span as _, Tracer as _};
    /// let mut span = opentelemetry::global::tracer("doc").start("GET");
    /// let schema = trace_core::http_client::HttpClientSchema::default();
    /// schema.record_response(&mut span, http::StatusCode::OK, http::Version::HTTP_2, &http::HeaderMap::new());
    /// span.end();
    /// ```
    pub fn record_response<S: Span + ?Sized>(
        &self,
        span: &mut S,
        status: StatusCode,
        version: Version,
        headers: &HeaderMap,
    ) {
        if !span.is_recording() {
            return;
        }
        span.set_attribute(HTTP_RESPONSE_STATUS_CODE.kv(i64::from(status.as_u16())));
        if let Some(v) = protocol_version(version) {
            span.set_attribute(NETWORK_PROTOCOL_VERSION.kv(v));
        }
        if !self.response_headers.is_empty() {
            let mut a = Vec::new();
            self.response_headers.capture_into(headers, &mut a);
            span.set_attributes(a);
        }
        if status.is_client_error() || status.is_server_error() {
            span.set_attribute(ERROR_TYPE.kv(StringValue::from(status.as_str().to_owned())));
            span.set_status(Status::error(""));
        }
    }

    /// Records a transport failure (no response).
    ///
    /// ```
    /// use opentelemetry::trace::{Span as _, Tracer as _};
    /// use trace_core::http_client::{HttpClientSchema, TransportError};
    /// let mut span = opentelemetry::global::tracer("doc").start("GET");
    /// HttpClientSchema::default().record_transport_error(&mut span, TransportError::Connect, "connection refused".into());
    /// span.end();
    /// ```
    pub fn record_transport_error<S: Span + ?Sized>(
        &self,
        span: &mut S,
        kind: TransportError,
        message: String,
    ) {
        crate::span::record_failure(span, kind.as_str(), Some(Cow::Owned(message)));
    }
}
