//! Every page header of the columns a Parquet input will have decoded, read before any page is: the
//! Parquet reader trusts them (it sizes a page's buffer by the header, up to 2 GiB, and a list's
//! entries by the levels a few bytes can repeat), so a crafted file is refused here, by name and
//! reason, before it costs what it claims.
//!
//! Headers are Thrift compact structs; only the sizes, value counts and encodings are read, the
//! rest skipped. A file whose headers cannot be read is refused too: the reader would fail on it.

use parquet::file::metadata::ParquetMetaData;

/// What a value costs once decoded, about (a 16-byte view, levels, offsets).
const VALUE_BYTES: u64 = 24;
/// Rows decoded at a time (the reader's batch size).
pub const BATCH_ROWS: u64 = 4096;
/// Nesting a header may have (statistics hold no deeper structs).
const MAX_DEPTH: u32 = 8;
/// Parquet's `DELTA_BYTE_ARRAY`: the reader copies each value's shared prefix again for every row, so
/// one long value repeated costs its length per row. `trailhound export` never writes it.
const DELTA_BYTE_ARRAY: i64 = 7;

/// Checks the pages of the leaf columns `read` marks, row group by row group: the largest page of
/// each column (with its dictionary) and the entries of repeated columns must fit in `budget`
/// bytes together. `Err` says why not.
pub fn check(data: &[u8], meta: &ParquetMetaData, read: &[bool], budget: u64) -> Result<(), String> {
    for (g, rg) in meta.row_groups().iter().enumerate() {
        let (mut cost, mut most, mut costliest) = (0u64, 0u64, String::new());
        for (leaf, col) in rg.columns().iter().enumerate() {
            if !read.get(leaf).copied().unwrap_or(false) {
                continue;
            }
            let name = col.column_path().string();
            let start = col.dictionary_page_offset().unwrap_or(col.data_page_offset());
            let (Ok(start), Ok(len)) = (u64::try_from(start), u64::try_from(col.compressed_size())) else {
                return Err(format!("row group {g}, column {name}: a negative offset or size"));
            };
            let end = start.checked_add(len).filter(|&e| e <= data.len() as u64);
            let Some(end) = end else {
                return Err(format!("row group {g}, column {name}: its pages run past the end of the file"));
            };
            let repeated = col.column_descr().max_rep_level() > 0;
            let this = chunk_cost(&data[..end as usize], start as usize, repeated)
                .map_err(|why| format!("row group {g}, column {name}: {why}"))?;
            cost = cost.saturating_add(this);
            if this > most {
                (most, costliest) = (this, name);
            }
        }
        if cost > budget {
            return Err(format!(
                "row group {g}: its pages would take {cost} bytes to decode (most in column {costliest}), more than the {budget} allowed (the --max-input-size cap, or 64 times the file when more)"
            ));
        }
    }
    Ok(())
}

/// What decoding one column chunk (the pages from `pos` to the end of `chunk`) holds at most at once.
fn chunk_cost(chunk: &[u8], mut pos: usize, repeated: bool) -> Result<u64, String> {
    let (mut dictionary, mut largest, mut values) = (0u64, 0u64, 0u64);
    while pos < chunk.len() {
        let mut c = Compact { b: chunk, pos };
        let h = page_header(&mut c).ok_or("a page header that cannot be read")?;
        let (Ok(size), Ok(stored), Ok(n)) =
            (u64::try_from(h.uncompressed), usize::try_from(h.compressed), u64::try_from(h.num_values))
        else {
            return Err("a page header with a negative size or count".into());
        };
        if h.encoding == DELTA_BYTE_ARRAY {
            return Err("delta-encoded strings, which trailhound export never writes".into());
        }
        if h.kind == DICTIONARY_PAGE {
            dictionary = dictionary.saturating_add(size);
        } else {
            largest = largest.max(size);
            values = values.saturating_add(n);
        }
        pos = c.pos.checked_add(stored).ok_or("a page header with an impossible size")?;
    }
    // A batch holds 4,096 rows of a plain column, but every entry of a list may belong to one row: a
    // repeated column counts all of its entries.
    let entries = if repeated { values } else { BATCH_ROWS };
    Ok(dictionary.saturating_add(largest).saturating_add(entries.saturating_mul(VALUE_BYTES)))
}

