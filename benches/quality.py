#!/usr/bin/env python3
"""Detection quality over every labelled corpus: recall, false positives per 10,000 benign keys,
first-seen accuracy.

Corpora: examples/gen_corpus scenario corpora (every scenario, a few seeds, scenarios only) and one
mixed into a background population, plus the real corpora in ../shared/corpora with the labels from
its README. Benign keys = every distinct ASIA key in the corpus (from `trailhound scan --dump-events`)
minus the stolen ones. First-seen accuracy = share of found thefts whose `first_seen` is the first
malicious event (per key: the generator's `first_malicious_times`; for the real corpora, the stolen
key's first event).

    python3 benches/quality.py                    # seeds 7 11 23, mixed 30MB at seed 11
    python3 benches/quality.py --seeds 7 --mixed-size 0 -v   # quick; list every miss and FP

Uses target/release/trailhound if present, else target/debug/trailhound (and gen_corpus likewise).
Exit status 0 whatever the scores: this measures, it does not judge.
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASIA = re.compile(r"^ASIA[A-Z0-9]{16}$")

# Labels from ../shared/corpora/README.md ("Ground truth that matters for detection").
REAL = [
    ("invictus", "invictus-ir-aws-dataset", ["ASIATFQR7NSC36DZQP7P"]),
    ("stratus", "stratus-red-team-detonation-logs", ["ASIAP5CT9NN8EYVU1FXV"]),
    ("otrf", "otrf-security-datasets", ["ASIA5FLZVX4OPVKKVBMX"]),
]


def binary(rel):
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / rel
        if p.exists():
            return p
    sys.exit(f"quality: {rel} not built (cargo build --bin trailhound --example gen_corpus)")


def scan(th, path, flags):
    r = subprocess.run([str(th), "scan", str(path), "-q", "--format", "json", *flags], capture_output=True, text=True)
    if r.returncode not in (0, 1, 3, 4):
        sys.exit(f"quality: trailhound failed on {path} ({r.returncode}): {r.stderr}")
    return json.loads(r.stdout or "[]")


def all_keys(th, path):
    """Every ASIA key named in any field of any event, with each key's first event time."""
    r = subprocess.Popen([str(th), "scan", str(path), "-q", "--dump-events"], stdout=subprocess.PIPE, text=True)
    first = {}
    for line in r.stdout:
        ev = json.loads(line)
        t = ev.get("event_time", "")
        for k, v in ev.items():
            if isinstance(v, str) and ASIA.match(v):
                # First use (not the delivery) is what a first_seen can point at.
                if k == "access_key_id" and t and (first.get(v) is None or t < first[v]):
                    first[v] = t
                else:
                    first.setdefault(v, None)
    r.wait()
    return first


def measure(name, th, path, flags, malicious, verbose, scenario_of=None):
    """malicious: {key: first malicious time (RFC 3339) or None = the key's first event}."""
    keys = all_keys(th, path)
    findings = scan(th, path, flags)
    by_key = {f["access_key_id"]: f for f in findings}
    benign = [k for k in keys if k not in malicious]
    found = [k for k in malicious if k in by_key]
    fps = [k for k in benign if k in by_key]
    exact = 0
    for k in found:
        want = malicious[k] or keys.get(k)
        if by_key[k].get("first_seen") == want:
            exact += 1
        elif verbose:
            print(f"  {name}: {k} ({(scenario_of or {}).get(k, '')}) first_seen {by_key[k].get('first_seen')} != {want}")
    if verbose:
        for k in malicious:
            if k not in by_key:
                print(f"  {name}: missed {k} ({(scenario_of or {}).get(k, '')})")
        for k in fps:
            print(f"  {name}: false positive {k} ({(scenario_of or {}).get(k, 'not a scenario key')}): {by_key[k].get('signals')}")
    return {"corpus": name, "thefts": len(malicious), "found": len(found), "benign": len(benign), "fp": len(fps), "exact": exact}


def generated(gen, th, seed, size, verbose):
    with tempfile.TemporaryDirectory(prefix="th-quality-") as d:
        args = [str(gen), "--out", d, "--scenario", "all", "--seed", str(seed)]
        args += ["--size", size] if size else ["--scenarios-only"]
        subprocess.run(args, check=True, capture_output=True)
        truth = json.loads((Path(d) / "ground_truth.json").read_text())
        malicious, flags, scenario_of = {}, [], {}
        for s in truth["scenarios"]:
            flags += s["flags"]
            for k in s["keys"]:
                scenario_of[k] = s["name"]
            times = s.get("first_malicious_times") or {}
            for k in s["malicious_keys"]:
                malicious[k] = times.get(k, s["first_malicious_time"])
        label = f"gen seed {seed}" + (f" + {size} background" if size else "")
        return measure(label, th, d, flags, malicious, verbose, scenario_of)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[7, 11, 23])
    ap.add_argument("--mixed-size", default="30MB", help="background size for one mixed corpus (0: none)")
    ap.add_argument("--mixed-seed", type=int, default=11)
    ap.add_argument("--corpora", default=str(ROOT / "../shared/corpora"))
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss, FP and first_seen mismatch")
    a = ap.parse_args()
    th, gen = binary("trailhound"), binary("examples/gen_corpus")
    print(f"trailhound: {th}\ngen_corpus: {gen}")
    rows = [generated(gen, th, s, None, a.verbose) for s in a.seeds]
    if a.mixed_size not in ("0", ""):
        rows.append(generated(gen, th, a.mixed_seed, a.mixed_size, a.verbose))
    for label, folder, stolen in REAL:
        p = Path(a.corpora) / folder
        if p.is_dir():
            rows.append(measure(label, th, p, [], {k: None for k in stolen}, a.verbose))
        else:
            print(f"(skipped {label}: {p} missing)")
    print(f"\n{'corpus':<32}{'recall':>14}{'FP/10k benign':>22}{'first_seen ok':>16}")
    tot = {"thefts": 0, "found": 0, "benign": 0, "fp": 0, "exact": 0}
    for r in rows + [None]:
        if r is None:
            r = dict(tot, corpus="all")
        else:
            for k in tot:
                tot[k] += r[k]
        rec = f"{r['found']}/{r['thefts']} {100 * r['found'] / max(r['thefts'], 1):5.1f}%"
        fp = f"{r['fp']}/{r['benign']} {10000 * r['fp'] / max(r['benign'], 1):7.1f}"
        ex = f"{r['exact']}/{r['found']}"
        print(f"{r['corpus']:<32}{rec:>14}{fp:>22}{ex:>16}")


if __name__ == "__main__":
    main()
