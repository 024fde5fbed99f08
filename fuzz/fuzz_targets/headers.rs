//! Header capture. Arbitrary headers (names and values as bytes): never a panic, captured values
//! bounded; the values of authorization and cookie headers never appear, even when allow-listed.
#![no_main]

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use trace_core::redact::HeaderCapture;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    headers: Vec<(&'a [u8], &'a [u8])>,
    allow: Vec<&'a str>,
    secret: u64,
}

fuzz_target!(|input: Input<'_>| {
    let mut map = HeaderMap::new();
    for (n, v) in input.headers.iter().take(256) {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n), HeaderValue::from_bytes(v)) {
            map.append(n, v);
        }
    }
    let secret = format!("s{:016x}", input.secret | (1 << 63));
    for name in [
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
    ] {
        map.append(
            name,
            HeaderValue::from_str(&format!("Bearer {secret}")).unwrap(),
        );
    }
    let mut allow: Vec<&str> = input.allow.iter().copied().take(32).collect();
    allow.extend([
        "authorization",
        "cookie",
        "set-cookie",
        "proxy-authorization",
    ]);
    for capture in [
        HeaderCapture::request(allow.iter().copied()),
        HeaderCapture::response(allow.iter().copied()),
    ] {
        for kv in capture.capture(&map) {
            let v = kv.value.as_str();
            assert!(!v.contains(&secret), "{} = {v}", kv.key);
        }
    }
});
