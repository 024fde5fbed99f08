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
///
/// ```
/// use trace_core::redis::{render, KeyMode};
/// let args: [&[u8]; 2] = [b"GET", b"session:9f2c"];
/// assert_eq!(render(args.into_iter(), KeyMode::Keep, 1024).text, "GET session:9f2c");
/// assert_eq!(render(args.into_iter(), KeyMode::Drop, 1024).text, "GET ?");
/// let hashed = render(args.into_iter(), KeyMode::Hash, 1024).text;
/// assert!(hashed.starts_with("GET #") && hashed.len() == "GET #".len() + 16);
/// ```
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

/// A rendered command. Values are never rendered, only `?`.
///
/// ```
/// use trace_core::redis::{render, KeyMode};
/// let args: [&[u8]; 4] = [b"config", b"set", b"maxmemory", b"2gb"];
/// let r = render(args.into_iter(), KeyMode::Keep, 1024);
/// assert_eq!(r.name, "CONFIG SET");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The span name and `db.operation.name`: the command (`GET`), with its subcommand for
    /// container commands (`CONFIG SET`, `XGROUP CREATE`).
    pub name: Cow<'static, str>,
    /// `db.query.text`.
    pub text: String,
}

/// Commands that take a subcommand (`CONFIG SET`, `XGROUP CREATE`).
fn is_container(name: &str) -> bool {
    matches!(
        name,
        "ACL"
            | "CLIENT"
            | "CLUSTER"
            | "COMMAND"
            | "CONFIG"
            | "FUNCTION"
            | "LATENCY"
            | "MEMORY"
            | "MODULE"
            | "OBJECT"
            | "PUBSUB"
            | "SCRIPT"
            | "SLOWLOG"
            | "XGROUP"
            | "XINFO"
    )
}

/// Commands whose arguments are never recorded.
fn is_secret(name: &str) -> bool {
    matches!(
        name,
        "AUTH" | "HELLO" | "MIGRATE" | "CONFIG SET" | "ACL SETUSER"
    )
}

/// Where a command's keys are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// No key.
    None,
    /// Every argument.
    All,
    /// The first argument (most commands).
    First,
    /// Even positions (`MSET k v k v`).
    Even,
    /// All but the last (`BLPOP k k timeout`).
    AllButLast,
    /// The first two (`LMOVE src dst ...`).
    FirstTwo,
    /// After `numkeys` (`EVAL script numkeys k... arg...`).
    Eval,
    /// After `STREAMS`, the first half (`XREAD ... STREAMS k1 k2 id1 id2`).
    Streams,
}

fn keys_of(name: &str) -> Keys {
    match name {
        "PING" | "ECHO" | "INFO" | "DBSIZE" | "FLUSHDB" | "FLUSHALL" | "TIME" | "SELECT"
        | "MULTI" | "EXEC" | "DISCARD" | "QUIT" | "SCAN" | "KEYS" | "RANDOMKEY" | "WAIT"
        | "SAVE" | "BGSAVE" | "LASTSAVE" | "SWAPDB" | "SCRIPT LOAD" | "SCRIPT FLUSH"
        | "SCRIPT EXISTS" | "CLIENT SETNAME" | "CLIENT GETNAME" | "CLIENT ID" | "CLIENT LIST"
        | "CLIENT INFO" | "CONFIG GET" | "COMMAND" | "READONLY" | "READWRITE" | "RESET"
        | "UNWATCH" => Keys::None,
        "DEL" | "UNLINK" | "EXISTS" | "MGET" | "TOUCH" | "WATCH" | "SINTER" | "SUNION"
        | "SDIFF" | "PFCOUNT" | "RENAME" | "RENAMENX" | "SUBSCRIBE" | "UNSUBSCRIBE"
        | "PSUBSCRIBE" | "PUNSUBSCRIBE" => Keys::All,
        "MSET" | "MSETNX" => Keys::Even,
        "BLPOP" | "BRPOP" | "BZPOPMIN" | "BZPOPMAX" => Keys::AllButLast,
        "RPOPLPUSH" | "LMOVE" | "BLMOVE" | "SMOVE" | "COPY" => Keys::FirstTwo,
        "EVAL" | "EVALSHA" | "EVAL_RO" | "EVALSHA_RO" | "FCALL" | "FCALL_RO" => Keys::Eval,
        "XREAD" | "XREADGROUP" => Keys::Streams,
        _ => Keys::First,
    }
}

