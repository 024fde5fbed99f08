//! Redis command rendering. Raw arguments: never a panic, text bounded. Values of write commands
//! never appear in the text; the packed-command parser never panics.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use trace_core::redis::{parse_packed, render, KeyMode};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    args: Vec<&'a [u8]>,
    max: u16,
    mode: u8,
    command: u8,
    key: &'a str,
    values: Vec<u64>,
    packed: &'a [u8],
}

const WRITES: [&str; 8] = [
    "SET", "HSET", "LPUSH", "RPUSH", "SADD", "PUBLISH", "SETEX", "APPEND",
];

fuzz_target!(|input: Input<'_>| {
    let mode = match input.mode % 3 {
        0 => KeyMode::Keep,
        1 => KeyMode::Hash,
        _ => KeyMode::Drop,
    };
    let max = usize::from(input.max);
    let r = render(input.args.iter().copied(), mode, max);
    assert!(
        r.text.len() <= max.max(r.name.len()),
        "{} > {max}",
        r.text.len()
    );
    let _ = parse_packed(input.packed);

    // values: markers that cannot be part of the key or the command
    let cmd = WRITES[usize::from(input.command) % WRITES.len()];
    let key: String = input
        .key
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .take(64)
        .collect();
    let values: Vec<String> = input
        .values
        .iter()
        .take(8)
        .map(|v| format!("{:020}", v | (1 << 63)))
        .collect();
    let mut args: Vec<&[u8]> = vec![cmd.as_bytes(), key.as_bytes()];
    if cmd == "SETEX" {
        args.push(b"60");
    }
    args.extend(values.iter().map(|v| v.as_bytes()));
    for mode in [KeyMode::Keep, KeyMode::Hash, KeyMode::Drop] {
        let r = render(args.iter().copied(), mode, 1 << 16);
        for v in &values {
            assert!(!r.text.contains(v.as_str()), "value in {:?}", r.text);
        }
    }
});
