#!/usr/bin/env python3
"""Seeds tests/fuzz/corpus/<target>/ from fixtures/ (run from the repository root; name targets to
seed only those: `python3 tests/fuzz/seed/seed_corpora.py params`).

The fuzzer grows and minimizes the corpus afterwards (cargo fuzz cmin); this only gives it real
shapes to start from: every container and JSON layout the decoder knows, real records, real policies.
"""
import glob, gzip, hashlib, io, json, os, sys, zipfile

ROOT = os.getcwd()
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
MAX = 64 * 1024


ONLY = set(sys.argv[1:])


def put(target, data):
    if ONLY and target not in ONLY:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def records_of(path):
    raw = open(path, "rb").read()
    if path.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except Exception:
            return []
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return []
    out = []
    try:
        doc = json.loads(text)
        if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
            out = doc["Records"]
        elif isinstance(doc, list):
            out = doc
        elif isinstance(doc, dict):
            out = [doc]
    except ValueError:
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return [r for r in out if isinstance(r, dict)]


fixture_files = sorted(
    p for p in glob.glob(os.path.join(ROOT, "fixtures", "**", "*"), recursive=True)
    if os.path.isfile(p) and not p.endswith((".md", ".py", "LICENSE")) and "LICENSE" not in p
)

# decode_container: small fixtures as they are, larger ones gzipped if that fits, and the containers.
for p in fixture_files:
    data = open(p, "rb").read()
    if len(data) <= MAX:
        put("decode_container", data)
    elif len(gzip.compress(data)) <= MAX:
        put("decode_container", gzip.compress(data))
small = open(os.path.join(ROOT, "fixtures", "formats", "events.jsonl"), "rb").read()
two = gzip.compress(small[: len(small) // 2]) + gzip.compress(small[len(small) // 2 :])
put("decode_container", two)  # multi-member gzip
for members in ([("a.json", small)], [("a.json", small), ("dir/", b""), ("b.json.gz", gzip.compress(small))]):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in members:
            z.writestr(name, body)
    put("decode_container", buf.getvalue())

# record_model: one record per file, one of each (source, name, identity type), capped.
seen = {}
for p in fixture_files:
    for r in records_of(p):
        key = (r.get("eventSource"), r.get("eventName"), str(r.get("userIdentity", {}).get("type")))
        text = json.dumps(r, separators=(",", ":"))
        if key not in seen and len(text) <= 8 * 1024:
            seen[key] = text
recs = list(seen.values())[:200]
for t in recs:
    put("record_model", t)

# lookup_events: CloudTrailEvent strings separated by 0x01, as the target splits them.
for i in range(0, min(len(recs), 120), 3):
    put("lookup_events", "\x01".join(recs[i : i + 3]))
put("lookup_events", json.dumps({"Records": [json.loads(recs[0])]}) + "\x01{broken\x01null\x01\x01[1]")

# params: requestParameters and responseElements texts, compact as CloudTrail writes them, one of each
# (event name, field, set of keys), capped.
seen_params = {}
for p in fixture_files:
    for r in records_of(p):
        for field in ("requestParameters", "responseElements"):
            v = r.get(field)
            if not isinstance(v, dict):
                continue
            key = (r.get("eventName"), field, tuple(sorted(v)))
            text = json.dumps(v, separators=(",", ":"))
            if key not in seen_params and len(text) <= 8 * 1024:
                seen_params[key] = text
for t in list(seen_params.values())[:300]:
    put("params", t)

# policy_merge: 16 control bytes, then an existing inline policy (empty text means "no policy" when
# the first control byte has its top bit set).
docs = [
    '{"Version":"2012-10-17","Statement":[]}',
    '{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Allow","Action":"s3:GetObject",'
    '"Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":'
    '{"DateLessThan":{"aws:TokenIssueTime":"2026-11-20T00:00:00Z"}}}]}',
    '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":'
    '{"DateLessThan":{"aws:TokenIssueTime":"2026-11-23T10:00:00Z"}}}]}',
    '{"Version":"2012-10-17","Statement":{"Sid":"TrailhoundRevoke0123456789abcdef","Effect":"Deny",'
    '"Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-23T12:30:00Z"},'
    '"StringLike":{"aws:userid":"AROAEXAMPLEID:i-0abc"}}}}',
    '{"Statement":[{"Effect":"Allow","Action":["sts:AssumeRole"],"Principal":{"Service":"ec2.amazonaws.com"}}],'
    '"Id":"x"}',
    "",
]
controls = [
    bytes([1, 0, 1, 0, 5] + [0] * 11),
    bytes([4, 2, 0, 0, 0, 3, 1, 0, 5, 0xFF, 9, 0x81, 2, 1] + [0] * 2),
    bytes([0x83, 0, 1, 0xB0, 0, 0, 0, 0, 7, 0, 0] + [0] * 5),
    bytes([2, 0xF0, 3, 1, 2, 3, 0xFE, 4] + [0] * 8),
]
for c in controls:
    for d in docs:
        put("policy_merge", c + d.encode())
for t in sorted(os.listdir(OUT)):
    if not ONLY or t in ONLY:
        print(t, len(os.listdir(os.path.join(OUT, t))))
