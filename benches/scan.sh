#!/usr/bin/env bash
# Whole-scan benchmark. Usage: benches/scan.sh [DIR] [SIZE]
#   Builds trailhound and the corpus generator in release, generates two corpus shapes under DIR
#   (default target/bench-corpora) unless they are there: DIR/mixed, SIZE (default 1GB) of the mixed
#   background (`gen_corpus --size SIZE --seed 42`), and DIR/lambda, a week of a Lambda-heavy trail
#   (`gen_corpus --shape lambda-heavy --hours 168 --seed 42`: four busy functions, thousands of keys
#   each, each key from its own Lambda egress address). Then runs benches/bench.py on both:
#   trailhound with and without detection, one zcat stream and a two-process Python scan, alternating,
#   with medians and per-repetition ratios. BENCH_REPS=N sets the repetitions (default 5);
#   BENCH_DUCKDB=1 adds DuckDB's read_json (installed into target/bench-venv when it can be).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-target/bench-corpora}"
size="${2:-1GB}"
cargo build --release --bin trailhound --example gen_corpus
if [ ! -f "$dir/mixed/ground_truth.json" ]; then
    target/release/examples/gen_corpus --out "$dir/mixed" --size "$size" --seed 42 --force
fi
if [ ! -f "$dir/lambda/ground_truth.json" ]; then
    target/release/examples/gen_corpus --out "$dir/lambda" --shape lambda-heavy --hours 168 --seed 42 --force
fi
py=python3
if [ "${BENCH_DUCKDB:-0}" = 1 ]; then
    if [ ! -x target/bench-venv/bin/python ]; then
        python3 -m venv target/bench-venv && target/bench-venv/bin/pip install -q duckdb ||
            echo "duckdb: could not be installed; comparing without it"
    fi
    if target/bench-venv/bin/python -c 'import duckdb' 2>/dev/null; then py=target/bench-venv/bin/python; fi
fi
"$py" benches/bench.py "$dir/mixed" "$dir/lambda"
