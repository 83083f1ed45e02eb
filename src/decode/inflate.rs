//! Gzip inflation with bounded memory, whatever the input claims.
//!
//! The gzip trailer (ISIZE) and zip headers are written by whoever made the file: they size nothing
//! until they are shown plausible, and no input's content may grow past the `--max-input-size` cap.
//! Normal CloudTrail files (tens of MB at most) keep the one-shot libdeflate path, which is about twice
//! as fast as streaming zlib; everything else streams through flate2 in steps.

use std::io::Read;
use std::sync::{Mutex, MutexGuard};

/// Default cap on the decompressed size of one input (`--max-input-size`). The whole content of an
/// input is held while it is parsed, so this bounds one worker's buffer; CloudTrail writes files of
/// tens of MB, so only exports and bombs come near it.
pub const DEFAULT_MAX_INPUT: u64 = 1 << 30;

/// An input's cap as options give it: 0 means [`DEFAULT_MAX_INPUT`].
pub fn max_input(asked: u64) -> u64 {
    if asked == 0 { DEFAULT_MAX_INPUT } else { asked }
}

/// Largest size, claimed by a trailer, that the one-shot inflater sizes a buffer for.
const ONE_SHOT_MAX: usize = 128 << 20;

/// Largest ratio of claimed to compressed size the one-shot path believes. Deflate reaches 1032:1 on
/// zeros, but JSON logs compress 5-30:1; above this the file streams (same result, bounded steps), so a
/// small file with a lying trailer costs at most a buffer of 64 times its size.
const FAST_RATIO: usize = 64;

/// Content inflated before the first look at what it is: a bomb of binary data stops here.
const SNIFF: usize = 64 << 10;

/// Step by which the streaming buffer grows.
const STEP: usize = 1 << 20;

/// Past this size, a worker's buffer is held by one worker at a time: two bombs on two workers
/// cannot each hold a full cap, so peak memory stays near `threads * SOLO + cap`.
const SOLO: usize = 256 << 20;
static SOLO_LOCK: Mutex<()> = Mutex::new(());

/// What streaming inflation produced in the caller's buffer.
#[derive(Default)]
pub struct Inflated {
    /// The stream broke (truncated, corrupt, trailing bytes): what was inflated before stays.
    pub broken: Option<String>,
    /// The content went on past the cap: the buffer holds the first `cap` bytes.
    pub over_cap: bool,
    /// The first bytes were binary: inflation stopped there.
    pub binary: bool,
    /// Held while a buffer larger than [`SOLO`] is alive: drop it after the content is parsed.
    pub solo: Option<MutexGuard<'static, ()>>,
}

/// libdeflate's one-shot decompressor, reused from one input to the next.
///
/// Called through `libdeflate-sys` for `gzip_decompress_ex`, which says how much input the first
/// gzip member used: without it (the `libdeflater` wrapper lacks it), telling a one-member file from
/// a concatenation took a second CRC-32 pass over the whole output.
pub struct Inflater(std::ptr::NonNull<libdeflate_sys::libdeflate_decompressor>);

// SAFETY: a decompressor is plain heap state without thread affinity; `&mut self` serializes its use.
unsafe impl Send for Inflater {}

impl Default for Inflater {
    fn default() -> Self {
        // SAFETY: no arguments; the result is null only when memory is exhausted.
        let p = unsafe { libdeflate_sys::libdeflate_alloc_decompressor() };
        match std::ptr::NonNull::new(p) {
            Some(p) => Inflater(p),
            None => std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u8; 1 << 15]>()),
        }
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor, freed once.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

impl Inflater {
    /// Inflates the first gzip member of `input` into `out`, checking its CRC-32 and size:
    /// `(input bytes it used, bytes written)`, or `None` when it is corrupt or does not fit.
    pub fn gzip_member(&mut self, input: &[u8], out: &mut [u8]) -> Option<(usize, usize)> {
        let (mut used, mut written) = (0usize, 0usize);
        // SAFETY: the pointers and lengths come from live slices, and libdeflate writes at most
        // `out.len()` bytes; with the two counts asked for, a shorter output is a success.
        let r = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut used,
                &mut written,
            )
        };
        (r == libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS && used <= input.len() && written <= out.len())
            .then_some((used, written))
    }
}

/// Inflates a single-member gzip file in one call when its trailer is plausible and small. `None`
/// when the input is not that simple (several members, truncated, corrupt, large, a lying trailer):
/// the caller then streams it.
pub fn inflate_fast(bytes: &[u8], buf: &mut Vec<u8>, inflater: &mut Inflater, cap: u64) -> Option<usize> {
    let trailer = bytes.len().checked_sub(8).map(|at| &bytes[at..])?;
    let isize = u32::from_le_bytes(trailer[4..8].try_into().ok()?) as usize;
    if isize > ONE_SHOT_MAX || isize as u64 > cap || isize > bytes.len().saturating_mul(FAST_RATIO) {
        return None;
    }
    if buf.len() < isize {
        buf.resize(isize, 0);
    }
    // libdeflate stops after the first member, having checked its CRC-32 and size: when it used
    // every input byte, that member was the whole file.
    let (used, n) = inflater.gzip_member(bytes, &mut buf[..isize])?;
    (used == bytes.len() && n == isize).then_some(n)
}

