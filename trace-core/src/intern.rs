//! Interned strings for low-cardinality values (route templates, span names, host names, user
//! agents, peer IPv4 addresses), so a request does not allocate them again. Each table is
//! bounded: past its capacity, values are simply allocated per use, so hostile input cannot grow
//! memory.

use std::cell::Cell;
use std::sync::{LazyLock, OnceLock, RwLock};

use opentelemetry::StringValue;

/// The FNV-1a hasher behind the tables: these keys are short and few, SipHash's DoS resistance
/// is not needed (the tables are bounded) and costs several times more per look-up.
///
/// ```
/// use std::hash::Hasher;
/// let mut h = trace_core::intern::Fnv::default();
/// h.write(b"a");
/// assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c); // FNV-1a 64 of "a"
/// ```
#[derive(Default)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<Fnv>>;

/// A bounded table of leaked `'static` strings.
///
/// While it fills, look-ups take a shared lock and additions an exclusive one. Once full it never
/// changes again, and is read with no lock at all: a high-cardinality value past the bound (user
/// agents, client addresses of a public service) costs every worker thread a hash look-up, not a
/// lock word bouncing between cores.
///
/// ```
/// use trace_core::intern::Interner;
/// let table = Interner::new(1);
/// let a = table.get("/users/{id}").unwrap();
/// assert!(std::ptr::eq(a, table.get("/users/{id}").unwrap())); // one copy, for the process
/// assert_eq!(table.get("/orders/{id}"), None); // full
/// assert_eq!(table.value("/orders/{id}").as_str(), "/orders/{id}"); // an owned copy instead
/// ```
#[derive(Debug)]
pub struct Interner {
    filling: RwLock<FnvSet<&'static str>>,
    full: OnceLock<FnvSet<&'static str>>,
    capacity: usize,
}

impl Interner {
    /// A table holding at most `capacity` strings.
    ///
    /// ```
    /// let hosts = trace_core::intern::Interner::new(64);
    /// ```
    pub fn new(capacity: usize) -> Self {
        Self {
            filling: RwLock::new(FnvSet::default()),
            full: OnceLock::new(),
            capacity,
        }
    }

    /// The interned copy of `s`, interning it if there is room.
    ///
    /// ```
    /// let table = trace_core::intern::Interner::new(8);
    /// assert_eq!(table.get("GET /"), Some("GET /"));
    /// ```
    pub fn get(&self, s: &str) -> Option<&'static str> {
        if let Some(full) = self.full.get() {
            return full.get(s).copied();
        }
        if let Some(v) = self
            .filling
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(s)
        {
            return Some(v);
        }
        let mut set = self.filling.write().unwrap_or_else(|e| e.into_inner());
        // filled up (and moved) while this thread waited for the lock
        if let Some(full) = self.full.get() {
            return full.get(s).copied();
        }
        if let Some(v) = set.get(s) {
            return Some(v);
        }
        if set.len() >= self.capacity {
            let _ = self.full.set(std::mem::take(&mut *set));
            return None;
        }
        let leaked: &'static str = Box::leak(Box::<str>::from(s));
        set.insert(leaked);
        if set.len() >= self.capacity {
            let _ = self.full.set(std::mem::take(&mut *set));
        }
        Some(leaked)
    }

    /// `s` as a string value: interned when possible, else an owned copy.
    ///
    /// ```
    /// let table = trace_core::intern::Interner::new(8);
    /// assert_eq!(table.value("orders-db").as_str(), "orders-db");
    /// ```
    pub fn value(&self, s: &str) -> StringValue {
        interned_or_owned(self.get(s), s)
    }

    /// `s` as a string value for a value many spans copy (a pool's address, a statement's
    /// summary): the interned string when the table has room, so a span copies a `'static`
    /// string; else one shared copy (`Arc`), which every copy's reference count then touches.
    ///
    /// ```
    /// let table = trace_core::intern::Interner::new(8);
    /// let (a, b) = (table.shared_value("orders"), table.shared_value("orders"));
    /// assert!(std::ptr::eq(a.as_str(), b.as_str())); // one copy for the process
    /// ```
    pub fn shared_value(&self, s: &str) -> StringValue {
        match self.get(s) {
            Some(v) => StringValue::from(v),
            None => StringValue::from(std::sync::Arc::<str>::from(s)),
        }
    }
}

/// The interned string when there is one, else an owned copy of `s`.
fn interned_or_owned(interned: Option<&'static str>, s: &str) -> StringValue {
    match interned {
        Some(v) => StringValue::from(v),
        None => StringValue::from(s.to_owned()),
    }
}

