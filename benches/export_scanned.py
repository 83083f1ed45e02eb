"""Bytes an Athena query reads from the Parquet export against the gzipped JSON table.

Athena bills the bytes it reads. Over gzipped JSON it reads every byte of every file in the
partitions the query touches (gzip cannot be split or skipped into). Over Parquet it reads only the
column chunks of the columns the query names (plus the footers, a few KB a file). The estimate sums
the compressed size of those column chunks from the files' own metadata (DuckDB's parquet_metadata):
an upper bound, since Athena also skips row groups whose min/max statistics rule them out.
Usage: export_scanned.py EXPORT_DIR GZIPPED_JSON_BYTES
"""
import sys

import duckdb

export, gz = sys.argv[1], int(sys.argv[2])
queries = {
    "one key's uses (event_time, source_ip, user_agent, event_name, error_code, access_key_id)":
        ["event_time", "source_ip", "user_agent", "event_name", "error_code", "access_key_id"],
    "AssumeRole* by role (event_time, event_name, role_arn, minted_access_key_id, source_ip)":
        ["event_time", "event_name", "role_arn", "minted_access_key_id", "source_ip"],
}
con = duckdb.connect()
sizes = dict(con.execute(
    "SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata(?) GROUP BY 1",
    [export.rstrip("/") + "/**/*.parquet"],
).fetchall())
total = sum(sizes.values())
print(f"Parquet column chunks: {total/1e6:.1f} MB in all; gzipped JSON: {gz/1e6:.1f} MB")
for name, cols in queries.items():
    read = sum(v for k, v in sizes.items() if k.split(",")[0].strip() in cols)
    print(f"  {name}: {read/1e6:.1f} MB read, {gz/read:.0f}x less than the JSON table ({read/gz*100:.1f}%)")
