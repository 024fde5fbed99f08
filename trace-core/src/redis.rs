//! Redis commands for spans: the command name, and the command in CLI form with every value
//! replaced by `?` (`HSET user:42 ? ?`). Keys are kept, hashed or dropped ([`KeyMode`]). The
//! arguments of `AUTH`, `HELLO`, `MIGRATE`, `CONFIG SET` and `ACL SETUSER` are never recorded.
//! Binary keys are written with `\xNN` escapes.
//!
//! ```
//! use trace_core::redis::{render, KeyMode};
//! let args: [&[u8]; 4] = [b"HSET", b"user:42", b"email", b"bob@example.com"];
//! let r = render(args.iter().copied(), KeyMode::Keep, 1000);
//! assert_eq!(r.name, "HSET");
//! assert_eq!(r.text, "HSET user:42 ? ?");
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

/// What happens to keys in `db.query.text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyMode {
    /// Keys as they are (the default).
    #[default]
    Keep,
    /// Each key replaced by `#` and 16 hex digits of a 64-bit FNV-1a hash (stable, not secret:
    /// use `Drop` for keys that must not be guessable).
    Hash,
    /// Keys replaced by `?` like values.
    Drop,
}

/// A rendered command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The span name and `db.operation.name`: the command (`GET`), with its subcommand for
    /// container commands (`CONFIG SET`, `XGROUP CREATE`).
    pub name: Cow<'static, str>,
    /// `db.query.text`.
    pub text: String,
}

const CONTAINERS: &[&str] = &[
    "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "LATENCY", "MEMORY", "MODULE",
    "OBJECT", "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO",
];

/// Commands whose arguments are never recorded.
const SECRET: &[&str] = &["AUTH", "HELLO", "MIGRATE", "CONFIG SET", "ACL SETUSER"];

/// Commands that take no key.
const NO_KEY: &[&str] = &[
    "PING",
    "ECHO",
    "INFO",
    "DBSIZE",
    "FLUSHDB",
    "FLUSHALL",
    "TIME",
    "SELECT",
    "MULTI",
    "EXEC",
    "DISCARD",
    "QUIT",
    "SCAN",
    "KEYS",
    "RANDOMKEY",
    "WAIT",
    "SAVE",
    "BGSAVE",
    "LASTSAVE",
    "SWAPDB",
    "SCRIPT LOAD",
    "SCRIPT FLUSH",
    "SCRIPT EXISTS",
    "CLIENT SETNAME",
    "CLIENT GETNAME",
    "CLIENT ID",
    "CLIENT LIST",
    "CLIENT INFO",
    "CONFIG GET",
    "COMMAND",
    "READONLY",
    "READWRITE",
    "RESET",
];

/// Commands whose every argument is a key.
const ALL_KEYS: &[&str] = &[
    "DEL",
    "UNLINK",
    "EXISTS",
    "MGET",
    "TOUCH",
    "WATCH",
    "SINTER",
    "SUNION",
    "SDIFF",
    "PFCOUNT",
    "RENAME",
    "RENAMENX",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "PSUBSCRIBE",
    "PUNSUBSCRIBE",
];

/// The upper-case command name of a first argument (static for the common commands).
pub fn command_name(arg: &[u8]) -> Cow<'static, str> {
    const KNOWN: &[&str] = &[
        "GET",
        "SET",
        "DEL",
        "MGET",
        "MSET",
        "HGET",
        "HSET",
        "HGETALL",
        "HMGET",
        "HMSET",
        "HDEL",
        "INCR",
        "INCRBY",
        "DECR",
        "EXPIRE",
        "PEXPIRE",
        "TTL",
        "EXISTS",
        "SETEX",
        "SETNX",
        "GETEX",
        "GETDEL",
        "LPUSH",
        "RPUSH",
        "LPOP",
        "RPOP",
        "LRANGE",
        "LLEN",
        "SADD",
        "SREM",
        "SMEMBERS",
        "SISMEMBER",
        "ZADD",
        "ZRANGE",
        "ZSCORE",
        "ZREM",
        "XADD",
        "XREAD",
        "XREADGROUP",
        "XACK",
        "XGROUP",
        "XLEN",
        "XRANGE",
        "PUBLISH",
        "SUBSCRIBE",
        "PING",
        "EVAL",
        "EVALSHA",
        "AUTH",
        "HELLO",
        "SELECT",
        "MULTI",
        "EXEC",
        "DISCARD",
        "CONFIG",
        "CLIENT",
        "INFO",
        "SCAN",
        "UNLINK",
        "FLUSHDB",
        "WATCH",
        "UNWATCH",
        "BLPOP",
        "BRPOP",
        "MIGRATE",
        "ACL",
        "SCRIPT",
        "TYPE",
    ];
    for k in KNOWN {
        if k.len() == arg.len() && k.as_bytes().eq_ignore_ascii_case(arg) {
            return Cow::Borrowed(k);
        }
    }
    let cut = &arg[..arg.len().min(32)];
    Cow::Owned(String::from_utf8_lossy(cut).to_ascii_uppercase())
}

