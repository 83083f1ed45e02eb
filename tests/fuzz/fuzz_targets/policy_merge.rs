//! Fuzz target `policy_merge`: see [`trailhound_fuzz::policy_merge`] for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trailhound_fuzz::policy_merge(data));
