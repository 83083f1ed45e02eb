"""A DuckDB table shaped exactly like AWS's documented CloudTrail table (queries/create_table.sql),
built from CloudTrail logs on disk, and Athena's Trino queries run on it after a sqlglot transpile.

Test aid only: the queries in queries/ stay Trino SQL. Constructs that DuckDB spells differently and
that sqlglot rewrites (none is papered over in the queries):
  - json_extract_scalar(x, '$.a')   -> x ->> '$.a'. DuckDB raises on text that is not JSON where Trino
    returns NULL: the queries wrap it in try(), which both engines honour. On a value that is an object
    DuckDB returns its JSON text where Trino returns NULL (never the case for the fields read).
  - from_iso8601_timestamp(x)       -> CAST(x AS TIMESTAMPTZ); to_unixtime -> EPOCH.
  - contains(split(s, ','), x)      -> ARRAY_CONTAINS(STR_SPLIT(s, ','), x).
  - regexp_like                     -> REGEXP_MATCHES (both search, not full match).
  - regexp_extract without a match  -> '' in DuckDB, NULL in Trino: the queries only extract after a
    regexp_like on the same pattern, so the difference never shows.
  - "$path" (Athena's hidden column: the S3 object of each row) is an ordinary column of the view.
The table itself: JsonSerDe reads nested objects into STRUCT columns by field name, case-insensitively,
ignores fields the DDL does not list, and gives a STRING column holding a JSON object (requestParameters,
responseElements) its JSON text; booleans in STRING columns become 'true'/'false'. Partitions (account,
region, timestamp) come from the object's key when it follows CloudTrail's layout
(AWSLogs/[o-id/]<account>/CloudTrail/<region>/yyyy/MM/dd/), else from the record itself.
Logstash exports (no eventTime, only @timestamp) get their @timestamp as eventtime: a user would convert
them to CloudTrail's format before Athena could read them at all.
"""

import gzip
import json
import os
import re
import tempfile

STRING_COLUMNS = [
    "eventversion", "eventtime", "eventsource", "eventname", "awsregion", "sourceipaddress", "useragent",
    "errorcode", "errormessage", "requestparameters", "responseelements", "additionaleventdata",
    "requestid", "eventid", "readonly", "eventtype", "apiversion", "recipientaccountid",
    "serviceeventdetails", "sharedeventid", "vpcendpointid", "vpcendpointaccountid", "eventcategory",
    "sessioncredentialfromconsole", "edgedevicedetails",
]
USERIDENTITY = {
    "type": None, "principalid": None, "arn": None, "accountid": None, "invokedby": None,
    "accesskeyid": None, "username": None,
    "onbehalfof": {"userid": None, "identitystorearn": None},
    "sessioncontext": {
        "attributes": {"mfaauthenticated": None, "creationdate": None},
        "sessionissuer": {"type": None, "principalid": None, "arn": None, "accountid": None, "username": None},
        "ec2roledelivery": None,
        "webidfederationdata": {"federatedprovider": None, "attributes": "MAP"},
    },
}
ADDENDUM = {"reason": None, "updatedfields": None, "originalrequestid": None, "originaleventid": None}
TLSDETAILS = {"tlsversion": None, "ciphersuite": None, "clientprovidedhostheader": None}
RESOURCE = {"arn": None, "accountid": None, "type": None}


def sql_type(shape):
    if shape is None:
        return "VARCHAR"
    if shape == "MAP":
        return "MAP(VARCHAR, VARCHAR)"
    return "STRUCT(" + ", ".join(f'"{k}" {sql_type(v)}' for k, v in shape.items()) + ")"


COLUMNS = {c: "VARCHAR" for c in STRING_COLUMNS}
COLUMNS["useridentity"] = sql_type(USERIDENTITY)
COLUMNS["addendum"] = sql_type(ADDENDUM)
COLUMNS["tlsdetails"] = sql_type(TLSDETAILS)
COLUMNS["resources"] = sql_type(RESOURCE) + "[]"
PARTITIONS = {"account": "VARCHAR", "region": "VARCHAR", "timestamp": "VARCHAR", "$path": "VARCHAR"}


def text(v):
    """A JSON value read into a STRING column."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return json.dumps(v)


def lower_keys(obj):
    return {k.lower(): v for k, v in obj.items()} if isinstance(obj, dict) else None


def shaped(v, shape):
    if shape is None:
        return None if isinstance(v, (dict, list)) and False else text(v)
    if shape == "MAP":
        return {str(k): text(x) for k, x in v.items()} if isinstance(v, dict) else None
    d = lower_keys(v)
    if d is None:
        return None
    return {k: shaped(d.get(k), s) for k, s in shape.items()}


def records_of(path):
    """Every CloudTrail record of a file, in the shapes trailhound reads."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        s = data.decode("utf-8", "replace")
    try:
        doc = json.loads(s)
        docs = [doc]
    except ValueError:
        docs = []
        for line in s.splitlines():
            line = line.strip()
            if line:
                try:
                    docs.append(json.loads(line))
                except ValueError:
                    pass
    out = []
    for doc in docs:
        if isinstance(doc, list):
            out.extend(r for r in doc if isinstance(r, dict))
        elif isinstance(doc, dict):
            if isinstance(doc.get("Records"), list):
                out.extend(r for r in doc["Records"] if isinstance(r, dict))
            elif isinstance(doc.get("Events"), list):
                for e in doc["Events"]:
                    if isinstance(e, dict) and isinstance(e.get("CloudTrailEvent"), str):
                        try:
                            out.append(json.loads(e["CloudTrailEvent"]))
                        except ValueError:
                            pass
            elif isinstance(doc.get("log"), dict):
                out.append(doc["log"])
            elif "eventName" in doc or "eventVersion" in doc:
                out.append(doc)
    return [r for r in out if isinstance(r, dict) and ("eventName" in r or "eventVersion" in r)]


