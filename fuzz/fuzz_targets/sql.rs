//! SQL sanitiser and summariser. Raw input: never a panic, output bounded by the limit. A literal
//! put into arbitrary surrounding SQL never survives sanitising.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use trace_core::sql::{sanitize, summarize, Dialect};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    raw: &'a [u8],
    before: &'a str,
    after: &'a str,
    secret: u64,
    form: u8,
    max: u16,
}

const DIALECTS: [Dialect; 3] = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite];

/// Surrounding text without quotes: a quote there could open a string that the literal's own
/// quote closes (leaving the marker outside any literal) or a quoted identifier (kept by design).
fn plain(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '\'' | '"' | '`' | '[' | '$' | '\\'))
        .collect()
}

fuzz_target!(|input: Input<'_>| {
    let raw = String::from_utf8_lossy(input.raw);
    let max = usize::from(input.max);
    for d in DIALECTS {
        let out = sanitize(&raw, d, max);
        assert!(out.len() <= max.max(3) + 3, "{} > {max}", out.len());
    }
    let _ = summarize(&raw);

    // a literal holding a marker no SQL keyword or identifier has
    let marker = format!("zq{:016x}", input.secret | (1 << 63));
    let literal = match input.form % 5 {
        0 => format!("'{marker}'"),
        1 => format!("'it''s {marker}'"),
        2 => format!("$$ {marker} $$"),
        3 => format!("E'{marker}\\'x'"),
        _ => format!("X'{}'", &marker[2..]),
    };
    let (before, after) = (plain(input.before), plain(input.after));
    if before.contains(&marker[2..]) || after.contains(&marker[2..]) {
        return; // the surrounding text itself holds the marker: nothing to tell
    }
    let sql = format!("{before} {literal} {after}");
    for d in DIALECTS {
        let out = sanitize(&sql, d, 1 << 20);
        assert!(
            !out.contains(&marker[2..]),
            "{d:?}: literal survived\n in: {sql:?}\nout: {out:?}"
        );
    }
});
