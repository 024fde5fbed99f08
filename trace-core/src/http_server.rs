//! The HTTP server span family (kind SERVER).
//!
//! Name `{method} {http.route}`, `{method}` without a route, `HTTP …` for an unknown method.
//! Attributes: `http.request.method` (+ `_original`), `url.path`, `url.scheme`, `url.query`
//! (redacted), `http.route`, `server.address`, `server.port`, `client.address`,
//! `network.peer.address`, `network.peer.port`, `network.protocol.version`, `user_agent.original`,
//! captured headers, then `http.response.status_code` and `error.type`. Status rule: 5xx is an
//! error, 1xx-4xx are not.

use crate::attributes::PushAttr;
use std::borrow::Cow;
use std::net::SocketAddr;

use http::{header, HeaderMap, HeaderName, Method, StatusCode, Uri, Version};
use opentelemetry::trace::{Link, SpanKind, SpanRef, Status};
use opentelemetry::{Context, KeyValue, StringValue};

use crate::attributes::*;
use crate::http_common::{
    default_port, name_for, normalize_method, protocol_version, scan_headers, scheme_value,
    split_host_port, Seen,
};
use crate::intern::{host_value, ip_value, route_value, user_agent_value};
use crate::limits::truncate;
use crate::redact::{HeaderCapture, UrlRedaction};
use crate::tracer::{SpanHandle, Tracer};

/// What the server span family records beyond the required attributes. The functions a server
/// adapter calls: [`start`](Self::start), [`record_response`](Self::record_response), then
/// `end` when the response body is done.
///
/// ```
/// use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
/// use trace_core::http_server::{HttpServerSchema, IncomingRequest};
/// use trace_core::testing::SpanDataExt;
///
/// let pipeline = trace_core::testing::install();
/// let schema = HttpServerSchema::default();
/// let tracer = trace_core::tracer::Tracer::new("my-server");
/// let req = http::Request::get("/users/42").header("host", "api.example.com").body(()).unwrap();
/// let parts = IncomingRequest::from_request(&req, Some("/users/{id}"), None);
/// let parent = opentelemetry::Context::new();
/// let cx = schema.start(&tracer, &parts, &parent, Vec::new()).into_context(&parent);
/// let span = cx.span();
/// schema.record_response(&span, http::StatusCode::INTERNAL_SERVER_ERROR, &http::HeaderMap::new());
/// let trace_id = span.span_context().trace_id();
/// trace_core::span::end(&span);
///
/// let trace = pipeline.wait_for_spans(trace_id, 1);
/// let exported = trace.span("GET /users/{id}");
/// assert_eq!(exported.span_kind, SpanKind::Server);
/// assert_eq!(exported.str_attr("server.address"), "api.example.com");
/// assert_eq!(exported.str_attr("error.type"), "500"); // 5xx is an error for a server
/// assert!(matches!(exported.status, Status::Error { .. }));
/// ```
#[derive(Debug, Clone, Default)]
pub struct HttpServerSchema {
    /// Request headers recorded as `http.request.header.<name>`.
    pub request_headers: HeaderCapture,
    /// Response headers recorded as `http.response.header.<name>`.
    pub response_headers: HeaderCapture,
    /// Redaction of `url.query`.
    pub url_redaction: UrlRedaction,
    /// Whether `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto` are trusted for
    /// `client.address` and `url.scheme` (only behind a proxy you control).
    pub trust_forwarded: bool,
}

/// The parts of an incoming request the span is built from.
///
/// ```
/// let req = http::Request::get("/health").body(()).unwrap();
/// let peer = "10.0.0.7:41000".parse().ok();
/// let parts = trace_core::http_server::IncomingRequest::from_request(&req, Some("/health"), peer);
/// assert_eq!(parts.uri.path(), "/health");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct IncomingRequest<'a> {
    /// Request method.
    pub method: &'a Method,
    /// Request target.
    pub uri: &'a Uri,
    /// HTTP version.
    pub version: Version,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The matched route template, when the framework knows it.
    pub route: Option<&'a str>,
    /// The peer's socket address, when known.
    pub peer: Option<SocketAddr>,
}

