//! OTLP's retry rules: which failed sends a batch goes out again after (the retryable gRPC codes,
//! HTTP 429/502/503/504, a connection that could not be made or broke), and how long to wait
//! first (the delay the collector asked for, gRPC `RetryInfo` or HTTP `Retry-After`, else an
//! exponential backoff with jitter). The caller bounds the whole by the export timeout.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::wire;

/// The first backoff; each next one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A failed send, and whether OTLP says to send it again.
#[derive(Debug)]
pub(super) struct SendError {
    pub(super) message: String,
    pub(super) retry: Retry,
}

/// Whether and when a failed send may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// The same request would fail again (bad request, unauthenticated, unknown endpoint).
    No,
    /// Transient: after the delay the collector asked for, else after a backoff.
    Yes(Option<Duration>),
}

impl SendError {
    /// A failure the same request would meet again.
    pub(super) fn permanent(message: String) -> Self {
        Self {
            message,
            retry: Retry::No,
        }
    }

    /// No answer: the connection could not be made or broke (gRPC's client reports these as
    /// `UNAVAILABLE`, which OTLP retries).
    pub(super) fn transport(message: String) -> Self {
        Self {
            message,
            retry: Retry::Yes(None),
        }
    }

    /// A gRPC status: `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`, `UNAVAILABLE`
    /// and `DATA_LOSS` are retried; `RESOURCE_EXHAUSTED` only when the collector says when to
    /// (a `RetryInfo` among the status details); the rest are not.
    pub(super) fn grpc(status: &tonic::Status) -> Self {
        use tonic::Code;
        let asked = retry_info_delay(status.details());
        let retry = match status.code() {
            Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss => Retry::Yes(asked),
            Code::ResourceExhausted if asked.is_some() => Retry::Yes(asked),
            _ => Retry::No,
        };
        Self {
            message: format!("gRPC status {:?}: {}", status.code(), status.message()),
            retry,
        }
    }

    /// An HTTP error status: 429, 502, 503 and 504 are retried (after `Retry-After` seconds when
    /// given), the rest are not.
    pub(super) fn http(status: http::StatusCode, headers: &http::HeaderMap) -> Self {
        let retry = match status.as_u16() {
            429 | 502 | 503 | 504 => Retry::Yes(retry_after(headers)),
            _ => Retry::No,
        };
        Self {
            message: format!("HTTP status {status}"),
            retry,
        }
    }
}

/// `Retry-After` given in seconds (the HTTP-date form is left to the backoff).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The `retry_delay` of a `google.rpc.RetryInfo` among the details of a `google.rpc.Status`
/// (`details = 3`, each an `Any`: `type_url = 1`, `value = 2`).
fn retry_info_delay(mut status: &[u8]) -> Option<Duration> {
    while let Some(any) = wire::next_field(&mut status, 3) {
        let type_url = wire::next_field(&mut { any }, 1).unwrap_or_default();
        if type_url.ends_with(b"/google.rpc.RetryInfo") {
            return retry_delay(wire::next_field(&mut { any }, 2)?);
        }
    }
    None
}

/// `RetryInfo.retry_delay` (field 1, a `google.protobuf.Duration`: `seconds = 1`, `nanos = 2`).
fn retry_delay(mut info: &[u8]) -> Option<Duration> {
    let mut d = wire::next_field(&mut info, 1)?;
    let (mut secs, mut nanos) = (0u64, 0u32);
    while !d.is_empty() {
        let k = wire::varint(&mut d)?;
        match k {
            8 => secs = wire::varint(&mut d)?,
            16 => nanos = u32::try_from(wire::varint(&mut d)?).ok()?.min(999_999_999),
            _ => wire::skip(&mut d, k & 7)?,
        }
    }
    Some(Duration::new(secs, nanos))
}

/// Exponential backoff: 100 ms, 200 ms, 400 ms, ... up to 5 s, each cut to between half and all of
/// itself at random, so that many services a collector turned away do not all come back at once.
#[derive(Debug)]
pub(super) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(super) fn new() -> Self {
        Self {
            next: FIRST_BACKOFF,
        }
    }

    /// How long to wait before the next attempt: what the collector asked for, if it did.
    pub(super) fn wait(&mut self, asked: Option<Duration>) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(MAX_BACKOFF);
        asked.unwrap_or_else(|| jitter(base))
    }
}

