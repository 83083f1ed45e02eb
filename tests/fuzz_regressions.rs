//! Replays the fuzzers' inputs under plain `cargo test` (CI runs these, not the fuzzer).
//!
//! Every file under tests/fuzz/regressions/<target>/ (inputs that once broke a check) and a fixed
//! sample of tests/fuzz/corpus/<target>/ go through the very functions the fuzz targets call
//! (tests/fuzz/src/lib.rs, compiled into this test), which panic on any broken invariant. Each input
//! must also finish in bounded time, and the whole replay in bounded memory.

#[path = "fuzz/src/lib.rs"]
mod checks;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Corpus files replayed per target: enough to cover every format, few enough for a debug build.
const CORPUS_SAMPLE: usize = 48;
/// Slowest acceptable input in a debug build: catches hangs and quadratic blowups (before the
/// decompression-bomb fix, regressions/decode_container/isize-claims-1gib.gz took 25 s: the decoder
/// zeroed the 1 GiB its 87-byte file's trailer claimed).
const MAX_INPUT_TIME: Duration = Duration::from_secs(10);
/// Peak resident memory of this test process: no input may drive an allocation by what it claims
/// (regressions/decode_container/isize-claims-1gib.gz once took 1 GiB).
const MAX_PEAK_RSS: u64 = 256 << 20;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fuzz")
}

/// The files of `dir`, sorted by name; a missing or empty folder fails the test.
fn files(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut out: Vec<PathBuf> =
        entries.map(|e| e.expect("readable folder entry").path()).filter(|p| p.is_file()).collect();
    out.sort();
    assert!(!out.is_empty(), "{} holds no inputs", dir.display());
    out
}

/// Every `n`-th file so that about `want` remain, always the same ones for the same corpus.
fn sample(all: Vec<PathBuf>, want: usize) -> Vec<PathBuf> {
    let step = all.len().div_ceil(want).max(1);
    all.into_iter().step_by(step).collect()
}

/// Peak resident set size of this process (Linux `VmHWM`).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

#[test]
fn fuzz_regressions_replay_every_committed_input_and_a_corpus_sample() {
    let root = fuzz_dir();
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (target, check) in checks::TARGETS {
        let regressions = files(&root.join("regressions").join(target));
        let corpus = sample(files(&root.join("corpus").join(target)), CORPUS_SAMPLE);
        for path in regressions.iter().chain(&corpus) {
            let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let start = Instant::now();
            let outcome = std::panic::catch_unwind(|| check(&data));
            let took = start.elapsed();
            replayed += 1;
            if outcome.is_err() {
                failures.push(format!("{target}: {} broke a check (message above)", path.display()));
            } else if took > MAX_INPUT_TIME {
                failures.push(format!("{target}: {} took {took:?}", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {replayed} inputs failed:\n{}", failures.len(), failures.join("\n"));
    if cfg!(target_os = "linux") {
        let peak = peak_rss().expect("VmHWM in /proc/self/status");
        assert!(peak <= MAX_PEAK_RSS, "peak memory {} MiB replaying the fuzz inputs", peak >> 20);
    }
}

#[test]
fn fuzz_regressions_folder_covers_every_fuzz_target() {
    let root = fuzz_dir();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("tests/fuzz/Cargo.toml");
    let declared = manifest.matches("[[bin]]").count();
    assert_eq!(declared, checks::TARGETS.len(), "every fuzz target is replayed here");
    for (target, _) in checks::TARGETS {
        assert!(manifest.contains(&format!("fuzz_targets/{target}.rs")), "{target} is not a fuzz target");
        assert!(!files(&root.join("regressions").join(target)).is_empty());
    }
}