/// Route templates and span names (`GET /users/{id}`).
///
/// ```
/// let name = trace_core::intern::ROUTES.get("GET /users/{id}").unwrap();
/// assert_eq!(name, "GET /users/{id}");
/// ```
pub static ROUTES: LazyLock<Interner> = LazyLock::new(|| Interner::new(8192));
/// Host names and other small sets of request values.
///
/// ```
/// assert_eq!(trace_core::intern::HOSTS.value("api.example.com").as_str(), "api.example.com");
/// ```
pub static HOSTS: LazyLock<Interner> = LazyLock::new(|| Interner::new(256));
/// Values fixed for a database client's life: database names and server addresses.
///
/// ```
/// assert!(trace_core::intern::TARGETS.get("orders").is_some());
/// ```
pub static TARGETS: LazyLock<Interner> = LazyLock::new(|| Interner::new(256));

/// A value fixed for a client's life (a pool's database name, a connection's server address):
/// interned while [`TARGETS`] has room, so each span copies a `'static` string instead of
/// touching a shared reference count twice (on an atomic that every worker thread writes); past
/// the bound, one shared copy.
///
/// ```
/// let a = trace_core::intern::target_value("cache.internal");
/// let b = trace_core::intern::target_value("cache.internal");
/// assert_eq!(a.as_str(), "cache.internal");
/// assert!(std::ptr::eq(a.as_str(), b.as_str())); // one copy for the process
/// ```
pub fn target_value(s: &str) -> StringValue {
    TARGETS.shared_value(s)
}

/// Peer IPv4 addresses, as text.
///
/// ```
/// assert_eq!(trace_core::intern::ADDRESSES.get("10.0.0.1"), Some("10.0.0.1"));
/// ```
pub static ADDRESSES: LazyLock<Interner> = LazyLock::new(|| Interner::new(256));
/// `User-Agent` values: a service sees few distinct clients, each many times. Bounded like the
/// others, so a client sending a new value with every request only fills it once.
///
/// ```
/// assert!(trace_core::intern::USER_AGENTS.get("curl/8.5.0").is_some());
/// ```
pub static USER_AGENTS: LazyLock<Interner> = LazyLock::new(|| Interner::new(256));

/// A small stack buffer for formatting short values without allocating; a write past its end
/// fails (nothing is cut silently).
///
/// ```
/// use std::fmt::Write;
/// use trace_core::intern::StackStr;
/// let mut s = StackStr::<16>::default();
/// write!(s, "{} {}", "GET", "/a").unwrap();
/// assert_eq!(s.as_str(), "GET /a");
/// assert!(write!(s, "{}", "x".repeat(32)).is_err());
/// ```
pub struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Default for StackStr<N> {
    fn default() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> StackStr<N> {
    /// The text written so far.
    ///
    /// ```
    /// use std::fmt::Write;
    /// let mut s = trace_core::intern::StackStr::<8>::default();
    /// write!(s, "{}", 404).unwrap();
    /// assert_eq!(s.as_str(), "404");
    /// ```
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> std::fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The lower-case hex of a trace id, without allocating.
///
/// ```
/// let id = opentelemetry::trace::TraceId::from(0xab_u128);
/// assert_eq!(&trace_core::intern::trace_id_hex(id), b"000000000000000000000000000000ab");
/// ```
pub fn trace_id_hex(id: opentelemetry::trace::TraceId) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex_into(&id.to_bytes(), &mut out);
    out
}

/// The two lower-case hex digits of every byte value.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    t
};