/// Between half and all of `d`; the clock's low bits are random enough to spread retries.
fn jitter(d: Duration) -> Duration {
    let r = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos() % 1024);
    d / 2 + d / 2 * r / 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `google.rpc.Status` with one `RetryInfo` detail of `secs` s and `nanos` ns.
    fn status_with_retry_info(secs: u8, nanos: u8) -> Vec<u8> {
        let duration = [8, secs, 16, nanos];
        let mut info = vec![10, duration.len() as u8];
        info.extend_from_slice(&duration);
        let url = b"type.googleapis.com/google.rpc.RetryInfo";
        let mut any = vec![10, url.len() as u8];
        any.extend_from_slice(url);
        any.extend_from_slice(&[18, info.len() as u8]);
        any.extend_from_slice(&info);
        // code = 8 (RESOURCE_EXHAUSTED), message = "slow", then the detail
        let mut status = vec![8, 8, 18, 4, b's', b'l', b'o', b'w', 26, any.len() as u8];
        status.extend_from_slice(&any);
        status
    }

    #[test]
    fn grpc_codes_follow_the_otlp_table() {
        use tonic::Code;
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            let e = SendError::grpc(&tonic::Status::new(code, "x"));
            assert_eq!(e.retry, Retry::Yes(None), "{code:?}");
        }
        for code in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Unimplemented,
            Code::Internal,
            Code::ResourceExhausted,
        ] {
            let e = SendError::grpc(&tonic::Status::new(code, "x"));
            assert_eq!(e.retry, Retry::No, "{code:?}");
        }
        // RESOURCE_EXHAUSTED with a RetryInfo: retried after the delay asked for
        let status = tonic::Status::with_details(
            Code::ResourceExhausted,
            "slow",
            status_with_retry_info(2, 5).into(),
        );
        assert_eq!(
            SendError::grpc(&status).retry,
            Retry::Yes(Some(Duration::new(2, 5)))
        );
    }

    #[test]
    fn malformed_details_ask_for_nothing() {
        let good = status_with_retry_info(1, 0);
        for cut in 0..good.len() {
            // a truncated message never panics; it yields no delay or, cut after the delay, the delay
            let d = retry_info_delay(&good[..cut]);
            assert!(d.is_none() || d == Some(Duration::from_secs(1)), "{cut}");
        }
        assert_eq!(retry_info_delay(&[0xff; 12]), None);
    }

    #[test]
    fn http_statuses_follow_the_otlp_table() {
        let mut headers = http::HeaderMap::new();
        for code in [429, 502, 503, 504] {
            let status = http::StatusCode::from_u16(code).unwrap();
            assert_eq!(SendError::http(status, &headers).retry, Retry::Yes(None));
        }
        for code in [400, 401, 403, 404, 413, 500] {
            let status = http::StatusCode::from_u16(code).unwrap();
            assert_eq!(SendError::http(status, &headers).retry, Retry::No, "{code}");
        }
        headers.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        let e = SendError::http(http::StatusCode::TOO_MANY_REQUESTS, &headers);
        assert_eq!(e.retry, Retry::Yes(Some(Duration::from_secs(3))));
        headers.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        let e = SendError::http(http::StatusCode::SERVICE_UNAVAILABLE, &headers);
        assert_eq!(e.retry, Retry::Yes(None));
    }

    #[test]
    fn backoff_doubles_up_to_its_bound_with_jitter() {
        let mut b = Backoff::new();
        let mut base = FIRST_BACKOFF;
        for _ in 0..10 {
            let w = b.wait(None);
            assert!(w >= base / 2 && w <= base, "{w:?} for {base:?}");
            base = (base * 2).min(MAX_BACKOFF);
        }
        assert_eq!(b.wait(Some(Duration::from_secs(7))), Duration::from_secs(7));
    }
}
