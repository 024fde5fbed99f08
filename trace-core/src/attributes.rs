//! Every attribute the adapters set, defined once, with its OpenTelemetry name and type.
//!
//! The keys are typed: a [`StrKey`] only makes string attributes, an [`IntKey`] only integer ones, and
//! so on, so an adapter cannot record `http.response.status_code` as a string by accident. The names
//! are the stable OpenTelemetry semantic convention names (semantic conventions v1.44).

use opentelemetry::{Array, Key, KeyValue, StringValue, Value};

/// A string-typed attribute key.
///
/// ```
/// use opentelemetry::Value;
/// use trace_core::attributes::URL_PATH;
/// let kv = URL_PATH.kv("/users/42");
/// assert_eq!((kv.key.as_str(), kv.value), ("url.path", Value::from("/users/42")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrKey(pub &'static str);

/// An integer-typed attribute key (exported as an OpenTelemetry `int`).
///
/// ```
/// use opentelemetry::Value;
/// use trace_core::attributes::HTTP_RESPONSE_STATUS_CODE;
/// // an integer, never the string "404"
/// assert_eq!(HTTP_RESPONSE_STATUS_CODE.kv(404).value, Value::I64(404));
/// assert_eq!(HTTP_RESPONSE_STATUS_CODE.name(), "http.response.status_code");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntKey(pub &'static str);

/// A boolean-typed attribute key.
///
/// ```
/// use trace_core::attributes::BoolKey;
/// const CACHE_HIT: BoolKey = BoolKey("app.cache.hit"); // a key of your own, typed the same way
/// assert_eq!(CACHE_HIT.kv(true).value, opentelemetry::Value::Bool(true));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoolKey(pub &'static str);

/// A floating-point attribute key (exported as an OpenTelemetry `double`).
///
/// ```
/// use trace_core::attributes::F64Key;
/// const SCORE: F64Key = F64Key("app.fraud.score");
/// assert_eq!(SCORE.kv(0.25).value, opentelemetry::Value::F64(0.25));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct F64Key(pub &'static str);

impl F64Key {
    /// The attribute name.
    ///
    /// ```
    /// assert_eq!(trace_core::attributes::F64Key("app.score").name(), "app.score");
    /// ```
    pub const fn name(self) -> &'static str {
        self.0
    }
    /// Makes the attribute.
    ///
    /// ```
    /// let kv = trace_core::attributes::F64Key("app.score").kv(0.5);
    /// assert_eq!(kv.value, opentelemetry::Value::F64(0.5));
    /// ```
    #[inline]
    pub fn kv(self, value: f64) -> KeyValue {
        KeyValue::new(Key::from_static_str(self.0), Value::F64(value))
    }
}

/// A string-array-typed attribute key.
///
/// ```
/// use opentelemetry::{Array, Value};
/// use trace_core::attributes::StrArrayKey;
/// const TAGS: StrArrayKey = StrArrayKey("app.tags");
/// let kv = TAGS.kv(vec!["a".into(), "b".into()]);
/// assert_eq!(kv.value, Value::Array(Array::String(vec!["a".into(), "b".into()])));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrArrayKey(pub &'static str);

impl StrKey {
    /// The attribute name.
    ///
    /// ```
    /// assert_eq!(trace_core::attributes::URL_SCHEME.name(), "url.scheme");
    /// ```
    pub const fn name(self) -> &'static str {
        self.0
    }
    /// Makes the attribute from anything that converts to an OpenTelemetry string.
    ///
    /// ```
    /// let kv = trace_core::attributes::URL_SCHEME.kv("https");
    /// assert_eq!(kv.value.as_str(), "https");
    /// ```
    #[inline]
    pub fn kv(self, value: impl Into<StringValue>) -> KeyValue {
        KeyValue::new(Key::from_static_str(self.0), Value::String(value.into()))
    }
}

impl IntKey {
    /// The attribute name.
    ///
    /// ```
    /// assert_eq!(trace_core::attributes::SERVER_PORT.name(), "server.port");
    /// ```
    pub const fn name(self) -> &'static str {
        self.0
    }
    /// Makes the attribute; the value is exported as an integer.
    ///
    /// ```
    /// let kv = trace_core::attributes::SERVER_PORT.kv(5432);
    /// assert_eq!(kv.value, opentelemetry::Value::I64(5432));
    /// ```
    #[inline]
    pub fn kv(self, value: i64) -> KeyValue {
        KeyValue::new(Key::from_static_str(self.0), Value::I64(value))
    }
}

impl BoolKey {
    /// The attribute name.
    ///
    /// ```
    /// assert_eq!(trace_core::attributes::BoolKey("app.retry").name(), "app.retry");
    /// ```
    pub const fn name(self) -> &'static str {
        self.0
    }
    /// Makes the attribute.
    ///
    /// ```
    /// let kv = trace_core::attributes::BoolKey("app.retry").kv(false);
    /// assert_eq!(kv.value, opentelemetry::Value::Bool(false));
    /// ```
    #[inline]
    pub fn kv(self, value: bool) -> KeyValue {
        KeyValue::new(Key::from_static_str(self.0), Value::Bool(value))
    }
}

