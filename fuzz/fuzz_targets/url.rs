//! URL redaction. Raw input: never a panic. Credentials and the values of sensitive query
//! parameters never survive, whatever surrounds them.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use trace_core::redact::UrlRedaction;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    raw: &'a str,
    host: &'a str,
    path: &'a str,
    query_before: &'a str,
    secret: u64,
    param: u8,
}

const SENSITIVE: [&str; 4] = [
    "X-Amz-Signature",
    "sig",
    "AWSAccessKeyId",
    "X-Goog-Signature",
];

fn clean(s: &str, banned: &[char]) -> String {
    s.chars().filter(|c| !banned.contains(c)).take(64).collect()
}

fuzz_target!(|input: Input<'_>| {
    let r = UrlRedaction::default();
    let _ = r.redact_url(input.raw);
    let _ = r.redact_query(input.raw);
    // nothing to redact (no userinfo, no query): the URL comes back as it was
    if !input.raw.contains('@') && !input.raw.contains('?') {
        assert_eq!(r.redact_url(input.raw), input.raw);
    }

    let pass = format!("pw{:016x}", input.secret | (1 << 63));
    let sig = format!("sg{:016x}", input.secret.rotate_left(17) | 1);
    let host = clean(input.host, &['/', '?', '#', '@', ':']);
    let path = clean(input.path, &['?', '#', '@']);
    let before = clean(input.query_before, &['#', '&', '=', '?']);
    let param = SENSITIVE[usize::from(input.param) % SENSITIVE.len()];
    let url = format!("https://user:{pass}@{host}/{path}?{before}=1&{param}={sig}");
    let out = r.redact_url(&url);
    assert!(!out.contains(&pass), "password survived: {out}");
    assert!(!out.contains(&sig), "signature survived: {out}");
});
