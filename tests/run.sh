#!/usr/bin/env bash
# The whole test suite, from a fresh checkout: installs moto's server in a private virtualenv, starts
# it (AWS tests talk to it over real HTTP), builds in the debug profile and runs every test binary.
# Tests on ../shared/corpora run when that folder exists and are required under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null; then
    echo "tests/run.sh: cargo is not installed; install the Rust toolchain (rustup) first" >&2
    exit 2
fi
venv=target/moto-venv
# Reinstalled whenever tests/requirements.txt changes (its copy in the venv says what is installed).
if ! cmp -s tests/requirements.txt "$venv/requirements.txt" || ! "$venv/bin/python" -c 'import moto, flask' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
    cp tests/requirements.txt "$venv/requirements.txt"
fi
# One server for the tests that change IAM and S3 freely, and two that enforce authorization after the
# exact number of set-up calls their test makes (a denied IAM call changes nothing; an S3 object denied
# by a bucket policy is reported). Ports are picked free by the OS.
port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p1=$(port); p2=$(port); p3=$(port); p4=$(port)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$p1" >target/moto.log 2>&1 &
m1=$!
INITIAL_NO_AUTH_ACTION_COUNT=4 "$venv/bin/moto_server" -H 127.0.0.1 -p "$p2" >target/moto-auth.log 2>&1 &
m2=$!
INITIAL_NO_AUTH_ACTION_COUNT=8 "$venv/bin/moto_server" -H 127.0.0.1 -p "$p3" >target/moto-s3auth.log 2>&1 &
m3=$!
# A second free server, playing IAM while the first plays S3 (service-specific endpoint variables).
"$venv/bin/moto_server" -H 127.0.0.1 -p "$p4" >target/moto-iam.log 2>&1 &
m4=$!
trap 'kill $m1 $m2 $m3 $m4 2>/dev/null || true' EXIT
for p in "$p1" "$p2" "$p3" "$p4"; do
    for _ in $(seq 100); do
        if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$p/moto-api/')" 2>/dev/null; then break; fi
        sleep 0.2
    done
done
export TRAILHOUND_TEST_MOTO="http://127.0.0.1:$p1"
export TRAILHOUND_TEST_MOTO_AUTH="http://127.0.0.1:$p2"
export TRAILHOUND_TEST_MOTO_S3AUTH="http://127.0.0.1:$p3"
export TRAILHOUND_TEST_MOTO_IAM="http://127.0.0.1:$p4"
# The scenario tests run the corpus generator: build the examples as programs first (as test targets
# they get hashed names).
cargo build --locked --examples
log=target/test-output.log
set +e
cargo test --locked --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