impl<'a> IncomingRequest<'a> {
    /// The request parts of an [`http::Request`].
    ///
    /// ```
    /// let req = http::Request::post("/orders").body(()).unwrap();
    /// let parts = trace_core::http_server::IncomingRequest::from_request(&req, Some("/orders"), None);
    /// assert_eq!(parts.method, http::Method::POST);
    /// ```
    pub fn from_request<B>(
        req: &'a http::Request<B>,
        route: Option<&'a str>,
        peer: Option<SocketAddr>,
    ) -> Self {
        Self {
            method: req.method(),
            uri: req.uri(),
            version: req.version(),
            headers: req.headers(),
            route,
            peer,
        }
    }
}

/// The span name for a request: `{method} {route}`, or `{method}` without a route (never the
/// raw path); `HTTP` for a method that is not a known one.
///
/// ```
/// use trace_core::http_server::span_name;
/// assert_eq!(span_name(&http::Method::GET, Some("/users/{id}")), "GET /users/{id}");
/// assert_eq!(span_name(&http::Method::POST, None), "POST");
/// ```
pub fn span_name(method: &Method, route: Option<&str>) -> Cow<'static, str> {
    name_for(&normalize_method(method), route)
}

fn header_str<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request headers the span's attributes come from (first values, as `HeaderMap::get` gives
/// them), found in one pass over a small map instead of one hashed look-up each.
#[derive(Debug, Default)]
struct AddressHeaders<'h> {
    forwarded: Option<&'h str>,
    x_forwarded_host: Option<&'h str>,
    x_forwarded_for: Option<&'h str>,
    host: Option<&'h str>,
    user_agent: Option<&'h str>,
}

impl<'h> AddressHeaders<'h> {
    fn of(headers: &'h HeaderMap) -> Self {
        let names = [
            &header::FORWARDED,
            &X_FORWARDED_HOST,
            &X_FORWARDED_FOR,
            &header::HOST,
            &header::USER_AGENT,
        ];
        // the first line decides, as `get` does (a non-UTF-8 first line gives none)
        let text = |s: &Seen<'h>| s.first.and_then(|v| v.to_str().ok());
        match scan_headers(headers, names) {
            Some([fw, xfh, xff, host, ua]) => Self {
                forwarded: text(&fw),
                x_forwarded_host: text(&xfh),
                x_forwarded_for: text(&xff),
                host: text(&host),
                user_agent: text(&ua),
            },
            None => Self {
                forwarded: header_str(headers, &header::FORWARDED),
                x_forwarded_host: header_str(headers, &X_FORWARDED_HOST),
                x_forwarded_for: header_str(headers, &X_FORWARDED_FOR),
                host: header_str(headers, &header::HOST),
                user_agent: header_str(headers, &header::USER_AGENT),
            },
        }
    }
}

static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The first value of `param` in a `Forwarded` header (RFC 7239).
fn forwarded_param<'h>(headers: &'h HeaderMap, param: &str) -> Option<&'h str> {
    forwarded_param_of(header_str(headers, &header::FORWARDED)?, param)
}

/// The first value of `param` in a `Forwarded` header value.
fn forwarded_param_of<'h>(v: &'h str, param: &str) -> Option<&'h str> {
    let first = v.split(',').next()?;
    first.split(';').find_map(|kv| {
        let (k, val) = kv.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(param)
            .then(|| val.trim().trim_matches('"'))
    })
}