/// Streams every member of a gzip file into `buf` (cleared first), at most `cap` bytes, in steps.
pub fn inflate_stream(bytes: &[u8], buf: &mut Vec<u8>, cap: u64, looks_binary: fn(&[u8]) -> bool) -> Inflated {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut out = Inflated::default();
    buf.clear();
    let mut dec = flate2::bufread::MultiGzDecoder::new(bytes);
    let mut sniffed = false;
    loop {
        if buf.len() >= cap {
            let mut probe = [0u8; 1];
            match dec.read(&mut probe) {
                Ok(0) => {}
                Ok(_) => out.over_cap = true,
                Err(e) => out.broken = Some(format!("gzip stream broken after {} bytes: {e}", buf.len())),
            }
            break;
        }
        if buf.len() >= SOLO && out.solo.is_none() {
            // A panic elsewhere while holding the lock leaves nothing to repair: take it anyway.
            out.solo = Some(SOLO_LOCK.lock().unwrap_or_else(|e| e.into_inner()));
        }
        let len = buf.len();
        let step = STEP.min(cap - len);
        if buf.capacity() - len < step {
            // Double as usual, but never past the cap: a capped input holds `cap` bytes, not twice that.
            let target = (buf.capacity() * 2).max(len + step).min(cap);
            buf.reserve_exact(target - len);
        }
        // read_to_end keeps what it read before an error: parse that much.
        match dec.by_ref().take(step as u64).read_to_end(buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                out.broken = Some(format!("gzip stream broken after {} bytes: {e}", buf.len()));
                break;
            }
        }
        if !sniffed && buf.len() >= SNIFF {
            sniffed = true;
            if looks_binary(buf) {
                out.binary = true;
                break;
            }
        }
    }
    out
}

/// How much of a zip member [`read_capped`] read.
#[derive(Debug, PartialEq, Eq)]
pub enum Member {
    /// All of it.
    Whole,
    /// The first `cap` bytes: it goes on past the cap.
    OverCap,
    /// Its first bytes only: they are binary, so the rest is not worth inflating.
    Binary,
}

/// Reads a zip member into `buf` (cleared first), at most `cap` bytes: its header's sizes are the
/// archive maker's claim, not trusted.
pub fn read_capped(
    mut r: impl Read,
    buf: &mut Vec<u8>,
    cap: u64,
    looks_binary: fn(&[u8]) -> bool,
) -> std::io::Result<Member> {
    buf.clear();
    let head = cap.min(SNIFF as u64);
    r.by_ref().take(head).read_to_end(buf)?;
    // A gzip member is binary too, and must be read whole to be inflated in turn.
    if buf.len() as u64 == head && !buf.starts_with(&[0x1f, 0x8b]) && looks_binary(buf) {
        return Ok(Member::Binary);
    }
    r.by_ref().take(cap - buf.len() as u64).read_to_end(buf)?;
    let mut probe = [0u8; 1];
    Ok(if r.read(&mut probe)? > 0 { Member::OverCap } else { Member::Whole })
}

/// A cap in words, for reasons: `1 GiB`, `512 MiB`, `1000 bytes`.
pub fn human_size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_lying_trailer_sizes_no_buffer() {
        let mut g = gzip(br#"{"Records":[]}"#);
        let at = g.len() - 4;
        g[at..].copy_from_slice(&(1u32 << 30).to_le_bytes());
        let mut buf = Vec::new();
        let mut inflater = Inflater::default();
        assert_eq!(inflate_fast(&g, &mut buf, &mut inflater, DEFAULT_MAX_INPUT), None);
        assert!(buf.capacity() < 1 << 20, "{}", buf.capacity());
        let out = inflate_stream(&g, &mut buf, DEFAULT_MAX_INPUT, |_| false);
        assert_eq!(buf, br#"{"Records":[]}"#);
        assert!(out.broken.is_some() && !out.over_cap);
        assert!(buf.capacity() < 2 << 20, "{}", buf.capacity());
    }

    #[test]
    fn only_a_one_member_file_takes_the_one_shot_path() {
        let mut inflater = Inflater::default();
        let mut buf = Vec::new();
        let one = gzip(br#"{"Records":[1]}"#);
        assert_eq!(inflate_fast(&one, &mut buf, &mut inflater, DEFAULT_MAX_INPUT), Some(15));
        assert_eq!(&buf[..15], br#"{"Records":[1]}"#);
        // Two members whose last trailer happens to give the total size, and one followed by an
        // empty member (same size, other CRC): both stream, so no member is lost.
        for tail in [gzip(b""), gzip(br#"{"Records":[2]}"#)] {
            let mut two = gzip(br#"{"Records":[1]}"#);
            two.extend_from_slice(&tail);
            let at = two.len() - 4;
            two[at..].copy_from_slice(&(15u32 + 15 * u32::from(tail.len() > 20)).to_le_bytes());
            let mut buf = Vec::new();
            assert_eq!(inflate_fast(&two, &mut buf, &mut inflater, DEFAULT_MAX_INPUT), None);
        }
        // A corrupt member (a flipped byte in its data) is refused, as is trailing garbage.
        let mut bad = one.clone();
        bad[12] ^= 0x55;
        assert_eq!(inflate_fast(&bad, &mut buf, &mut inflater, DEFAULT_MAX_INPUT), None);
        let mut trailing = one.clone();
        trailing.extend_from_slice(b"\0\0\0\0\x0f\0\0\0");
        assert_eq!(inflate_fast(&trailing, &mut buf, &mut inflater, DEFAULT_MAX_INPUT), None);
    }

    #[test]
    fn streaming_stops_at_the_cap_without_growing_past_it() {
        let g = gzip(&vec![b' '; 8 << 20]);
        let mut buf = Vec::new();
        let out = inflate_stream(&g, &mut buf, 3 << 20, |_| false);
        assert!(out.over_cap && out.broken.is_none());
        assert_eq!(buf.len(), 3 << 20);
        assert!(buf.capacity() <= 3 << 20, "{}", buf.capacity());
        assert_eq!(human_size(3 << 20), "3 MiB");
    }
}
