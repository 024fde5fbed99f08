//! The server span's attributes from a whole request: arbitrary method, target, version, headers
//! (with the address, forwarding and user-agent headers among them, grown past the value-length
//! limit), route, peer, trust setting,
//! response status and headers. Never a panic; every attribute declared in trace-core, ports are
//! integers in range, the method is a known one or `_OTHER`, every string value is within the
//! value-length limit (header captures: per value), and an allow-listed `authorization` or
//! `cookie` value never appears.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Mutex, OnceLock};

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
use libfuzzer_sys::fuzz_target;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use trace_core::http_server::{HttpServerSchema, IncomingRequest};
use trace_core::limits::DEFAULT_MAX_VALUE_LEN;
use trace_core::redact::{HeaderCapture, UrlRedaction};
use trace_core::testing::SpanDataExt;
use trace_core::tracer::{KnownSampler, Tracer};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    method: &'a [u8],
    target: &'a str,
    version: u8,
    /// host, forwarded, x-forwarded-host, x-forwarded-for, x-forwarded-proto, user-agent
    special: [Option<&'a [u8]>; 6],
    /// Each of those values repeated 1 to 64 times (past the value-length limit).
    grow: u8,
    headers: Vec<(&'a [u8], &'a [u8])>,
    route: Option<&'a str>,
    peer: Option<(u32, u16)>,
    trust_forwarded: bool,
    status: u16,
    response_headers: Vec<(&'a [u8], &'a [u8])>,
    allow: Vec<&'a str>,
    secret: u64,
}

/// Keeps what the provider exports, for the checks after each input.
#[derive(Debug)]
struct Keep;

static SPANS: Mutex<Vec<SpanData>> = Mutex::new(Vec::new());

impl SpanExporter for Keep {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        SPANS.lock().unwrap().extend(batch);
        Ok(())
    }
}

fn tracer() -> &'static Tracer {
    static T: OnceLock<(SdkTracerProvider, Tracer)> = OnceLock::new();
    &T.get_or_init(|| {
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(Keep)
            .build();
        let tracer = Tracer::from_provider("fuzz", &provider, Some(KnownSampler::AlwaysOn));
        (provider, tracer)
    })
    .1
}

const SPECIAL: [&str; 6] = [
    "host",
    "forwarded",
    "x-forwarded-host",
    "x-forwarded-for",
    "x-forwarded-proto",
    "user-agent",
];

const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER",
];

fn header_map(pairs: &[(&[u8], &[u8])], out: &mut HeaderMap) {
    for (n, v) in pairs.iter().take(64) {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n), HeaderValue::from_bytes(v)) {
            out.append(n, v);
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    let Ok(method) = Method::from_bytes(input.method) else {
        return;
    };
    let Ok(uri) = input.target.parse::<Uri>() else {
        return;
    };
    let version = match input.version % 5 {
        0 => Version::HTTP_09,
        1 => Version::HTTP_10,
        2 => Version::HTTP_11,
        3 => Version::HTTP_2,
        _ => Version::HTTP_3,
    };
    let mut headers = HeaderMap::new();
    for (name, value) in SPECIAL.iter().zip(input.special) {
        let grown = value.map(|v| v.repeat(1 + usize::from(input.grow % 64)));
        if let Some(v) = grown.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
            headers.append(*name, v);
        }
    }
    header_map(&input.headers, &mut headers);
    let secret = format!("s{:016x}", input.secret | (1 << 63));
    // the marker must come only from the planted headers (the fuzzer can spell it elsewhere)
    let has = |b: &[u8]| b.windows(secret.len()).any(|w| w == secret.as_bytes());
    let elsewhere = has(input.target.as_bytes())
        || has(input.method)
        || input.route.is_some_and(|r| has(r.as_bytes()))
        || input
            .special
            .iter()
            .flatten()
            .any(|v| has(&v.repeat(1 + usize::from(input.grow % 64))))
        || input
            .headers
            .iter()
            .chain(&input.response_headers)
            .any(|(n, v)| has(n) || has(v))
        || input.allow.iter().any(|a| has(a.as_bytes()));
    let bearer = HeaderValue::from_str(&format!("Bearer {secret}")).unwrap();
    headers.append("authorization", bearer.clone());
    headers.append("cookie", bearer.clone());
    let mut response_headers = HeaderMap::new();
    header_map(&input.response_headers, &mut response_headers);
    response_headers.append("set-cookie", bearer);

    let mut allow: Vec<&str> = input.allow.iter().copied().take(16).collect();
    allow.extend(["authorization", "cookie", "set-cookie"]);
    let schema = HttpServerSchema {
        request_headers: HeaderCapture::request(allow.iter().copied()),
        response_headers: HeaderCapture::response(allow.iter().copied()),
        url_redaction: UrlRedaction::default(),
        trust_forwarded: input.trust_forwarded,
    };
    let req = IncomingRequest {
        method: &method,
        uri: &uri,
        version,
        headers: &headers,
        route: input.route,
        peer: input
            .peer
            .map(|(ip, port)| SocketAddr::from((Ipv4Addr::from(ip), port))),
    };
    let cx = schema
        .start(tracer(), &req, &Context::new(), Vec::new())
        .into_context(&Context::new());
    let status = StatusCode::from_u16(input.status % 1000).unwrap_or(StatusCode::OK);
    schema.record_response(&cx.span(), status, &response_headers);
    cx.span().end();

    let spans = std::mem::take(&mut *SPANS.lock().unwrap());
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    span.assert_declared(&[]);
    for kv in &span.attributes {
        let key = kv.key.as_str();
        match &kv.value {
            Value::I64(port) if key.ends_with(".port") => {
                assert!((0..=65535).contains(port), "{key} = {port}")
            }
            Value::String(s) => {
                assert!(
                    s.as_str().len() <= DEFAULT_MAX_VALUE_LEN,
                    "{key}: {}",
                    s.as_str().len()
                );
                assert!(
                    elsewhere || !s.as_str().contains(&secret),
                    "{key} = {}",
                    s.as_str()
                );
            }
            Value::Array(opentelemetry::Array::String(values)) => {
                for s in values {
                    assert!(s.as_str().len() <= DEFAULT_MAX_VALUE_LEN, "{key}");
                    assert!(
                        elsewhere || !s.as_str().contains(&secret),
                        "{key} = {}",
                        s.as_str()
                    );
                }
            }
            _ => {}
        }
        if key.ends_with(".port") {
            assert!(matches!(kv.value, Value::I64(_)), "{key} = {:?}", kv.value);
        }
    }
    let m = span.str_attr("http.request.method");
    assert!(METHODS.contains(&m), "method {m}");
    assert_eq!(
        span.int_attr("http.response.status_code"),
        i64::from(status.as_u16())
    );
});