/// The upper-case command name of a first argument (static for the common commands).
///
/// ```
/// use std::borrow::Cow;
/// use trace_core::redis::command_name;
/// assert!(matches!(command_name(b"hgetall"), Cow::Borrowed("HGETALL")));
/// assert_eq!(command_name(b"my.module.cmd"), "MY.MODULE.CMD");
/// ```
pub fn command_name(arg: &[u8]) -> Cow<'static, str> {
    let mut buf = [0u8; 16];
    if arg.len() <= buf.len() {
        for (d, s) in buf.iter_mut().zip(arg) {
            *d = s.to_ascii_uppercase();
        }
        let known: Option<&'static str> = match &buf[..arg.len()] {
            b"GET" => Some("GET"),
            b"SET" => Some("SET"),
            b"DEL" => Some("DEL"),
            b"MGET" => Some("MGET"),
            b"MSET" => Some("MSET"),
            b"HGET" => Some("HGET"),
            b"HSET" => Some("HSET"),
            b"HGETALL" => Some("HGETALL"),
            b"HMGET" => Some("HMGET"),
            b"HMSET" => Some("HMSET"),
            b"HDEL" => Some("HDEL"),
            b"INCR" => Some("INCR"),
            b"INCRBY" => Some("INCRBY"),
            b"DECR" => Some("DECR"),
            b"EXPIRE" => Some("EXPIRE"),
            b"PEXPIRE" => Some("PEXPIRE"),
            b"TTL" => Some("TTL"),
            b"EXISTS" => Some("EXISTS"),
            b"SETEX" => Some("SETEX"),
            b"SETNX" => Some("SETNX"),
            b"GETEX" => Some("GETEX"),
            b"GETDEL" => Some("GETDEL"),
            b"LPUSH" => Some("LPUSH"),
            b"RPUSH" => Some("RPUSH"),
            b"LPOP" => Some("LPOP"),
            b"RPOP" => Some("RPOP"),
            b"LRANGE" => Some("LRANGE"),
            b"LLEN" => Some("LLEN"),
            b"SADD" => Some("SADD"),
            b"SREM" => Some("SREM"),
            b"SMEMBERS" => Some("SMEMBERS"),
            b"SISMEMBER" => Some("SISMEMBER"),
            b"ZADD" => Some("ZADD"),
            b"ZRANGE" => Some("ZRANGE"),
            b"ZSCORE" => Some("ZSCORE"),
            b"ZREM" => Some("ZREM"),
            b"XADD" => Some("XADD"),
            b"XREAD" => Some("XREAD"),
            b"XREADGROUP" => Some("XREADGROUP"),
            b"XACK" => Some("XACK"),
            b"XGROUP" => Some("XGROUP"),
            b"XLEN" => Some("XLEN"),
            b"XRANGE" => Some("XRANGE"),
            b"PUBLISH" => Some("PUBLISH"),
            b"SUBSCRIBE" => Some("SUBSCRIBE"),
            b"PING" => Some("PING"),
            b"EVAL" => Some("EVAL"),
            b"EVALSHA" => Some("EVALSHA"),
            b"AUTH" => Some("AUTH"),
            b"HELLO" => Some("HELLO"),
            b"SELECT" => Some("SELECT"),
            b"MULTI" => Some("MULTI"),
            b"EXEC" => Some("EXEC"),
            b"DISCARD" => Some("DISCARD"),
            b"CONFIG" => Some("CONFIG"),
            b"CLIENT" => Some("CLIENT"),
            b"INFO" => Some("INFO"),
            b"SCAN" => Some("SCAN"),
            b"UNLINK" => Some("UNLINK"),
            b"FLUSHDB" => Some("FLUSHDB"),
            b"WATCH" => Some("WATCH"),
            b"UNWATCH" => Some("UNWATCH"),
            b"BLPOP" => Some("BLPOP"),
            b"BRPOP" => Some("BRPOP"),
            b"MIGRATE" => Some("MIGRATE"),
            b"ACL" => Some("ACL"),
            b"SCRIPT" => Some("SCRIPT"),
            b"TYPE" => Some("TYPE"),
            _ => None,
        };
        if let Some(k) = known {
            return Cow::Borrowed(k);
        }
    }
    let cut = &arg[..arg.len().min(32)];
    Cow::Owned(String::from_utf8_lossy(cut).to_ascii_uppercase())
}

