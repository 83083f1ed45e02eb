"""Whole-scan benchmark: trailhound against zcat, a two-process Python scan and (when installed) DuckDB,
over the same generated CloudTrail corpus. Prints MB/s of decompressed JSON, records/s, peak RSS and the
ratios the performance targets name. Run through benches/scan.sh, which builds and generates first."""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, shell=False, stdout=subprocess.DEVNULL, ok=(0,)):
    """Runs a command, returning (seconds, peak RSS in MB of the whole process tree, stdout)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, shell=shell, stdout=stdout)
    _, status, usage = os.wait4(p.pid, 0)
    secs = time.perf_counter() - start
    out = p.stdout.read().decode() if p.stdout else ""
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in ok:
        sys.exit(f"benchmark command failed ({p.returncode}): {cmd}")
    return secs, usage.ru_maxrss / 1024, out


def best_of(n, cmd, **kw):
    runs = [run(cmd, **kw) for _ in range(n)]
    return min(runs, key=lambda r: r[0])


def main():
    corpus = sys.argv[1]
    reps = int(os.environ.get("BENCH_REPS", "3"))
    files = sorted(
        os.path.join(d, f) for d, _, fs in os.walk(corpus) for f in fs if f.endswith(".json.gz")
    )
    listing = "/tmp/trailhound-bench-files.txt"
    with open(listing, "w") as f:
        f.write("\n".join(files) + "\n")
    compressed = sum(os.path.getsize(f) for f in files)
    th = os.path.join(ROOT, "target/release/trailhound")
    logs = os.path.join(corpus, "AWSLogs")
    summary = "/tmp/trailhound-bench-summary.json"

    # Warm the page cache once, so every contender reads from memory.
    run(f"cat {listing} | xargs cat > /dev/null", shell=True)

    rows = []
    # trailhound exits 1 when it reports findings.
    secs, rss, _ = best_of(reps, [th, "scan", logs, "-q", "--format", "ndjson", "--summary", summary], ok=(0, 1))
    s = json.load(open(summary))
    total, records = s["bytes_decompressed"], s["records"]
    rows.append(("trailhound scan (detection on)", secs, rss))
    secs, rss, _ = best_of(reps, [th, "scan", logs, "-q", "--no-detect", "--summary", summary])
    rows.append(("trailhound scan --no-detect", secs, rss))
    secs, rss, _ = best_of(reps, f"cat {listing} | xargs cat | zcat > /dev/null", shell=True)
    rows.append(("zcat, one stream", secs, rss))
    secs, rss, out = best_of(
        max(1, reps - 1), [sys.executable, os.path.join(ROOT, "benches/py_scan.py"), listing], stdout=subprocess.PIPE
    )
    rows.append(("python gzip+json, 2 processes", secs, rss))
    py = json.loads(out)
    if py["records"] != records + s["duplicates"]:
        print(f"warning: python saw {py['records']} records, trailhound {records} (+{s['duplicates']} duplicates)")
    try:
        import duckdb  # noqa: F401

        # Declaring Records as JSON[] avoids DuckDB's schema inference, which runs out of memory on
        # CloudTrail's nested records; the query touches the same fields as the Python baseline.
        glob = f"{logs}/*/CloudTrail/*/*/*/*/*.json.gz"
        q = (
            "SELECT count(*), count(r->>'$.userIdentity.accessKeyId'), count(r->>'$.sourceIPAddress') FROM "
            f"(SELECT unnest(Records) AS r FROM read_json('{glob}', columns={{'Records': 'JSON[]'}}, maximum_object_size=16777216))"
        )
        code = (
            "import duckdb; c = duckdb.connect(); c.execute('SET preserve_insertion_order=false'); "
            f"c.execute('SET enable_progress_bar=false'); print(c.execute({q!r}).fetchall())"
        )
        secs, rss, _ = best_of(1, [sys.executable, "-c", code])
        rows.append(("duckdb read_json", secs, rss))
    except ImportError:
        print("duckdb: not installed here (pip install duckdb to compare)")

    mb = total / 1e6
    print(f"\ncorpus {corpus}: {len(files)} files, {records} records, {compressed/1e6:.0f} MB gzipped, {mb:.0f} MB of JSON")
    print(f"{'contender':<34} {'seconds':>8} {'MB/s':>8} {'records/s':>11} {'peak RSS MB':>12}")
    rate = {}
    for name, secs, rss in rows:
        rate[name] = mb / secs
        print(f"{name:<34} {secs:8.2f} {mb/secs:8.0f} {records/secs:11.0f} {rss:12.0f}")
    th_rate = rate["trailhound scan (detection on)"]
    print()
    print(f"trailhound / zcat:              {th_rate / rate['zcat, one stream']:.2f}x  (goal >= 3x)")
    print(f"trailhound / python (2 procs):  {th_rate / rate['python gzip+json, 2 processes']:.2f}x  (goal >= 3x)")
    if "duckdb read_json" in rate:
        print(f"trailhound / duckdb:            {th_rate / rate['duckdb read_json']:.2f}x  (goal >= 15x)")
    cost = rate["trailhound scan --no-detect"] / th_rate - 1
    print(f"detection cost over plain scan: {cost*100:+.1f}%  (goal <= 15%)")


if __name__ == "__main__":
    main()
