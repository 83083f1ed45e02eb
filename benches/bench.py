"""Whole-scan benchmark: trailhound (with and without detection) against one zcat stream and a two-process
Python scan (and DuckDB when BENCH_DUCKDB=1 and its module is installed; another build of trailhound with BENCH_BASELINE=PATH), on
one or more corpora.

Usage: python3 benches/bench.py [--reps N] CORPUS_DIR [CORPUS_DIR...]   (benches/scan.sh builds and
generates the corpora first). Every contender runs in turn within each repetition (A B C D, A B C D,
...) in this one process tree, so a machine shared with other work slows them alike; the ratios are
taken within each repetition and their median printed, beside the median times, the CPU time and the
peak RSS (of the contender's whole process tree, from wait4). A last run scans the first half of the
files only, to show whether peak memory grows with the bytes scanned."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TH = os.path.join(ROOT, "target/release/trailhound")


def run(cmd, shell=False, stdout=subprocess.DEVNULL, ok=(0,)):
    """Runs a command: (wall seconds, CPU seconds, peak RSS in MB of its process tree, stdout)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, shell=shell, stdout=stdout)
    out = p.stdout.read().decode() if p.stdout else ""
    _, status, usage = os.wait4(p.pid, 0)
    secs = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        sys.exit(f"benchmark command failed ({code}): {cmd}")
    return secs, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def contenders(corpus, listing, summary):
    logs = os.path.join(corpus, "AWSLogs")
    # trailhound exits 1 when it reports findings.
    c = {
        "trailhound scan (detection on)": dict(
            cmd=[TH, "scan", logs, "-q", "--format", "ndjson", "--summary", summary], ok=(0, 1)
        ),
        "trailhound scan --no-detect": dict(cmd=[TH, "scan", logs, "-q", "--no-detect"]),
        "zcat, one stream": dict(cmd=f"xargs cat < {listing} | zcat > /dev/null", shell=True),
        "python gzip+json, 2 processes": dict(
            cmd=[sys.executable, os.path.join(ROOT, "benches/py_scan.py"), listing], stdout=subprocess.PIPE
        ),
    }
    # Another build of trailhound to compare with (say, the main branch's), in the same alternation.
    base = os.environ.get("BENCH_BASELINE")
    if base:
        c["baseline build (detection on)"] = dict(cmd=[base, "scan", logs, "-q", "--format", "ndjson"], ok=(0, 1))
    if os.environ.get("BENCH_DUCKDB") == "1":
        try:
            import duckdb  # noqa: F401

            # Declaring Records as JSON[] avoids DuckDB's schema inference, which runs out of memory on
            # CloudTrail's nested records; the query touches the same fields as the Python baseline.
            glob = f"{logs}/**/*.json.gz"
            q = (
                "SELECT count(*), count(r->>'$.userIdentity.accessKeyId'), count(r->>'$.sourceIPAddress') FROM "
                f"(SELECT unnest(Records) AS r FROM read_json('{glob}', columns={{'Records': 'JSON[]'}}, "
                "maximum_object_size=16777216))"
            )
            code = (
                "import duckdb; c = duckdb.connect(); c.execute('SET preserve_insertion_order=false'); "
                f"c.execute('SET enable_progress_bar=false'); print(c.execute({q!r}).fetchall())"
            )
            c["duckdb read_json"] = dict(cmd=[sys.executable, "-c", code])
        except ImportError:
            print("duckdb: not installed here (pip install duckdb to compare)")
    return c


RATIOS = [
    ("trailhound / zcat", "trailhound scan (detection on)", "zcat, one stream", ">= 4x"),
    ("trailhound / python (2 procs)", "trailhound scan (detection on)", "python gzip+json, 2 processes", ">= 10x"),
    ("trailhound / duckdb", "trailhound scan (detection on)", "duckdb read_json", ""),
    ("trailhound / baseline build", "trailhound scan (detection on)", "baseline build (detection on)", ""),
    ("detection time / --no-detect", "trailhound scan --no-detect", "trailhound scan (detection on)", "<= 1.10x"),
]


def bench(corpus, reps):
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(corpus) for f in fs if f.endswith(".json.gz"))
    if not files:
        sys.exit(f"no .json.gz files under {corpus}")
    listing = os.path.join("/tmp", f"trailhound-bench-{os.getpid()}-files.txt")
    with open(listing, "w") as f:
        f.write("\n".join(files) + "\n")
    summary = os.path.join("/tmp", f"trailhound-bench-{os.getpid()}-summary.json")
    compressed = sum(os.path.getsize(f) for f in files)
    # Warm the page cache, so every contender reads from memory.
    run(f"xargs cat < {listing} > /dev/null", shell=True)
    cs = contenders(corpus, listing, summary)
    times = {n: [] for n in cs}
    cpu = {n: [] for n in cs}
    rss = {n: 0.0 for n in cs}
    outs = {}
    for _ in range(reps):
        for name, c in cs.items():
            secs, used, peak, out = run(c["cmd"], shell=c.get("shell", False), stdout=c.get("stdout", subprocess.DEVNULL), ok=c.get("ok", (0,)))
            times[name].append(secs)
            cpu[name].append(used)
            rss[name] = max(rss[name], peak)
            outs[name] = out
    s = json.load(open(summary))
    total, records = s["bytes_decompressed"], s["records"]
    py = json.loads(outs["python gzip+json, 2 processes"])
    if py["records"] != records + s["duplicates"]:
        print(f"warning: python saw {py['records']} records, trailhound {records} (+{s['duplicates']} duplicates)")
    # Peak memory against bytes scanned: the first half of the files, then all of them (above).
    half = files[: len(files) // 2]
    _, _, half_rss, _ = run([TH, "scan", *half, "-q", "--format", "ndjson"], ok=(0, 1))
    os.unlink(listing)
    os.unlink(summary)

    mb = total / 1e6
    print(f"\ncorpus {corpus}: {len(files)} files, {records} records, {compressed / 1e6:.0f} MB gzipped, {mb:.0f} MB of JSON")
    print(f"{reps} repetitions, contenders alternating; medians:")
    print(f"{'contender':<34} {'seconds':>8} {'MB/s':>8} {'CPU s':>7} {'MB/CPU s':>9} {'peak RSS MB':>12}")
    for name in cs:
        t, u = statistics.median(times[name]), statistics.median(cpu[name])
        print(f"{name:<34} {t:8.2f} {mb / t:8.0f} {u:7.2f} {mb / u:9.0f} {rss[name]:12.0f}")
    print()
    result = {"corpus": corpus, "mb": mb, "records": records}
    for label, num, den, goal in RATIOS:
        if num not in times or den not in times:
            continue
        # Within each repetition: the speed of `num` over that of `den` (time of den / time of num); for
        # detection, the time with it over the time without.
        pairs = [d / n for n, d in zip(times[num], times[den])]
        r = statistics.median(pairs)
        result[label] = r
        print(f"{label:<32} {r:6.2f}x  (per repetition: {', '.join(f'{p:.2f}' for p in pairs)}){'  goal ' + goal if goal else ''}")
    full = rss["trailhound scan (detection on)"]
    print(f"peak RSS, detection on: {half_rss:.0f} MB for the first half of the files, {full:.0f} MB for all")
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", "5")))
    ap.add_argument("corpora", nargs="+")
    args = ap.parse_args()
    if not os.access(TH, os.X_OK):
        sys.exit(f"{TH} not found: cargo build --release first (benches/scan.sh does)")
    for corpus in args.corpora:
        bench(corpus, args.reps)


if __name__ == "__main__":
    main()
