"""Baseline: a two-process Python scan of CloudTrail .json.gz files (gzip + json, touching the fields a
detector reads). Prints records and decompressed bytes as JSON."""
import gzip
import json
import multiprocessing
import sys


def scan(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    doc = json.loads(raw)
    n = 0
    for r in doc.get("Records", []):
        u = r.get("userIdentity") or {}
        _ = (u.get("accessKeyId"), r.get("sourceIPAddress"), r.get("userAgent"), r.get("eventName"))
        n += 1
    return n, len(raw)


def main():
    files = [l.strip() for l in open(sys.argv[1]) if l.strip()]
    with multiprocessing.Pool(2) as pool:
        results = pool.map(scan, files, chunksize=16)
    print(json.dumps({"records": sum(r for r, _ in results), "bytes": sum(b for _, b in results)}))


if __name__ == "__main__":
    main()