LAYOUT = re.compile(r"AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4}/\d{2}/\d{2})/")


def row_of(rec, path):
    r = lower_keys(rec)
    row = {c: text(r.get(c)) for c in STRING_COLUMNS}
    if row["eventtime"] is None and "@timestamp" in r:
        row["eventtime"] = text(r["@timestamp"])
    row["useridentity"] = shaped(r.get("useridentity"), USERIDENTITY)
    row["addendum"] = shaped(r.get("addendum"), ADDENDUM)
    row["tlsdetails"] = shaped(r.get("tlsdetails"), TLSDETAILS)
    res = r.get("resources")
    row["resources"] = [shaped(x, RESOURCE) for x in res if isinstance(x, dict)] if isinstance(res, list) else None
    m = LAYOUT.search(path.replace(os.sep, "/"))
    if m:
        account, region, day = m.group(1), m.group(2), m.group(3)
    else:
        ui = row["useridentity"] or {}
        account = row["recipientaccountid"] or ui.get("accountid") or ""
        region = row["awsregion"] or ""
        day = (row["eventtime"] or "")[:10].replace("-", "/")
    row["account"], row["region"], row["timestamp"], row["$path"] = account, region, day, path
    return row


def files_of(inputs):
    for inp in inputs:
        if os.path.isdir(inp):
            for root, _, names in os.walk(inp):
                for n in sorted(names):
                    yield os.path.join(root, n)
        else:
            yield inp


def build(con, inputs, s3_roots=()):
    """Creates table cloudtrail_logs from the inputs; returns {object path: bytes as stored}.
    `s3_roots` holds (folder, "s3://bucket/prefix/") pairs: the files under a folder get, as their
    "$path", the S3 URL they have once uploaded there (as Athena reports it)."""
    sizes = {}
    with tempfile.NamedTemporaryFile("w", suffix=".ndjson", delete=False) as tmp:
        for path in files_of(inputs):
            if os.path.basename(path) in ("LICENSE", "NOTICE.md", "EXPECTED.md", "README.md") or path.endswith(".py"):
                continue
            recs = records_of(path)
            if not recs:
                continue
            size = os.path.getsize(path)
            for folder, url in s3_roots:
                rel = os.path.relpath(path, folder)
                if not rel.startswith(".."):
                    path = url + rel.replace(os.sep, "/")
                    break
            sizes[path] = size
            for rec in recs:
                tmp.write(json.dumps(row_of(rec, path)) + "\n")
        name = tmp.name
    cols = dict(COLUMNS)
    cols.update(PARTITIONS)
    spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in cols.items()) + "}"
    con.execute(
        f"CREATE TABLE cloudtrail_logs AS SELECT * FROM read_json('{name}', format='newline_delimited', "
        f"columns={spec}, maximum_object_size=67108864)"
    )
    os.unlink(name)
    return sizes


def transpile(sql):
    import sqlglot
    return sqlglot.transpile(sql, read="trino", write="duckdb")[0]


def literal(p):
    """An Athena ExecutionParameters value (a SQL literal) as a Python value."""
    p = p.strip()
    if len(p) >= 2 and p[0] == "'" and p[-1] == "'":
        return p[1:-1].replace("''", "'")
    return int(p)


def run(con, sql, params):
    """Runs a Trino query; returns (column names, rows of strings or None), as Athena would."""
    cur = con.execute(transpile(sql), [literal(p) for p in params])
    names = [d[0] for d in cur.description]
    rows = [[None if v is None else (("true" if v else "false") if isinstance(v, bool) else str(v)) for v in r]
            for r in cur.fetchall()]
    return names, rows


def scanned_bytes(con, sizes, params, prune=True):
    """What Athena bills: every byte of every object in the partitions the query's partition
    predicate keeps (parameters 1 to 6), or of every object without pruning."""
    if not prune:
        return sum(sizes.values())
    a, b, acc, _, reg, _ = [literal(p) for p in params[:6]]
    q = ('SELECT DISTINCT "$path" FROM cloudtrail_logs WHERE "timestamp" BETWEEN ? AND ? '
         "AND (? = '' OR list_contains(string_split(?, ','), account)) "
         "AND (? = '' OR list_contains(string_split(?, ','), region))")
    paths = [r[0] for r in con.execute(q, [a, b, acc, acc, reg, reg]).fetchall()]
    return sum(sizes.get(p, 0) for p in paths)
