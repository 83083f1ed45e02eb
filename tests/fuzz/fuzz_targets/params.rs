//! Fuzz target `params`: see [`trailhound_fuzz::params`] for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trailhound_fuzz::params(data));