/// Writes `bytes` as lower-case hex into `out` (twice as long): one table look-up per byte.
///
/// ```
/// let mut out = [0u8; 4];
/// trace_core::intern::hex_into(&[0x0f, 0xa0], &mut out);
/// assert_eq!(&out, b"0fa0");
/// ```
#[inline]
pub fn hex_into(bytes: &[u8], out: &mut [u8]) {
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[*b as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_matches_the_formatter() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut out = vec![0u8; 512];
        hex_into(&bytes, &mut out);
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(std::str::from_utf8(&out).unwrap(), expected);
    }

    #[test]
    fn bounded() {
        let t = Interner::new(2);
        assert!(t.get("a").is_some());
        assert_eq!(
            t.get("a").map(|s| s.as_ptr()),
            t.get("a").map(|s| s.as_ptr())
        );
        assert!(t.get("b").is_some());
        assert!(t.get("c").is_none());
        assert_eq!(t.value("c").as_str(), "c");
        // full: the same entries, read without the lock
        assert!(t.full.get().is_some());
        assert_eq!(t.get("a"), t.get("a"));
        assert_eq!(
            t.get("b").map(|s| s.as_ptr()),
            t.get("b").map(|s| s.as_ptr())
        );
        assert!(t.get("c").is_none());
    }

    #[test]
    fn bounded_under_concurrent_use() {
        let t = std::sync::Arc::new(Interner::new(50));
        let threads: Vec<_> = (0..4)
            .map(|n| {
                let t = t.clone();
                std::thread::spawn(move || {
                    let mut kept = Vec::new();
                    for i in 0..100 {
                        let s = format!("v{}", (i * 7 + n * 13) % 120);
                        if let Some(v) = t.get(&s) {
                            assert_eq!(v, s);
                            kept.push(v);
                        }
                    }
                    kept
                })
            })
            .collect();
        let mut all: Vec<&'static str> = Vec::new();
        for h in threads {
            all.extend(h.join().unwrap());
        }
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 50, "exactly the bound, no more");
        for v in all {
            assert_eq!(
                t.get(v).map(str::as_ptr),
                Some(v.as_ptr()),
                "one copy of each"
            );
        }
    }

    #[test]
    fn hex() {
        let id =
            opentelemetry::trace::TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(&trace_id_hex(id), b"4bf92f3577b34da6a3ce929d0e0e4736");
    }
}

