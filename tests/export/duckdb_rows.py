"""Prints every row of a trailhound export as read by DuckDB, one JSON object per line.

Times come out as epoch milliseconds (the test formats them as trailhound does); the Hive partition
columns are read as strings, so account=012345678901 keeps its leading zero.
Usage: duckdb_rows.py EXPORT_DIR
"""
import json
import sys

import duckdb

con = duckdb.connect()
rel = con.execute(
    """SELECT epoch_ms(event_time) AS event_time_ms, epoch_ms(session_issued_at) AS session_issued_ms,
              * EXCLUDE (event_time, session_issued_at)
       FROM read_parquet(?, hive_partitioning = true,
                         hive_types = {'account': VARCHAR, 'region': VARCHAR, 'date': VARCHAR})""",
    [sys.argv[1].rstrip("/") + "/**/*.parquet"],
)
cols = [d[0] for d in rel.description]
for row in rel.fetchall():
    print(json.dumps(dict(zip(cols, row)), default=str))