/// Writes `bytes` as text, escaping anything that is not printable UTF-8.
pub fn write_escaped(out: &mut String, bytes: &[u8], max: usize) {
    let start = out.len();
    match std::str::from_utf8(bytes) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => {
            out.push_str(&crate::limits::truncate_to(s, max));
        }
        _ => {
            for chunk in bytes.utf8_chunks() {
                for c in chunk.valid().chars() {
                    if c.is_control() {
                        let mut buf = [0u8; 4];
                        for b in c.encode_utf8(&mut buf).bytes() {
                            let _ = write!(out, "\\x{b:02x}");
                        }
                    } else {
                        out.push(c);
                    }
                    if out.len() - start >= max {
                        return;
                    }
                }
                for b in chunk.invalid() {
                    let _ = write!(out, "\\x{b:02x}");
                }
                if out.len() - start >= max {
                    return;
                }
            }
        }
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn push_key(out: &mut String, key: &[u8], mode: KeyMode) {
    match mode {
        KeyMode::Keep => write_escaped(out, key, 256),
        KeyMode::Hash => {
            let _ = write!(out, "#{:016x}", fnv(key));
        }
        KeyMode::Drop => out.push('?'),
    }
}

/// Renders a command from its arguments (the first is the command name).
pub fn render<'a>(args: impl Iterator<Item = &'a [u8]>, mode: KeyMode, max_len: usize) -> Rendered {
    let args: Vec<&[u8]> = args.collect();
    let Some(first) = args.first() else {
        return Rendered {
            name: Cow::Borrowed("redis"),
            text: String::new(),
        };
    };
    let mut name = command_name(first);
    let mut rest = &args[1..];
    if CONTAINERS.contains(&name.as_ref()) {
        if let Some(sub) = rest.first() {
            name = Cow::Owned(format!("{} {}", name, command_name(sub)));
            rest = &rest[1..];
        }
    }
    let mut text = String::with_capacity(name.len() + rest.len() * 4 + 16);
    text.push_str(&name);
    if SECRET.contains(&name.as_ref()) {
        return Rendered { name, text };
    }
    let n = name.as_ref();
    let is_key = |i: usize| -> bool {
        if NO_KEY.contains(&n) {
            return false;
        }
        if ALL_KEYS.contains(&n) {
            return true;
        }
        match n {
            "MSET" | "MSETNX" => i.is_multiple_of(2),
            "BLPOP" | "BRPOP" | "BZPOPMIN" | "BZPOPMAX" => i + 1 < rest.len(),
            "RPOPLPUSH" | "LMOVE" | "BLMOVE" | "SMOVE" | "COPY" => i < 2,
            "EVAL" | "EVALSHA" | "EVAL_RO" | "EVALSHA_RO" | "FCALL" | "FCALL_RO" => {
                let numkeys = rest
                    .get(1)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .and_then(|s| s.parse::<usize>().ok())
                    .unwrap_or(0);
                i >= 2 && i < 2 + numkeys
            }
            "XREAD" | "XREADGROUP" => {
                let streams = rest.iter().position(|a| a.eq_ignore_ascii_case(b"STREAMS"));
                match streams {
                    Some(p) => {
                        let count = (rest.len() - p - 1) / 2;
                        i > p && i <= p + count
                    }
                    None => false,
                }
            }
            "XREADGROUP GROUP" => false,
            "OBJECT ENCODING"
            | "OBJECT FREQ"
            | "OBJECT IDLETIME"
            | "OBJECT REFCOUNT"
            | "MEMORY USAGE"
            | "XGROUP CREATE"
            | "XGROUP DESTROY"
            | "XGROUP CREATECONSUMER"
            | "XGROUP DELCONSUMER"
            | "XGROUP SETID"
            | "XINFO STREAM"
            | "XINFO GROUPS"
            | "XINFO CONSUMERS" => i == 0,
            _ => i == 0,
        }
    };
    // XREAD(GROUP) keeps its option words (GROUP, COUNT, BLOCK, STREAMS) readable.
    let keep_word = |a: &[u8]| {
        matches!(n, "XREAD" | "XREADGROUP")
            && [
                b"STREAMS".as_slice(),
                b"GROUP",
                b"COUNT",
                b"BLOCK",
                b"NOACK",
            ]
            .iter()
            .any(|w| a.eq_ignore_ascii_case(w))
    };
    for (i, a) in rest.iter().enumerate() {
        if text.len() >= max_len {
            break;
        }
        text.push(' ');
        if is_key(i) {
            push_key(&mut text, a, mode);
        } else if keep_word(a) {
            write_escaped(&mut text, a, 16);
        } else {
            text.push('?');
        }
    }
    if text.len() > max_len {
        let mut end = max_len;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    Rendered { name, text }
}

/// Reads whose reply says whether the key was found: one value (`GET`, `HGET`, ...).
pub fn is_single_read(name: &str) -> bool {
    matches!(
        name,
        "GET" | "GETEX" | "GETDEL" | "HGET" | "LINDEX" | "ZSCORE" | "GETSET" | "LPOP" | "RPOP"
    )
}

/// Reads whose reply holds one value per key (`MGET`, `HMGET`).
pub fn is_multi_read(name: &str) -> bool {
    matches!(name, "MGET" | "HMGET")
}

/// Reads whose reply is empty on a miss (`HGETALL`, `SMEMBERS`, `LRANGE`, `ZRANGE`).
pub fn is_collection_read(name: &str) -> bool {
    matches!(
        name,
        "HGETALL" | "SMEMBERS" | "LRANGE" | "ZRANGE" | "HKEYS" | "HVALS"
    )
}

/// Splits a packed RESP command (`*N\r\n$len\r\narg\r\n...`) into its arguments; `None` when
/// the bytes are not one well-formed command.
pub fn parse_packed(mut b: &[u8]) -> Option<(Vec<&[u8]>, &[u8])> {
    fn line(b: &[u8]) -> Option<(&[u8], &[u8])> {
        let end = b.windows(2).position(|w| w == b"\r\n")?;
        Some((&b[..end], &b[end + 2..]))
    }
    let (head, rest) = line(b)?;
    let count: usize = std::str::from_utf8(head.strip_prefix(b"*")?)
        .ok()?
        .parse()
        .ok()?;
    if count > 1_000_000 {
        return None;
    }
    b = rest;
    let mut args = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let (h, rest) = line(b)?;
        let len: usize = std::str::from_utf8(h.strip_prefix(b"$")?)
            .ok()?
            .parse()
            .ok()?;
        if rest.len() < len + 2 {
            return None;
        }
        args.push(&rest[..len]);
        b = &rest[len + 2..];
    }
    Some((args, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(args: &[&str], mode: KeyMode) -> Rendered {
        render(args.iter().map(|a| a.as_bytes()), mode, 1000)
    }

    #[test]
    fn values_replaced_keys_kept() {
        assert_eq!(
            r(&["set", "session:9", "s3cr3t", "EX", "60"], KeyMode::Keep).text,
            "SET session:9 ? ? ?"
        );
        assert_eq!(r(&["GET", "user:1"], KeyMode::Keep).text, "GET user:1");
        assert_eq!(
            r(&["MSET", "a", "1", "b", "2"], KeyMode::Keep).text,
            "MSET a ? b ?"
        );
        assert_eq!(r(&["DEL", "a", "b"], KeyMode::Keep).text, "DEL a b");
        assert_eq!(
            r(&["EVAL", "return 1", "2", "k1", "k2", "v"], KeyMode::Keep).text,
            "EVAL ? ? k1 k2 ?"
        );
        assert_eq!(
            r(
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "c",
                    "COUNT",
                    "10",
                    "STREAMS",
                    "jobs",
                    ">"
                ],
                KeyMode::Keep
            )
            .text,
            "XREADGROUP GROUP ? ? COUNT ? STREAMS jobs ?"
        );
        assert_eq!(r(&["PING"], KeyMode::Keep).text, "PING");
        assert_eq!(r(&["KEYS", "user:*"], KeyMode::Keep).text, "KEYS ?");
    }

    #[test]
    fn secrets_never_recorded() {
        for args in [
            vec!["AUTH", "user", "hunter2"],
            vec!["HELLO", "3", "AUTH", "u", "hunter2"],
            vec!["CONFIG", "SET", "requirepass", "hunter2"],
            vec!["MIGRATE", "h", "6379", "k", "0", "5000", "AUTH", "hunter2"],
            vec!["ACL", "SETUSER", "bob", ">hunter2"],
        ] {
            let out = r(&args, KeyMode::Keep);
            assert!(!out.text.contains("hunter2"), "{out:?}");
        }
        assert_eq!(
            r(&["config", "set", "x", "y"], KeyMode::Keep).name,
            "CONFIG SET"
        );
    }

    #[test]
    fn key_modes_and_binary_keys() {
        let h = r(&["GET", "user:1"], KeyMode::Hash).text;
        assert!(
            h.starts_with("GET #") && h.len() == "GET #".len() + 16,
            "{h}"
        );
        assert_eq!(r(&["GET", "user:1"], KeyMode::Drop).text, "GET ?");
        let bin: [&[u8]; 2] = [b"GET", b"k\xff\x00z"];
        assert_eq!(
            render(bin.iter().copied(), KeyMode::Keep, 100).text,
            "GET k\\xff\\x00z"
        );
    }

    #[test]
    fn packed_commands_parse() {
        let packed = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*1\r\n$4\r\nPING\r\n";
        let (args, rest) = parse_packed(packed).unwrap();
        assert_eq!(args, vec![b"GET".as_slice(), b"key"]);
        let (args, rest) = parse_packed(rest).unwrap();
        assert_eq!(args, vec![b"PING".as_slice()]);
        assert!(rest.is_empty());
        assert!(parse_packed(b"*2\r\n$3\r\nGE").is_none());
        assert!(parse_packed(b"garbage").is_none());
    }
}
