#!/usr/bin/env bash
# S3 path benchmark. Usage: benches/s3.sh [CORPUS_DIR] [LATENCY_MS] [CONCURRENCY]
#   Serves CORPUS_DIR (default /tmp/trailhound-bench, made by benches/scan.sh) as a bucket from a local
#   S3-compatible endpoint that adds LATENCY_MS (default 30) to every request, then scans it from disk
#   and from S3 (BENCH_REPS times each, default 3, after one warm-up run each; the best run counts) and
#   prints objects/s, MB/s and the ratio. The endpoint (examples/s3_endpoint.rs) runs on the same cores,
#   so it also costs CPU the local scan does not pay. A larger corpus shows the steady state better, as
#   the listing's few round trips are a fixed cost. The README's 4 GB row was made with
#   target/release/examples/gen_corpus --out /tmp/th-bench-4g --size 4GB --hours 72 --accounts 4 \
#       --regions us-east-1,eu-west-1,ap-southeast-2 --seed 7
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp/trailhound-bench}"
latency="${2:-30}"
conc="${3:-128}"
reps="${BENCH_REPS:-3}"
cargo build --release --bin trailhound --example s3_endpoint
[ -d "$dir/AWSLogs" ] || { echo "no corpus in $dir: run benches/scan.sh first" >&2; exit 2; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/examples/s3_endpoint "$dir" bench "$port" "$latency" &
srv=$!
trap 'kill $srv 2>/dev/null || true' EXIT
sleep 1
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
# Best of N seconds a command takes (exit 1 means findings, not failure), after one warm-up run.
best() {
    python3 - "$reps" "$@" <<'PY'
import subprocess, sys, time
reps, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for i in range(reps + 1):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
    if r > 1:
        sys.exit(f"failed: {r}")
    if i:
        times.append(time.perf_counter() - t)
print(min(times))
PY
}
local_s=$(best target/release/trailhound scan "$dir/AWSLogs" -q --summary /tmp/th-local.json)
s3_s=$(best target/release/trailhound scan "s3://bench/AWSLogs/" -q --endpoint-url "http://127.0.0.1:$port" \
    --s3-concurrency "$conc" --summary /tmp/th-s3.json)
python3 - "$local_s" "$s3_s" "$latency" "$conc" <<'PY'
import json, sys
l, s, lat, conc = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
a, b = json.load(open("/tmp/th-local.json")), json.load(open("/tmp/th-s3.json"))
assert a["records"] == b["records"], (a["records"], b["records"])
assert a["inputs_read"] == b["inputs_read"], (a["inputs_read"], b["inputs_read"])
n, mb = b["inputs_read"], b["bytes_decompressed"] / 1e6
print(f"{n} objects, {mb:.0f} MB of JSON, {b['bytes_compressed']/1e6:.0f} MB gzipped; S3 latency {lat} ms/request, concurrency {conc}")
print(f"local disk: {l:6.2f} s  {n/l:8.0f} objects/s  {mb/l:6.0f} MB/s")
print(f"S3 path:    {s:6.2f} s  {n/s:8.0f} objects/s  {mb/s:6.0f} MB/s")
print(f"S3 / local: {l/s*100:.0f}%  (goal >= 80%)")
PY
