"""A small Athena endpoint for the tests: speaks Athena's JSON protocol (X-Amz-Target:
AmazonAthena.*), runs each query in DuckDB over the CloudTrail table built from the inputs (after the
same sqlglot transpile as run_queries.py), pages results by at most 1,000 rows (header row first, as
Athena does), and accounts for the bytes a query scans with and without partition pruning.

usage: endpoint.py --port-file FILE [--fail NAME] [--slow POLLS] [--reason TEXT] INPUT...
  --fail NAME    queries whose first line names NAME ("-- NAME: ...") end FAILED with --reason
  --slow POLLS   every query stays RUNNING for this many GetQueryExecution calls
  --deny         StartQueryExecution answers AccessDeniedException
GET /__stats returns every execution (name, state, bytes scanned, bytes without pruning, parameters,
request token, whether it was stopped).
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import duckdb
    import sqlglot  # noqa: F401
except ImportError as e:
    sys.exit(f"endpoint.py: {e}: install tests/requirements.txt (tests/run.sh does)")
import trailtable

LOCK = threading.Lock()
EXECS = {}
TOKENS = {}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body, error_type=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, kind, message):
        self.reply(400, {"__type": kind, "Message": message}, kind)

    def do_GET(self):
        with LOCK:
            self.reply(200, {"executions": list(EXECS.values())})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        op = self.headers.get("X-Amz-Target", "").split(".")[-1]
        with LOCK:
            handler = getattr(self, "op_" + op, None)
            if handler is None:
                return self.error("InvalidRequestException", f"unsupported operation {op}")
            return handler(body)

    def op_StartQueryExecution(self, b):
        if ARGS.deny:
            return self.error("AccessDeniedException", "User: arn:aws:iam::123456789012:user/ir is not authorized to perform: athena:StartQueryExecution")
        token = b.get("ClientRequestToken")
        if token and token in TOKENS:
            return self.reply(200, {"QueryExecutionId": TOKENS[token]})
        sql = b.get("QueryString", "")
        params = b.get("ExecutionParameters", [])
        first = sql.lstrip().split("\n", 1)[0]
        name = first[3:].split(":", 1)[0].strip() if first.startswith("-- ") else "statement"
        qid = f"q-{len(EXECS) + 1:04d}-{name}"
        ex = {"id": qid, "name": name, "params": params, "token": token, "polls": 0, "stopped": False,
              "database": b.get("QueryExecutionContext", {}).get("Database"), "workgroup": b.get("WorkGroup"),
              "output": b.get("ResultConfiguration", {}).get("OutputLocation"),
              "reuse": b.get("ResultReuseConfiguration"), "bytes_scanned": 0, "bytes_unpruned": 0}
        if "CREATE EXTERNAL TABLE" in sql:
            # DDL is Hive's, which DuckDB does not speak: recorded, and reported created.
            ex.update(name="ddl", state="SUCCEEDED", reason=None, columns=[], rows=[], sql=sql)
        elif name == ARGS.fail:
            ex.update(state="FAILED", reason=ARGS.reason)
        else:
            try:
                cols, rows = trailtable.run(CON, sql, params)
                ex.update(state="SUCCEEDED", reason=None, columns=cols, rows=rows,
                          bytes_scanned=trailtable.scanned_bytes(CON, SIZES, params),
                          bytes_unpruned=trailtable.scanned_bytes(CON, SIZES, params, prune=False))
            except Exception as e:  # the query itself is wrong: Athena says FAILED with the reason
                ex.update(state="FAILED", reason=f"{type(e).__name__}: {e}")
        EXECS[qid] = ex
        if token:
            TOKENS[token] = qid
        self.reply(200, {"QueryExecutionId": qid})

    def op_GetQueryExecution(self, b):
        ex = EXECS.get(b.get("QueryExecutionId"))
        if ex is None:
            return self.error("InvalidRequestException", "QueryExecution not found")
        ex["polls"] += 1
        state = ex["state"]
        if ex["stopped"]:
            state = "CANCELLED"
        elif ex["polls"] <= ARGS.slow:
            state = "RUNNING"
        status = {"State": state, "SubmissionDateTime": time.time()}
        if state in ("FAILED", "CANCELLED") and ex.get("reason"):
            status["StateChangeReason"] = ex["reason"]
        scanned = ex["bytes_scanned"] if state == "SUCCEEDED" else 0
        self.reply(200, {"QueryExecution": {
            "QueryExecutionId": ex["id"], "Status": status,
            "Statistics": {"DataScannedInBytes": scanned, "EngineExecutionTimeInMillis": 1,
                           "TotalExecutionTimeInMillis": 1},
        }})

    def op_StopQueryExecution(self, b):
        ex = EXECS.get(b.get("QueryExecutionId"))
        if ex is None:
            return self.error("InvalidRequestException", "QueryExecution not found")
        if ex["polls"] <= ARGS.slow or ex["state"] == "RUNNING":
            ex["stopped"] = True
            ex["reason"] = "Query cancelled by user"
        self.reply(200, {})

    def op_GetQueryResults(self, b):
        ex = EXECS.get(b.get("QueryExecutionId"))
        if ex is None or ex["state"] != "SUCCEEDED" or ex["stopped"]:
            return self.error("InvalidRequestException", "Query has not yet finished")
        size = int(b.get("MaxResults", 1000))
        if size > 1000:
            return self.error("InvalidRequestException", "MaxResults must be at most 1000")
        table = [ex["columns"]] + ex["rows"]
        start = int(b.get("NextToken") or 0)
        page = table[start:start + size]
        out = {
            "UpdateCount": 0,
            "ResultSet": {
                "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in r]} for r in page],
                "ResultSetMetadata": {"ColumnInfo": [
                    {"Name": c, "Label": c, "Type": "varchar", "CatalogName": "hive", "SchemaName": "",
                     "TableName": "", "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": True}
                    for c in ex["columns"]]},
            },
        }
        if start + size < len(table):
            out["NextToken"] = str(start + size)
        self.reply(200, out)


def main():
    global ARGS, CON, SIZES
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--fail")
    p.add_argument("--slow", type=int, default=0)
    p.add_argument("--reason", default="HIVE_BAD_DATA: injected failure")
    p.add_argument("--deny", action="store_true", help="refuse StartQueryExecution with AccessDeniedException")
    p.add_argument("--s3-root", action="append", default=[], metavar="FOLDER=s3://BUCKET/PREFIX/",
                   help='the files under FOLDER get, as "$path", their S3 URL once uploaded under the prefix')
    p.add_argument("inputs", nargs="+")
    ARGS = p.parse_args()
    CON = duckdb.connect()
    SIZES = trailtable.build(CON, ARGS.inputs, [tuple(r.split("=", 1)) for r in ARGS.s3_root])
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
