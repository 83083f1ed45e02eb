#!/usr/bin/env bash
# Whole-scan benchmark. Usage: benches/scan.sh [CORPUS_DIR] [SIZE]
#   Builds trailhound and the corpus generator in release, generates SIZE (default 1GB) of synthetic
#   CloudTrail into CORPUS_DIR (default /tmp/trailhound-bench) unless it is there, then runs
#   benches/bench.py: trailhound vs zcat vs two-process Python (vs DuckDB when its Python module is
#   installed). BENCH_REPS=N sets repetitions (best run is reported).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp/trailhound-bench}"
size="${2:-1GB}"
cargo build --release --bin trailhound --example gen_corpus
if [ ! -f "$dir/ground_truth.json" ]; then
    target/release/examples/gen_corpus --out "$dir" --size "$size" --seed 42
fi
# DuckDB is compared when its Python module can be installed into a private venv.
py=python3
if [ ! -x target/bench-venv/bin/python ]; then
    python3 -m venv target/bench-venv && target/bench-venv/bin/pip install -q duckdb || echo "duckdb: could not be installed; comparing without it"
fi
if target/bench-venv/bin/python -c 'import duckdb' 2>/dev/null; then py=target/bench-venv/bin/python; fi
"$py" benches/bench.py "$dir"