const DICTIONARY_PAGE: i64 = 2;

/// The fields of a page header read here (-1 when absent).
struct Header {
    kind: i64,
    uncompressed: i64,
    compressed: i64,
    num_values: i64,
    encoding: i64,
}

/// `PageHeader`: 1 type, 2 uncompressed size, 3 compressed size; 5 data page, 7 dictionary page and
/// 8 data page v2 headers, whose value count is field 1 and encoding field 2 (4 in v2).
fn page_header(c: &mut Compact<'_>) -> Option<Header> {
    let mut h = Header { kind: -1, uncompressed: -1, compressed: -1, num_values: 0, encoding: -1 };
    let mut last = 0i16;
    while let Some((id, ty)) = c.field(&mut last)? {
        match (id, ty) {
            (1, I32) => h.kind = c.int()?,
            (2, I32) => h.uncompressed = c.int()?,
            (3, I32) => h.compressed = c.int()?,
            (5 | 7 | 8, STRUCT) => {
                let encoding_field = if id == 8 { 4 } else { 2 };
                let mut inner = 0i16;
                while let Some((f, t)) = c.field(&mut inner)? {
                    match (f, t) {
                        (1, I32) => h.num_values = c.int()?,
                        (f, I32) if f == encoding_field => h.encoding = c.int()?,
                        _ => c.skip(t, 1)?,
                    }
                }
            }
            _ => c.skip(ty, 0)?,
        }
    }
    (h.kind >= 0 && h.uncompressed >= 0 && h.compressed >= 0).then_some(h)
}

const I32: u8 = 5;
const STRUCT: u8 = 12;

