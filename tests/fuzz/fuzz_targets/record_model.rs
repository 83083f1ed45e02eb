//! Fuzz target `record_model`: see [`trailhound_fuzz::record_model`] for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trailhound_fuzz::record_model(data));
