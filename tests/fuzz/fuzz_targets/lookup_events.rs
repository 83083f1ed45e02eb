//! Fuzz target `lookup_events`: see [`trailhound_fuzz::lookup_events`] for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trailhound_fuzz::lookup_events(data));