/// A per-thread, direct-mapped cache in front of an [`Interner`]: a hit costs one string compare
/// instead of a lock and a hash lookup. A slot holds the interned value itself.
type Cache<const N: usize> = [Cell<Option<&'static str>>; N];

fn slot<const N: usize>(a: &str, b: &str) -> usize {
    let bytes = a.as_bytes();
    let h = a.len()
        ^ (b.len() << 3)
        ^ bytes.first().map_or(0, |c| *c as usize) << 5
        ^ bytes.last().map_or(0, |c| *c as usize) << 1
        ^ bytes.get(bytes.len() / 2).map_or(0, |c| *c as usize);
    h % N
}

thread_local! {
    static NAMES: Cache<32> = const { [const { Cell::new(None) }; 32] };
    static ROUTE_VALUES: Cache<32> = const { [const { Cell::new(None) }; 32] };
    static HOST_VALUES: Cache<16> = const { [const { Cell::new(None) }; 16] };
    static AGENT_VALUES: Cache<16> = const { [const { Cell::new(None) }; 16] };
    /// IPv4 addresses by value: a hit needs no formatting at all.
    static IPV4_VALUES: [Cell<Option<(u32, &'static str)>>; 16] =
        const { [const { Cell::new(None) }; 16] };
}

/// The cached value in `key`'s slot when `is` accepts it, else `make()`'s, then cached.
fn cached<const N: usize>(
    cache: &'static std::thread::LocalKey<Cache<N>>,
    key: &str,
    tag: &str,
    is: impl Fn(&str) -> bool,
    make: impl FnOnce() -> Option<&'static str>,
) -> Option<&'static str> {
    let i = slot::<N>(key, tag);
    let hit = cache.with(|c| c[i].get().filter(|v| is(v)));
    if hit.is_some() {
        return hit;
    }
    let v = make()?;
    cache.with(|c| c[i].set(Some(v)));
    Some(v)
}

/// `s` as an interned value through the per-thread `cache` and the shared `table`.
fn value_of<const N: usize>(
    cache: &'static std::thread::LocalKey<Cache<N>>,
    table: &Interner,
    s: &str,
) -> StringValue {
    interned_or_owned(cached(cache, s, "", |v| v == s, || table.get(s)), s)
}

/// The interned span name `{method} {route}`.
///
/// ```
/// let name = trace_core::intern::route_name("GET", "/users/{id}").unwrap();
/// assert_eq!(name, "GET /users/{id}");
/// ```
pub fn route_name(method: &str, route: &str) -> Option<&'static str> {
    let is = |name: &str| {
        name.len() == method.len() + 1 + route.len()
            && name.as_bytes()[method.len()] == b' '
            && name.starts_with(method)
            && name.ends_with(route)
    };
    cached(&NAMES, route, method, is, || {
        let mut key = StackStr::<256>::default();
        std::fmt::Write::write_fmt(&mut key, format_args!("{method} {route}")).ok()?;
        ROUTES.get(key.as_str())
    })
}

/// `route` as an interned string value.
///
/// ```
/// assert_eq!(trace_core::intern::route_value("/users/{id}").as_str(), "/users/{id}");
/// ```
pub fn route_value(route: &str) -> StringValue {
    value_of(&ROUTE_VALUES, &ROUTES, route)
}

/// A host name as an interned string value (bounded table; owned copy past it).
///
/// ```
/// assert_eq!(trace_core::intern::host_value("db.internal").as_str(), "db.internal");
/// ```
pub fn host_value(host: &str) -> StringValue {
    value_of(&HOST_VALUES, &HOSTS, host)
}

/// A `User-Agent` value as an interned string value (bounded table; owned copy past it).
///
/// ```
/// assert_eq!(trace_core::intern::user_agent_value("okhttp/4.12").as_str(), "okhttp/4.12");
/// ```
pub fn user_agent_value(agent: &str) -> StringValue {
    value_of(&AGENT_VALUES, &USER_AGENTS, agent)
}

/// An IP address as a string value. IPv4 addresses are interned (bounded table, a per-thread
/// cache by address): a service's peers are mostly a few proxies, load balancers or services.
/// Past the table's bound, and for IPv6, a shared string (`client.address` and
/// `network.peer.address` both hold it).
///
/// ```
/// use std::net::IpAddr;
/// let v4: IpAddr = "192.0.2.10".parse().unwrap();
/// let v6: IpAddr = "2001:db8::1".parse().unwrap();
/// assert_eq!(trace_core::intern::ip_value(v4).as_str(), "192.0.2.10");
/// assert_eq!(trace_core::intern::ip_value(v6).as_str(), "2001:db8::1");
/// ```
pub fn ip_value(ip: std::net::IpAddr) -> StringValue {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let slot = (bits ^ (bits >> 8) ^ (bits >> 16) ^ (bits >> 24)) as usize % 16;
            let hit = IPV4_VALUES.with(|c| c[slot].get().filter(|(b, _)| *b == bits));
            if let Some((_, v)) = hit {
                return StringValue::from(v);
            }
            let mut buf = [0u8; 15];
            let mut len = 0;
            for (i, octet) in v4.octets().iter().enumerate() {
                if i > 0 {
                    buf[len] = b'.';
                    len += 1;
                }
                let o = *octet;
                if o >= 100 {
                    buf[len] = b'0' + o / 100;
                    len += 1;
                }
                if o >= 10 {
                    buf[len] = b'0' + (o / 10) % 10;
                    len += 1;
                }
                buf[len] = b'0' + o % 10;
                len += 1;
            }
            let text = std::str::from_utf8(&buf[..len]).unwrap_or_default();
            match ADDRESSES.get(text) {
                Some(v) => {
                    IPV4_VALUES.with(|c| c[slot].set(Some((bits, v))));
                    StringValue::from(v)
                }
                None => StringValue::from(std::sync::Arc::<str>::from(text)),
            }
        }
        std::net::IpAddr::V6(v6) => StringValue::from(std::sync::Arc::<str>::from(v6.to_string())),
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn cached_values_are_right_for_colliding_keys() {
        for i in 0..200 {
            let r = format!("/r{i}/{{id}}");
            assert_eq!(route_name("GET", &r).unwrap(), format!("GET {r}"));
            assert_eq!(route_name("POST", &r).unwrap(), format!("POST {r}"));
            assert_eq!(route_value(&r).as_str(), r);
        }
        // the same slot, alternately: each look-up checks the cached value, not just the slot
        for _ in 0..3 {
            assert_eq!(route_name("GET", "/ab").unwrap(), "GET /ab");
            assert_eq!(route_name("PUT", "/ab").unwrap(), "PUT /ab");
            assert_eq!(route_value("/xa").as_str(), "/xa");
            assert_eq!(route_value("/ya").as_str(), "/ya");
        }
        assert_eq!(host_value("a.example").as_str(), "a.example");
        for i in 0..300 {
            let ua = format!("agent/{i}");
            assert_eq!(
                user_agent_value(&ua).as_str(),
                ua,
                "past the table's bound too"
            );
        }
        assert_eq!(
            ip_value("10.0.200.7".parse().unwrap()).as_str(),
            "10.0.200.7"
        );
        assert_eq!(ip_value("0.0.0.0".parse().unwrap()).as_str(), "0.0.0.0");
        // more addresses than the table holds, each twice, colliding in the per-thread cache
        for round in 0..2 {
            for i in 0..300u32 {
                let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i * 16);
                assert_eq!(
                    ip_value(ip.into()).as_str(),
                    ip.to_string(),
                    "round {round}"
                );
            }
        }
        assert_eq!(ip_value("::1".parse().unwrap()).as_str(), "::1");
    }
}
