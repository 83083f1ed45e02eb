"""Bytes each query scans, with and without partition pruning, over a trail on disk in CloudTrail's
S3 layout (what Athena bills: the stored bytes of every object in the partitions a query keeps).

usage: bytes_per_day.py QUERY_DIR TRAIL_DIR DAY [ACCOUNT REGION]
  DAY is yyyy/MM/dd; the window is that whole day (the delivery margin of 2 hours reaches the next).
"""
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import duckdb  # noqa: E402
import trailtable  # noqa: E402


def main():
    qdir, trail, day = sys.argv[1:4]
    account, region = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else ("", "")
    start = datetime.datetime.strptime(day, "%Y/%m/%d").replace(tzinfo=datetime.timezone.utc)
    since = int(start.timestamp() * 1000)
    until = since + 86_400_000
    last = (start + datetime.timedelta(days=1, hours=2)).strftime("%Y/%m/%d")
    q = lambda s: "'" + s.replace("'", "''") + "'"  # noqa: E731
    params = [q(day), q(last), q(account), q(account), q(region), q(region), str(since), str(until),
              q(account), q(account), q(region), q(region)]
    con = duckdb.connect()
    sizes = trailtable.build(con, [trail])
    days = sorted({r[0] for r in con.execute('SELECT DISTINCT "timestamp" FROM cloudtrail_logs').fetchall()})
    print(f"trail: {len(sizes)} objects, {sum(sizes.values())} bytes stored, days {days[0]}..{days[-1]}")
    print(f"window: {day} (partitions {day}..{last}), account {account or 'all'}, region {region or 'all'}")
    print("query       rows  bytes scanned (pruned)  bytes scanned (unpruned)")
    for name in sorted(os.listdir(qdir)):
        # objects.sql takes a selection too (parameters 13 to 15); it reads the same partitions.
        if not name.endswith(".sql") or name.startswith(("_", "create_")) or name == "objects.sql":
            continue
        sql = open(os.path.join(qdir, name)).read()
        _, rows = trailtable.run(con, sql, params)
        pruned = trailtable.scanned_bytes(con, sizes, params)
        unpruned = trailtable.scanned_bytes(con, sizes, params, prune=False)
        print(f"{name[:-4]:10} {len(rows):6}  {pruned:22}  {unpruned:24}")


if __name__ == "__main__":
    main()