impl HttpServerSchema {
    /// `url.scheme` of the request.
    ///
    /// ```
    /// use trace_core::http_server::{HttpServerSchema, IncomingRequest};
    /// let req = http::Request::get("/").header("x-forwarded-proto", "https").body(()).unwrap();
    /// let parts = IncomingRequest::from_request(&req, None, None);
    /// assert_eq!(HttpServerSchema::default().scheme(&parts), "http"); // forwarded headers not trusted
    /// let trusting = HttpServerSchema { trust_forwarded: true, ..Default::default() };
    /// assert_eq!(trusting.scheme(&parts), "https");
    /// ```
    pub fn scheme<'h>(&self, req: &IncomingRequest<'h>) -> &'h str {
        if let Some(s) = req.uri.scheme_str() {
            return s;
        }
        if self.trust_forwarded {
            if let Some(p) = forwarded_param(req.headers, "proto")
                .or_else(|| header_str(req.headers, &X_FORWARDED_PROTO))
            {
                return match p.trim() {
                    "https" => "https",
                    _ => "http",
                };
            }
        }
        "http"
    }

    /// Starts the server span under `parent` (with `links`, for public endpoints).
    ///
    /// The sampling decision comes first (see [`Tracer`]): an unsampled request builds no
    /// attributes at all, a sampled one builds them all in one vector.
    ///
    /// ```
    /// use trace_core::http_server::{HttpServerSchema, IncomingRequest};
    /// let req = http::Request::get("/").body(()).unwrap();
    /// let parent = opentelemetry::Context::new();
    /// let tracer = trace_core::tracer::Tracer::new("doc");
    /// let span = HttpServerSchema::default().start(&tracer, &IncomingRequest::from_request(&req, None, None), &parent, Vec::new());
    /// let cx = span.into_context(&parent);
    /// ```
    pub fn start(
        &self,
        tracer: &Tracer,
        req: &IncomingRequest<'_>,
        parent: &Context,
        links: Vec<Link>,
    ) -> SpanHandle {
        // the method and scheme are read only once the request is known to be sampled (the
        // `head` closure does not run for an unsampled one); `more` gets what `head` found
        let found = std::cell::Cell::new(None);
        let head = || {
            let method = normalize_method(req.method);
            let scheme = self.scheme(req);
            let mut attrs = crate::recording::attribute_vec(20);
            attrs.push_attr(|| HTTP_REQUEST_METHOD.kv(method.normalized.clone()));
            attrs.push_attr(|| URL_SCHEME.kv(scheme_value(scheme)));
            if let Some(r) = req.route {
                attrs.push_attr(|| HTTP_ROUTE.kv(route_value(r)));
            }
            let name = name_for(&method, req.route);
            found.set(Some((scheme, method.original)));
            (name, attrs)
        };
        tracer.start(SpanKind::Server, parent, links, head, |a| {
            let (scheme, original) = found.take().unwrap_or_else(|| {
                let m = normalize_method(req.method);
                (self.scheme(req), m.original)
            });
            self.request_attributes(req, scheme, original, parent, a)
        })
    }

    fn request_attributes(
        &self,
        req: &IncomingRequest<'_>,
        scheme: &str,
        method_original: Option<StringValue>,
        parent: &Context,
        a: &mut Vec<KeyValue>,
    ) {
        if let Some(orig) = method_original {
            a.push_attr(|| HTTP_REQUEST_METHOD_ORIGINAL.kv(orig));
        }
        let path = req.uri.path();
        // a route without parameters is its own path: the interned route value, no copy
        a.push_attr(|| {
            URL_PATH.kv(match req.route {
                Some(r) if r == path => route_value(r),
                _ => StringValue::from(truncate(path).into_owned()),
            })
        });
        if let Some(q) = req.uri.query() {
            a.push_attr(|| {
                URL_QUERY.kv(truncate(&self.url_redaction.redact_query(q)).into_owned())
            });
        }
        let found = AddressHeaders::of(req.headers);
        let host = found
            .forwarded
            .and_then(|f| forwarded_param_of(f, "host"))
            .or(found.x_forwarded_host)
            .or_else(|| req.uri.authority().map(|a| a.as_str()))
            .or(found.host);
        if let Some(h) = host {
            let h = h.bytes().position(|b| b == b',').map_or(h, |i| &h[..i]);
            let (addr, port) = split_host_port(h);
            if !addr.is_empty() {
                a.push_attr(|| SERVER_ADDRESS.kv(host_value(&truncate(addr))));
                if let Some(p) = port.or_else(|| default_port(scheme)) {
                    a.push_attr(|| SERVER_PORT.kv(i64::from(p)));
                }
            }
        }
        let forwarded_client = if self.trust_forwarded {
            found
                .forwarded
                .and_then(|f| forwarded_param_of(f, "for"))
                .or_else(|| {
                    found
                        .x_forwarded_for
                        .and_then(|v| v.split(',').next())
                        .map(str::trim)
                })
                .map(|c| split_host_port(c).0)
                .filter(|c| !c.is_empty())
        } else {
            None
        };
        let peer_ip = req.peer.map(|p| ip_value(p.ip()));
        match (forwarded_client, &peer_ip) {
            (Some(c), _) => a.push_attr(|| CLIENT_ADDRESS.kv(truncate(c).into_owned())),
            (None, Some(ip)) => a.push_attr(|| CLIENT_ADDRESS.kv(ip.clone())),
            _ => {}
        }
        if let (Some(p), Some(ip)) = (req.peer, peer_ip) {
            a.push_attr(|| NETWORK_PEER_ADDRESS.kv(ip));
            a.push_attr(|| NETWORK_PEER_PORT.kv(i64::from(p.port())));
        }
        if let Some(v) = protocol_version(req.version) {
            a.push_attr(|| NETWORK_PROTOCOL_VERSION.kv(v));
        }
        if let Some(ua) = found.user_agent {
            a.push_attr(|| USER_AGENT_ORIGINAL.kv(user_agent_value(&truncate(ua))));
        }
        self.request_headers.capture_into(req.headers, a);
        a.extend_from_slice(crate::context_attributes::of(parent));
    }

    /// Records the response on the span: status code, captured headers, and the status rule
    /// (5xx is an error with `error.type` = the code; 1xx-4xx leave the status unset).
    ///
    /// ```
    /// use opentelemetry::trace::{TraceContextExt, Tracer as _};
    /// let cx = opentelemetry::Context::new().with_span(opentelemetry::global::tracer("doc").start("GET"));
    /// let schema = trace_core::http_server::HttpServerSchema::default();
    /// schema.record_response(&cx.span(), http::StatusCode::NOT_FOUND, &http::HeaderMap::new()); // not an error
    /// trace_core::span::end(&cx.span());
    /// ```
    pub fn record_response(&self, span: &SpanRef<'_>, status: StatusCode, headers: &HeaderMap) {
        let code = HTTP_RESPONSE_STATUS_CODE.kv(i64::from(status.as_u16()));
        if self.response_headers.is_empty() && !status.is_server_error() {
            // the usual response: one attribute, one call on the span (a non-recording span
            // ignores it)
            span.set_attribute(code);
            return;
        }
        if !span.is_recording() {
            return;
        }
        span.set_attribute(code);
        if !self.response_headers.is_empty() {
            let mut a = Vec::new();
            self.response_headers.capture_into(headers, &mut a);
            span.set_attributes(a);
        }
        if status.is_server_error() {
            span.set_attribute(ERROR_TYPE.kv(StringValue::from(status.as_str().to_owned())));
            span.set_status(Status::error(""));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            span_name(&Method::GET, Some("/users/{id}")),
            "GET /users/{id}"
        );
        assert_eq!(span_name(&Method::POST, None), "POST");
        let purge = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(span_name(&purge, None), "HTTP");
        assert_eq!(span_name(&purge, Some("/x")), "HTTP /x");
    }

    #[test]
    fn address_headers_read_the_same_scanned_or_looked_up() {
        let mut small = HeaderMap::new();
        small.append("host", "a.example:8080".parse().unwrap());
        small.append("host", "second.example".parse().unwrap());
        small.insert("x-forwarded-host", "b.example".parse().unwrap());
        small.insert("x-forwarded-for", "10.0.0.9, 10.0.0.1".parse().unwrap());
        small.insert("forwarded", "host=c.example;for=10.0.0.2".parse().unwrap());
        small.insert(
            "user-agent",
            http::HeaderValue::from_bytes(b"ua \xff").unwrap(),
        );
        let large = crate::http_common::padded_headers(small.clone());
        assert!(scan_headers(&large, [&header::HOST]).is_none());
        for h in [&small, &large] {
            let a = AddressHeaders::of(h);
            assert_eq!(
                a.host,
                Some("a.example:8080"),
                "the first line, as `get` gives it"
            );
            assert_eq!(a.x_forwarded_host, Some("b.example"));
            assert_eq!(a.x_forwarded_for, Some("10.0.0.9, 10.0.0.1"));
            assert_eq!(a.forwarded, Some("host=c.example;for=10.0.0.2"));
            assert_eq!(a.user_agent, None, "not UTF-8: skipped");
        }
    }

    #[test]
    fn forwarded_parsing() {
        let mut h = HeaderMap::new();
        h.insert(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https;host=api.example.com:8443, for=10.0.0.1"
                .parse()
                .unwrap(),
        );
        assert_eq!(forwarded_param(&h, "host"), Some("api.example.com:8443"));
        assert_eq!(forwarded_param(&h, "proto"), Some("https"));
        assert_eq!(
            split_host_port(forwarded_param(&h, "for").unwrap()).0,
            "2001:db8::1"
        );
    }
}
