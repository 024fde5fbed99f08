//! Properties over arbitrary input for the other parsers that see outside data: the Redis command
//! renderer, URL redaction, header capture and trace-header extraction. Never a panic, bounded
//! output, and no value, credential or signature from the input in the output.

use opentelemetry::propagation::TextMapPropagator;
use proptest::prelude::*;
use trace_core::propagation::{
    parse_traceparent, parse_tracestate, DefaultPropagator, HeaderExtractor, W3CTraceContext,
};
use trace_core::redact::{HeaderCapture, UrlRedaction};
use trace_core::redis::{parse_packed, render, KeyMode};
use trace_core::testing::Carried;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn redis_values_never_survive(
        cmd in prop_oneof![Just("SET"), Just("HSET"), Just("LPUSH"), Just("XADD"), Just("PUBLISH"), Just("ZADD")],
        key in "[a-z:]{3,12}",
        values in proptest::collection::vec("[A-Za-z0-9]{8,16}", 1..6),
    ) {
        let mut args: Vec<Vec<u8>> = vec![cmd.as_bytes().to_vec(), key.as_bytes().to_vec()];
        args.extend(values.iter().map(|v| v.as_bytes().to_vec()));
        let r = render(args.iter().map(|a| a.as_slice()), KeyMode::Keep, 4096);
        for v in &values {
            prop_assert!(!r.text.contains(v.as_str()), "{v} in {}", r.text);
        }
        prop_assert!(r.text.contains(&key));
    }

    #[test]
    fn redis_rendering_never_panics_and_is_bounded(
        args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..20),
        max in 0usize..300,
        mode in prop_oneof![Just(KeyMode::Keep), Just(KeyMode::Hash), Just(KeyMode::Drop)],
    ) {
        let r = render(args.iter().map(|a| a.as_slice()), mode, max);
        prop_assert!(r.text.len() <= max.max(r.name.len()), "{} > {max}", r.text.len());
        let packed: Vec<u8> = args.concat();
        let _ = parse_packed(&packed);
    }

    #[test]
    fn url_credentials_and_signatures_never_survive(
        user in "[a-z]{4,10}",
        pass in "[A-Za-z0-9]{8,16}",
        sig in "[A-Za-z0-9]{12,24}",
        host in "[a-z]{3,10}\\.example",
        path in "(/[a-z0-9]{1,8}){0,3}",
    ) {
        let url = format!("https://{user}:{pass}@{host}{path}?X-Amz-Signature={sig}&page=1");
        let out = UrlRedaction::default().redact_url(&url);
        prop_assert!(!out.contains(&pass) && !out.contains(&sig) && !out.contains(&format!("{user}:")), "{out}");
        prop_assert!(out.contains(&host));
    }

    #[test]
    fn a_url_without_credentials_or_query_comes_back_as_it_is(s in "[^@?]{0,120}") {
        let out = UrlRedaction::default().redact_url(&s);
        prop_assert!(matches!(out, std::borrow::Cow::Borrowed(_)));
        prop_assert_eq!(out.as_ref(), s.as_str());
    }

    #[test]
    fn url_redaction_never_panics(s in ".{0,200}") {
        let r = UrlRedaction::default();
        let _ = r.redact_url(&s);
        let _ = r.redact_query(&s);
    }

    #[test]
    fn trace_headers_never_panic(tp in ".{0,120}", ts in ".{0,300}", raw in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = parse_traceparent(&tp);
        let _ = parse_tracestate(&ts);
        let mut headers = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_bytes(&raw) {
            headers.append("traceparent", v.clone());
            headers.append("tracestate", v.clone());
            headers.append("baggage", v);
        }
        if let Ok(v) = http::HeaderValue::from_str(&tp) {
            headers.append("traceparent", v);
        }
        let cx = W3CTraceContext::new().extract_with_context(&opentelemetry::Context::new(), &HeaderExtractor::new(&headers));
        let _ = cx;
    }

    #[test]
    fn one_pass_extraction_agrees_with_the_propagators(
        fields in proptest::collection::vec(
            (0usize..3, prop_oneof![
                // a valid traceparent now and then, so the other fields are read too
                Just(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_vec()),
                "[ -~]{0,70}".prop_map(String::into_bytes),
                proptest::collection::vec(any::<u8>(), 0..70),
            ]),
            0..5,
        ),
    ) {
        let mut headers = http::HeaderMap::new();
        for (i, raw) in &fields {
            if let Ok(v) = http::HeaderValue::from_bytes(raw) {
                headers.append(["traceparent", "tracestate", "baggage"][*i], v);
            }
        }
        let composite = opentelemetry::propagation::TextMapCompositePropagator::new(vec![
            Box::new(W3CTraceContext::new()),
            Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
        ]);
        let by_composite = composite.extract_with_context(&opentelemetry::Context::new(), &HeaderExtractor::new(&headers));
        let one_pass = DefaultPropagator.extract_headers(&headers);
        prop_assert_eq!(Carried::of(&one_pass), Carried::of(&by_composite));
    }

    #[test]
    fn captured_sensitive_headers_never_show_their_values(secret in "[A-Za-z0-9]{10,30}") {
        let mut headers = http::HeaderMap::new();
        for name in ["authorization", "proxy-authorization", "cookie", "set-cookie"] {
            headers.insert(name, http::HeaderValue::from_str(&format!("Bearer {secret}")).unwrap());
        }
        let kvs = HeaderCapture::request(["Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"]).capture(&headers);
        prop_assert_eq!(kvs.len(), 4);
        let dump = format!("{kvs:?}");
        prop_assert!(!dump.contains(&secret));
    }
}