/// Writes `bytes` as text, escaping anything that is not printable UTF-8, cut to about `max`
/// bytes.
///
/// ```
/// let mut out = String::new();
/// trace_core::redis::write_escaped(&mut out, b"key\x00\xff", 64);
/// assert!(out.starts_with("key") && out.is_ascii() && !out.contains('\0'));
/// ```
pub fn write_escaped(out: &mut String, bytes: &[u8], max: usize) {
    if bytes.len() <= max && bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        // printable ASCII, the usual key
        out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
        return;
    }
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

/// The operation name of a command from its first two arguments: the command (`GET`), with its
/// subcommand for container commands (`CONFIG SET`); `redis` when there is no command.
///
/// ```
/// use trace_core::redis::operation_name;
/// assert_eq!(operation_name(Some(b"get"), Some(b"k")), "GET");
/// assert_eq!(operation_name(Some(b"config"), Some(b"set")), "CONFIG SET");
/// assert_eq!(operation_name(None, None), "redis");
/// ```
pub fn operation_name(first: Option<&[u8]>, second: Option<&[u8]>) -> Cow<'static, str> {
    match first {
        Some(first) => name_and_words(first, second).0,
        None => Cow::Borrowed("redis"),
    }
}

/// The operation name and how many arguments it took (1, or 2 with a subcommand).
fn name_and_words(first: &[u8], second: Option<&[u8]>) -> (Cow<'static, str>, usize) {
    let name = command_name(first);
    match second {
        Some(sub) if is_container(&name) => {
            (Cow::Owned(format!("{} {}", name, command_name(sub))), 2)
        }
        _ => (name, 1),
    }
}

/// Renders a command from its arguments (the first is the command name): keys as
/// [`KeyMode`] says, every value as `?`, the text cut to `max_len` bytes.
///
/// ```
/// use trace_core::redis::{render, KeyMode};
/// let args: [&[u8]; 5] = [b"SET", b"user:42", b"{\"card\":\"4111...\"}", b"EX", b"60"];
/// let r = render(args.into_iter(), KeyMode::Keep, 1024);
/// assert_eq!(r.name, "SET");
/// assert!(r.text.starts_with("SET user:42 ?"));
/// assert!(!r.text.contains("card")); // the value never reaches the span
/// ```
pub fn render<'a>(args: impl Iterator<Item = &'a [u8]>, mode: KeyMode, max_len: usize) -> Rendered {
    // most commands have a handful of arguments: keep them on the stack
    const INLINE: usize = 8;
    let mut inline: [&[u8]; INLINE] = [&[]; INLINE];
    let mut spilled: Vec<&[u8]> = Vec::new();
    let mut count = 0;
    for a in args {
        if count < INLINE {
            inline[count] = a;
        } else {
            if count == INLINE {
                spilled.extend_from_slice(&inline);
            }
            spilled.push(a);
        }
        count += 1;
    }
    let args: &[&[u8]] = if count <= INLINE {
        &inline[..count]
    } else {
        &spilled
    };
    let Some(first) = args.first() else {
        return Rendered {
            name: Cow::Borrowed("redis"),
            text: String::new(),
        };
    };
    let (name, words) = name_and_words(first, args.get(1).copied());
    let rest = &args[words..];
    // the text is built in a reused buffer and copied out once at its exact length (a span value
    // is a boxed string: a `String` with spare capacity would be reallocated to drop it)
    SCRATCH.with(|scratch| {
        let mut text = scratch.take();
        text.clear();
        render_into(&mut text, &name, rest, mode, max_len);
        let out = text.as_str().to_owned();
        if text.capacity() <= 64 * 1024 {
            scratch.set(text);
        }
        Rendered { name, text: out }
    })
}

