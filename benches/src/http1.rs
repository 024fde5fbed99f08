//! HTTP/1.1 response framing for the load generator (`examples/spin_load.rs`).

/// The length of the complete response at the start of `b` (status 200 and a `Content-Length`
/// required), `None` while it is incomplete.
///
/// ```
/// use benches::http1::response_len;
/// let r = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nuser";
/// assert_eq!(response_len(r), Ok(Some(r.len())));
/// assert_eq!(response_len(&r[..10]), Ok(None));
/// ```
pub fn response_len(b: &[u8]) -> Result<Option<usize>, String> {
    let Some(head_end) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&b[..head_end]).map_err(|_| "non-UTF-8 response head")?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("200") {
        return Err(format!("response not 200: {status:?}"));
    }
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or("response without Content-Length")?;
    let total = head_end + 4 + length;
    Ok((b.len() >= total).then_some(total))
}

#[cfg(test)]
mod tests {
    use super::response_len;

    #[test]
    fn a_response_is_complete_at_its_content_length() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nuser";
        assert_eq!(response_len(r), Ok(Some(r.len())));
        assert_eq!(response_len(&r[..r.len() - 1]), Ok(None));
        assert_eq!(response_len(b"HTTP/1.1 200 OK\r\ncontent"), Ok(None));
        assert!(
            response_len(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
                .is_err()
        );
        assert!(response_len(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    }
}