/// A Thrift compact-protocol reader over `b` from `pos`; every read is checked against the end.
struct Compact<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Compact<'_> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// A zigzag-encoded integer.
    fn int(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// The next field's id and type, or `None` inside `Some` at the struct's end.
    fn field(&mut self, last: &mut i16) -> Option<Option<(i16, u8)>> {
        let b = self.byte()?;
        if b == 0 {
            return Some(None);
        }
        let (delta, ty) = (b >> 4, b & 0x0f);
        let id = if delta == 0 { i16::try_from(self.int()?).ok()? } else { last.checked_add(i16::from(delta))? };
        *last = id;
        Some(Some((id, ty)))
    }

    fn advance(&mut self, n: u64) -> Option<()> {
        let end = self.pos.checked_add(usize::try_from(n).ok()?)?;
        (end <= self.b.len()).then(|| self.pos = end)
    }

    /// Skips a value of type `ty`.
    fn skip(&mut self, ty: u8, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match ty {
            1 | 2 => Some(()),
            3 => self.advance(1),
            4..=6 => self.varint().map(drop),
            7 => self.advance(8),
            8 => {
                let n = self.varint()?;
                self.advance(n)
            }
            9 | 10 => {
                let head = self.byte()?;
                let n = match head >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                self.skip_n(head & 0x0f, n, depth)
            }
            11 => {
                let n = self.varint()?;
                if n == 0 {
                    return Some(());
                }
                let kinds = self.byte()?;
                if n > (self.b.len() - self.pos) as u64 {
                    return None;
                }
                for _ in 0..n {
                    self.element(kinds >> 4, depth)?;
                    self.element(kinds & 0x0f, depth)?;
                }
                Some(())
            }
            STRUCT => {
                let mut last = 0i16;
                while let Some((_, t)) = self.field(&mut last)? {
                    self.skip(t, depth + 1)?;
                }
                Some(())
            }
            _ => None,
        }
    }

    /// Skips `n` elements of type `ty`. Each takes at least a byte, so a count larger than what is
    /// left fails at once.
    fn skip_n(&mut self, ty: u8, n: u64, depth: u32) -> Option<()> {
        if n > (self.b.len() - self.pos) as u64 {
            return None;
        }
        for _ in 0..n {
            self.element(ty, depth)?;
        }
        Some(())
    }

    /// Skips one element of a list, set or map: a boolean there is a byte of its own (in a field it
    /// is in the field's header), and every element moves on by at least a byte, so no count of them
    /// can spin in place.
    fn element(&mut self, ty: u8, depth: u32) -> Option<()> {
        let at = self.pos;
        match ty {
            1 | 2 => self.advance(1)?,
            t => self.skip(t, depth + 1)?,
        }
        (self.pos > at).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact `PageHeader` with a data page header (v1) of `n` values in `encoding`.
    fn header(kind: i64, size: i64, stored: i64, n: i64, encoding: i64) -> Vec<u8> {
        fn zz(v: i64, out: &mut Vec<u8>) {
            let mut u = ((v << 1) ^ (v >> 63)) as u64;
            loop {
                let b = (u & 0x7f) as u8;
                u >>= 7;
                out.push(if u == 0 { b } else { b | 0x80 });
                if u == 0 {
                    break;
                }
            }
        }
        let mut out = Vec::new();
        for v in [kind, size, stored] {
            out.push(0x10 | I32);
            zz(v, &mut out);
        }
        out.push(0x20 | STRUCT); // field 5: 3 + 2
        out.push(0x10 | I32);
        zz(n, &mut out);
        out.push(0x10 | I32);
        zz(encoding, &mut out);
        // Statistics (field 5 of the data page header): a struct with one binary, skipped.
        out.push(0x30 | STRUCT);
        out.extend([0x10 | 8, 3, b'a', b'b', b'c', 0]);
        out.push(0); // end of the data page header
        out.push(0); // end of the page header
        out
    }

    #[test]
    fn headers_are_read_and_their_sizes_counted() {
        let mut chunk = header(0, 1000, 4, 10, 0);
        chunk.extend([0u8; 4]);
        let mut c = Compact { b: &chunk, pos: 0 };
        let h = page_header(&mut c).unwrap();
        assert_eq!((h.kind, h.uncompressed, h.compressed, h.num_values, h.encoding), (0, 1000, 4, 10, 0));
        assert_eq!(chunk_cost(&chunk, 0, false), Ok(1000 + BATCH_ROWS * VALUE_BYTES));
        // Two pages: the larger page, and a batch's values (a plain column) or every entry (a list).
        let mut two = chunk.clone();
        two.extend(header(0, 3000, 0, 1_000_000, 0));
        assert_eq!(chunk_cost(&two, 0, false), Ok(3000 + BATCH_ROWS * VALUE_BYTES));
        assert_eq!(chunk_cost(&two, 0, true), Ok(3000 + 1_000_010 * VALUE_BYTES));
    }

    #[test]
    fn any_bytes_are_read_or_refused_without_a_panic() {
        // A small xorshift generator: random headers, and valid ones with random bytes changed.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let valid = header(0, 1000, 4, 10, 0);
        for round in 0..1_000_000 {
            let len = (next() % 48) as usize;
            let mut b: Vec<u8> = if round % 2 == 0 {
                (0..len).map(|_| next() as u8).collect()
            } else {
                let mut v = valid.clone();
                let at = (next() as usize) % v.len();
                v[at] = next() as u8;
                v
            };
            b.extend([0u8; 4]);
            let _ = chunk_cost(&b, 0, round % 3 == 0);
        }
    }

    #[test]
    fn lying_or_cut_headers_are_refused_not_trusted() {
        let delta = header(0, 10, 0, 1, DELTA_BYTE_ARRAY);
        assert!(chunk_cost(&delta, 0, false).unwrap_err().contains("delta-encoded"));
        let negative = header(0, -5, 0, 1, 0);
        assert!(chunk_cost(&negative, 0, false).is_err());
        let whole = header(0, 10, 0, 1, 0);
        for cut in 1..whole.len() {
            assert!(chunk_cost(&whole[..cut], 0, false).is_err(), "cut at {cut}");
        }
        // A map of 2^62 booleans (each a byte of its own): refused, not spun through in place.
        let mut c = Compact { b: &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x11, 0, 0], pos: 0 };
        assert_eq!(c.skip(11, 0), None);
        // A list claiming more elements than bytes left, and nesting past the limit.
        let mut c = Compact { b: &[0xf9, 0xff, 0xff, 0xff, 0x0f], pos: 0 };
        assert_eq!(c.skip(9, 0), None);
        let deep = [0x1c; 64];
        let mut c = Compact { b: &deep, pos: 0 };
        assert_eq!(c.skip(STRUCT, 0), None);
    }
}
