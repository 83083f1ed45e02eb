"""Runs every query of queries/ on a DuckDB CloudTrail table built from the inputs; prints
{"<name>": {"columns": [...], "rows": [[...]], "bytes_scanned": N, "bytes_unpruned": N}} as JSON.

usage: run_queries.py QUERY_DIR PARAMS_JSON INPUT...
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import duckdb  # noqa: F401
    import sqlglot  # noqa: F401
except ImportError as e:
    sys.exit(f"run_queries.py: {e}: install tests/requirements.txt (tests/run.sh does)")
import trailtable


def main():
    qdir, params, inputs = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
    con = duckdb.connect()
    sizes = trailtable.build(con, inputs)
    out = {}
    for name in sorted(os.listdir(qdir)):
        # objects.sql takes a selection too (parameters 13 to 15): tests/athena_e2e.rs runs it.
        if not name.endswith(".sql") or name.startswith("_") or name.startswith("create_") or name == "objects.sql":
            continue
        sql = open(os.path.join(qdir, name)).read()
        cols, rows = trailtable.run(con, sql, params)
        out[name[:-4]] = {
            "columns": cols,
            "rows": rows,
            "bytes_scanned": trailtable.scanned_bytes(con, sizes, params),
            "bytes_unpruned": trailtable.scanned_bytes(con, sizes, params, prune=False),
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    import duckdb
    main()