impl StrArrayKey {
    /// The attribute name.
    ///
    /// ```
    /// assert_eq!(trace_core::attributes::StrArrayKey("app.tags").name(), "app.tags");
    /// ```
    pub const fn name(self) -> &'static str {
        self.0
    }
    /// Makes the attribute.
    ///
    /// ```
    /// let kv = trace_core::attributes::StrArrayKey("app.tags").kv(vec!["x".into()]);
    /// assert_eq!(kv.key.as_str(), "app.tags");
    /// ```
    #[inline]
    pub fn kv(self, values: Vec<StringValue>) -> KeyValue {
        KeyValue::new(
            Key::from_static_str(self.0),
            Value::Array(Array::String(values)),
        )
    }
}

/// Makes a string-array attribute under a key built at run time (captured headers).
///
/// ```
/// use opentelemetry::Key;
/// let kv = trace_core::attributes::str_array(
///     Key::new("http.request.header.x-request-id"),
///     vec!["abc".into()],
/// );
/// assert!(trace_core::attributes::is_declared(kv.key.as_str()));
/// ```
#[inline]
pub fn str_array(key: Key, values: Vec<StringValue>) -> KeyValue {
    KeyValue::new(key, Value::Array(Array::String(values)))
}

macro_rules! declare {
    ($($(#[$meta:meta])* $name:ident : $ty:ident = $key:literal;)*) => {
        $(
            $(#[$meta])*
            ///
            #[doc = concat!(
                "```\nuse trace_core::attributes::{is_declared, ", stringify!($name), "};\n",
                "assert_eq!(", stringify!($name), ".name(), \"", $key, "\");\n",
                "assert!(is_declared(", stringify!($name), ".name()));\n```"
            )]
            pub const $name: $ty = $ty($key);
        )*
        /// The name of every attribute declared here, for schema checks.
        ///
        /// ```
        /// use trace_core::attributes::DECLARED;
        /// assert!(DECLARED.contains(&"http.response.status_code"));
        /// assert!(DECLARED.iter().all(|name| name.contains('.')));
        /// ```
        pub const DECLARED: &[&str] = &[$($key),*];
    };
}

/// The prefixes of attributes whose names are built at run time (captured headers).
///
/// ```
/// assert!(trace_core::attributes::DECLARED_PREFIXES.contains(&"http.response.header."));
/// ```
pub const DECLARED_PREFIXES: &[&str] = &["http.request.header.", "http.response.header."];

/// True when `name` is an attribute this schema declares.
///
/// ```
/// use trace_core::attributes::is_declared;
/// assert!(is_declared("db.query.text"));
/// assert!(is_declared("http.request.header.user-agent"));
/// assert!(!is_declared("http.status_code")); // an old, unstable name
/// ```
pub fn is_declared(name: &str) -> bool {
    DECLARED.contains(&name) || DECLARED_PREFIXES.iter().any(|p| name.starts_with(p))
}

declare! {
    // ---- HTTP (server and client) ----
    /// `http.request.method`: the normalised method, or `_OTHER`.
    HTTP_REQUEST_METHOD: StrKey = "http.request.method";
    /// `http.request.method_original`: the method as received, when it is not a known one.
    HTTP_REQUEST_METHOD_ORIGINAL: StrKey = "http.request.method_original";
    /// `http.response.status_code`.
    HTTP_RESPONSE_STATUS_CODE: IntKey = "http.response.status_code";
    /// `http.route`: the matched route template.
    HTTP_ROUTE: StrKey = "http.route";
    /// `http.request.resend_count`: ordinal of a resent request (1 for the first resend).
    HTTP_REQUEST_RESEND_COUNT: IntKey = "http.request.resend_count";
    /// `url.path`.
    URL_PATH: StrKey = "url.path";
    /// `url.query` (redacted).
    URL_QUERY: StrKey = "url.query";
    /// `url.scheme`.
    URL_SCHEME: StrKey = "url.scheme";
    /// `url.full` (redacted).
    URL_FULL: StrKey = "url.full";
    /// `url.template`.
    URL_TEMPLATE: StrKey = "url.template";
    /// `user_agent.original`.
    USER_AGENT_ORIGINAL: StrKey = "user_agent.original";
    /// `network.protocol.name` (set only when it is not `http`).
    NETWORK_PROTOCOL_NAME: StrKey = "network.protocol.name";
    /// `network.protocol.version`: `1.0`, `1.1`, `2`, `3`.
    NETWORK_PROTOCOL_VERSION: StrKey = "network.protocol.version";
    /// `network.peer.address`.
    NETWORK_PEER_ADDRESS: StrKey = "network.peer.address";
    /// `network.peer.port`.
    NETWORK_PEER_PORT: IntKey = "network.peer.port";
    /// `server.address`.
    SERVER_ADDRESS: StrKey = "server.address";
    /// `server.port`.
    SERVER_PORT: IntKey = "server.port";
    /// `client.address`.
    CLIENT_ADDRESS: StrKey = "client.address";
    /// `client.port`.
    CLIENT_PORT: IntKey = "client.port";

    // ---- Errors ----
    /// `error.type`: low-cardinality class of the error (status code, SQLSTATE, error prefix, type name).
    ERROR_TYPE: StrKey = "error.type";
    /// `exception.type` (on the `exception` event).
    EXCEPTION_TYPE: StrKey = "exception.type";
    /// `exception.message` (on the `exception` event).
    EXCEPTION_MESSAGE: StrKey = "exception.message";

    // ---- Database (SQL and Redis) ----
    /// `db.system.name`: `postgresql`, `mysql`, `mariadb`, `sqlite`, `redis`.
    DB_SYSTEM_NAME: StrKey = "db.system.name";
    /// `db.namespace`: database (PostgreSQL `{database}|{schema}`), or Redis database index.
    DB_NAMESPACE: StrKey = "db.namespace";
    /// `db.query.text` (parameterised or sanitised).
    DB_QUERY_TEXT: StrKey = "db.query.text";
    /// `db.query.summary`: `SELECT users`, `INSERT orders SELECT carts`.
    DB_QUERY_SUMMARY: StrKey = "db.query.summary";
    /// `db.operation.name`: `SELECT`, `GET`.
    DB_OPERATION_NAME: StrKey = "db.operation.name";
    /// `db.collection.name`: the single table the operation acts on.
    DB_COLLECTION_NAME: StrKey = "db.collection.name";
    /// `db.operation.batch.size`: commands in a batch or pipeline (2 or more).
    DB_OPERATION_BATCH_SIZE: IntKey = "db.operation.batch.size";
    /// `db.response.status_code`: SQLSTATE, or the Redis error prefix.
    DB_RESPONSE_STATUS_CODE: StrKey = "db.response.status_code";
    /// `db.response.returned_rows`.
    DB_RESPONSE_RETURNED_ROWS: IntKey = "db.response.returned_rows";
    /// `db.response.affected_rows`: rows changed by a write (this project's name; the conventions
    /// have no attribute for it yet).
    DB_RESPONSE_AFFECTED_ROWS: IntKey = "db.response.affected_rows";
    /// `db.client.connection.wait_time`: seconds the operation waited for a pool connection
    /// (the name of the conventions' pool metric, recorded on the span).
    DB_CLIENT_CONNECTION_WAIT_TIME: F64Key = "db.client.connection.wait_time";
    /// `db.redis.cache_hit`: whether a read found its key(s).
    DB_REDIS_CACHE_HIT: BoolKey = "db.redis.cache_hit";

    // ---- Messaging (queues through Redis) ----
    /// `messaging.system`.
    MESSAGING_SYSTEM: StrKey = "messaging.system";
    /// `messaging.destination.name`.
    MESSAGING_DESTINATION_NAME: StrKey = "messaging.destination.name";
    /// `messaging.operation.type`: `send`, `receive`, `process`.
    MESSAGING_OPERATION_TYPE: StrKey = "messaging.operation.type";
    /// `messaging.message.id`.
    MESSAGING_MESSAGE_ID: StrKey = "messaging.message.id";

}

/// Appending an attribute the way the schemas do: `attrs.push_attr(|| URL_PATH.kv(path))`.
pub(crate) trait PushAttr {
    /// Appends the attribute `make` builds. The vector makes room first and `make` runs after,
    /// so the attribute is written straight into the vector's memory: pushed whole, it is built
    /// on the stack and copied, and the copy's wide loads over the narrow stores that built it
    /// stall.
    fn push_attr(&mut self, make: impl FnOnce() -> KeyValue);
}

impl PushAttr for Vec<KeyValue> {
    #[inline(always)]
    fn push_attr(&mut self, make: impl FnOnce() -> KeyValue) {
        self.extend(std::iter::once_with(make));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_keys_make_typed_values() {
        assert_eq!(HTTP_RESPONSE_STATUS_CODE.kv(200).value, Value::I64(200));
        assert_eq!(SERVER_PORT.kv(8080).value, Value::I64(8080));
        assert_eq!(URL_PATH.kv("/a").value, Value::String("/a".into()));
        assert_eq!(DB_REDIS_CACHE_HIT.kv(true).value, Value::Bool(true));
        assert_eq!(HTTP_ROUTE.kv("/x").key.as_str(), "http.route");
        assert!(is_declared("db.query.text"));
        assert!(is_declared("http.request.header.x-id"));
        assert!(!is_declared("http.client.address"));
    }
}
