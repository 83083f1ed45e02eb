#!/usr/bin/env bash
# Export benchmark. Usage: benches/export.sh [CORPUS_DIR] [SIZE]
#   Builds trailhound and the corpus generator in release, generates SIZE (default 1GB) of synthetic
#   CloudTrail into CORPUS_DIR (default /tmp/trailhound-bench) unless it is there, then times, best of
#   BENCH_REPS (default 3): the plain scan (--no-detect), the scan with detection, and the export
#   to Parquet; prints MB/s of decompressed JSON in and rows/s for each, the Parquet size against the
#   gzipped JSON, and the bytes an Athena query reads from each table (benches/export_scanned.py).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp/trailhound-bench}"
size="${2:-1GB}"
reps="${BENCH_REPS:-3}"
cargo build --release --bin trailhound --example gen_corpus
if [ ! -f "$dir/ground_truth.json" ]; then
    target/release/examples/gen_corpus --out "$dir" --size "$size" --seed 42
fi
bin=target/release/trailhound
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
best() { # best wall time in seconds of "$@" over $reps runs
    local b=""
    for _ in $(seq "$reps"); do
        rm -rf "$out/export"
        local s e
        s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N)
        b=$(python3 -c "import sys; t=$e-$s; b='$b'; print(t if b=='' else min(t,float(b)))")
    done
    echo "$b"
}
"$bin" scan "$dir" --no-detect -q --summary "$out/summary.json"
read -r decompressed records gz < <(python3 -c "import json; s=json.load(open('$out/summary.json')); print(s['bytes_decompressed'], s['records'], s['bytes_compressed'])")
t_plain=$(best "$bin" scan "$dir" --no-detect -q)
t_detect=$(best "$bin" scan "$dir" -q --format json)
t_export=$(best "$bin" export "$dir" --to "$out/export" -q)
rm -rf "$out/export"
"$bin" export "$dir" --to "$out/export" -q --summary "$out/export-summary.json"
python3 - "$decompressed" "$records" "$gz" "$t_plain" "$t_detect" "$t_export" "$out/export-summary.json" <<'PY'
import json, sys
dec, rec, gz = (int(x) for x in sys.argv[1:4])
tp, td, te = (float(x) for x in sys.argv[4:7])
ex = json.load(open(sys.argv[7]))["export"]
print(f"input: {dec/1e6:.0f} MB decompressed JSON ({gz/1e6:.0f} MB gzipped), {rec} records")
for name, t in [("scan --no-detect", tp), ("scan (detection)", td), ("export", te)]:
    print(f"{name:18} {t:6.2f} s  {dec/1e6/t:7.0f} MB/s JSON in  {rec/t:10.0f} rows/s")
print(f"export / plain scan rate: {tp/te:.2f}; export / scan with detection: {td/te:.2f}")
print(f"Parquet: {ex['bytes']/1e6:.1f} MB in {len(ex['files'])} files, {ex['row_groups']} row groups: "
      f"{ex['bytes']/gz:.2f} x the gzipped JSON")
PY
py=python3
for p in target/moto-venv/bin/python target/bench-venv/bin/python; do
    if [ -x "$p" ] && "$p" -c 'import duckdb' 2>/dev/null; then py=$p; break; fi
done
"$py" benches/export_scanned.py "$out/export" "$gz"
