//! Fuzz target `decode_container`: see [`trailhound_fuzz::decode_container`] for what it feeds and checks.
#![no_main]

/// Gzip trailers claiming more than this are skipped by the fuzzer (not by the regression test).
const CLAIM_SKIPPED: u32 = 64 << 20;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Known and reported (regressions/decode_container/isize-claims-1gib.gz): the decoder allocates and
    // zeroes whatever size a gzip trailer claims, up to 1 GiB, which takes seconds per input. A quarter
    // of random gzip inputs claim that much, so without this the fuzzer would spend its time in memset.
    let claim =
        data.len().checked_sub(4).map(|at| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]));
    if data.starts_with(&[0x1f, 0x8b]) && claim.is_some_and(|c| c > CLAIM_SKIPPED) {
        return;
    }
    trailhound_fuzz::decode_container(data)
});