thread_local! {
    static SCRATCH: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

fn render_into(text: &mut String, name: &str, rest: &[&[u8]], mode: KeyMode, max_len: usize) {
    text.push_str(name);
    if is_secret(name) {
        return;
    }
    let n = name;
    let keys = keys_of(n);
    let numkeys = if keys == Keys::Eval {
        rest.get(1)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(0)
    } else {
        0
    };
    let streams = if keys == Keys::Streams {
        rest.iter().position(|a| a.eq_ignore_ascii_case(b"STREAMS"))
    } else {
        None
    };
    let is_key = |i: usize| -> bool {
        match keys {
            Keys::None => false,
            Keys::All => true,
            Keys::First => i == 0,
            Keys::Even => i.is_multiple_of(2),
            Keys::AllButLast => i + 1 < rest.len(),
            Keys::FirstTwo => i < 2,
            Keys::Eval => i >= 2 && i < 2 + numkeys,
            Keys::Streams => match streams {
                Some(p) => i > p && i <= p + (rest.len() - p - 1) / 2,
                None => false,
            },
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
            push_key(text, a, mode);
        } else if keep_word(a) {
            write_escaped(text, a, 16);
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
}

/// Reads whose reply says whether the key was found: one value (`GET`, `HGET`, ...).
///
/// ```
/// assert!(trace_core::redis::is_single_read("GET"));
/// assert!(!trace_core::redis::is_single_read("SET"));
/// ```
pub fn is_single_read(name: &str) -> bool {
    matches!(
        name,
        "GET" | "GETEX" | "GETDEL" | "HGET" | "LINDEX" | "ZSCORE" | "GETSET" | "LPOP" | "RPOP"
    )
}

/// Reads whose reply holds one value per key (`MGET`, `HMGET`).
///
/// ```
/// assert!(trace_core::redis::is_multi_read("MGET"));
/// ```
pub fn is_multi_read(name: &str) -> bool {
    matches!(name, "MGET" | "HMGET")
}

/// Reads whose reply is empty on a miss (`HGETALL`, `SMEMBERS`, `LRANGE`, `ZRANGE`).
///
/// ```
/// assert!(trace_core::redis::is_collection_read("SMEMBERS"));
/// assert!(!trace_core::redis::is_collection_read("GET"));
/// ```
pub fn is_collection_read(name: &str) -> bool {
    matches!(
        name,
        "HGETALL" | "SMEMBERS" | "LRANGE" | "ZRANGE" | "HKEYS" | "HVALS"
    )
}

/// Splits a packed RESP command (`*N\r\n$len\r\narg\r\n...`) into its arguments; `None` when
/// the bytes are not one well-formed command. The rest of the bytes (the next command of a
/// pipeline) comes back with the arguments.
///
/// ```
/// use trace_core::redis::parse_packed;
/// let (args, rest) = parse_packed(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
/// assert_eq!(args, [&b"GET"[..], &b"k"[..]]);
/// assert_eq!(rest, b"*1\r\n$4\r\nPING\r\n");
/// assert!(parse_packed(b"*2\r\n$3\r\nGET\r\n").is_none()); // cut short
/// ```
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
        // (a length near `usize::MAX` must not wrap)
        let end = len.checked_add(2)?;
        if rest.get(len..end)? != b"\r\n" {
            return None;
        }
        args.push(&rest[..len]);
        b = &rest[end..];
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

    #[test]
    fn packed_commands_with_impossible_lengths_are_refused() {
        // found by the fuzzer: a length of usize::MAX wrapped when 2 was added to it
        let huge = format!("*1\r\n${}\r\nGET\r\n", usize::MAX);
        assert!(parse_packed(huge.as_bytes()).is_none());
        let huge = format!("*1\r\n${}\r\nGET\r\n", usize::MAX - 1);
        assert!(parse_packed(huge.as_bytes()).is_none());
        // an argument not followed by its CRLF is not a well-formed command
        assert!(parse_packed(b"*1\r\n$3\r\nGETxx").is_none());
        assert!(parse_packed(b"*2\r\n$1\r\nab\r\n$1\r\nc\r\n").is_none());
        // the fuzzer's input itself
        let found: &[u8] = b"*5605\r\n$0000000000000000000000000000000000000000000000000000000000018446744073709551615\r\n$\x04";
        assert!(parse_packed(found).is_none());
    }
}
