//! The few protobuf reads the exporter does on what a collector answers (a partial success, a
//! throttling delay): varints and skipping fields, bounds-checked, `None` on anything malformed.

/// Reads a varint from the front of `b`.
pub(super) fn varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Skips one field's value of wire type `wire` at the front of `b`.
pub(super) fn skip(b: &mut &[u8], wire: u64) -> Option<()> {
    let n = match wire {
        0 => {
            varint(b)?;
            0
        }
        1 => 8,
        2 => usize::try_from(varint(b)?).ok()?,
        5 => 4,
        _ => return None,
    };
    *b = b.get(n..)?;
    Some(())
}

/// Reads a length-delimited value (after its key) from the front of `b`.
pub(super) fn bytes<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = usize::try_from(varint(b)?).ok()?;
    let v = b.get(..n)?;
    *b = &b[n..];
    Some(v)
}

/// The next length-delimited field numbered `field` in `b` (other fields skipped), `b` moved past
/// it; `None` at the end or on anything malformed.
pub(super) fn next_field<'a>(b: &mut &'a [u8], field: u64) -> Option<&'a [u8]> {
    while !b.is_empty() {
        let key = varint(b)?;
        if key == (field << 3 | 2) {
            return bytes(b);
        }
        skip(b, key & 7)?;
    }
    None
}
