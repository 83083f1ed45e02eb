"""Hostile-trail benchmark: trails an attacker can write or cause, at sizes N, 2N and 4N.

Each shape builds CloudTrail files (`{"Records":[...]}`, gzip level 1) in a temporary folder, runs one
trailhound subcommand on each size (one process at a time) and prints wall seconds and peak RSS (MB,
from `/usr/bin/time -f %M`, else from os.wait4) at N, 2N and 4N, and the growth ratio t(4N)/t(2N):
about 2 means linear in the input, about 4 quadratic. A shape is flagged QUADRATIC? when the ratio is
over 3 and t(4N) is over 0.5 s (below that, start-up and noise dominate). The last column says what
the 4N run produced (findings, timeline uses, report keys), so a shape that fails to provoke what it
means to shows. Exit status 1 only when trailhound fails (an exit status the README does not document
for findings or partial runs) or crashes; its stderr tail is printed.

Usage: python3 benches/hostile.py [--bin target/release/trailhound] [--only NAME[,NAME]] [--scale F]
       [--keep DIR] [--reps R] [--list]
Each size runs R times (default 2; report and revoke after one untimed scan for their findings):
the fastest time and the largest peak RSS are shown, as single runs on a shared machine vary.
"""
import argparse
import functools
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCT = "111122223333"
BASE = 1_793_692_800  # 2026-11-03T08:00:00Z
OWN = "3.225.16.109"  # EC2 us-east-1 (built-in ranges): an instance's own egress
THIEF = "aws-cli/2.15.0 Python/3.11.6 Darwin/23.1.0 exe/x86_64"
BOTO = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 lang/python#3.11"
ROLE = "web-app-role"
M64 = (1 << 64) - 1
FX_K = 0xF1357AEA2E62A9C5  # rustc-hash 2.x FxHasher multiplier (64-bit)
B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
OK_EXIT = {"scan": {0, 1, 3, 4}, "timeline": {0, 3}, "report": {0, 3}, "revoke": {0}}
PARTIAL = {3, 4}


# ---------------------------------------------------------------- record text (CloudTrail field names)
@functools.lru_cache(maxsize=1 << 16)
def ts(sec):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE + sec))


_eid = [0]
_PID = os.getpid() & 0xFFFFFFFF


def eid():
    _eid[0] += 1
    return "%08x-0000-4000-8000-%012x" % (_PID, _eid[0])


def key(tag, i, prefix="ASIA"):
    return f"{prefix}{tag}{i:0{16 - len(tag)}d}"


def inst(i):
    return f"i-{i + 0xA000000:017x}"


def outside_ip(i):  # 81.0.0.0/8 holds no AWS prefix in the built-in snapshot
    i += 1
    return f"81.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def aws_ip(i):  # 34.192.0.0/12: EC2 us-east-1
    i += 256
    return f"34.{192 + ((i >> 16) & 15)}.{(i >> 8) & 255}.{i & 255}"


@functools.lru_cache(maxsize=None)
def role_id(role):
    return "AROA" + "".join(B36[(sum(map(ord, role)) * 7 + j * 13) % 36] for j in range(17))


def role_arn(role):
    return f"arn:aws:iam::{ACCT}:role/{role}"


def deliver(t, session, k, role=ROLE, region="us-east-1"):
    """The AssumeRole record with which EC2 delivers instance-profile credentials (session = instance)."""
    rid = role_id(role)
    return (
        '{"eventVersion":"1.08","userIdentity":{"type":"AWSService","invokedBy":"ec2.amazonaws.com"},'
        f'"eventTime":"{ts(t)}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"{region}",'
        '"sourceIPAddress":"ec2.amazonaws.com","userAgent":"ec2.amazonaws.com",'
        f'"requestParameters":{{"roleArn":"{role_arn(role)}","roleSessionName":"{session}"}},'
        f'"responseElements":{{"credentials":{{"accessKeyId":"{k}","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLE",'
        f'"expiration":"Nov 3, 2026, 6:30:22 PM"}},"assumedRoleUser":{{"assumedRoleId":"{rid}:{session}",'
        f'"arn":"arn:aws:sts::{ACCT}:assumed-role/{role}/{session}"}}}},"requestID":"{eid()}","eventID":"{eid()}",'
        f'"readOnly":true,"resources":[{{"accountId":"{ACCT}","type":"AWS::IAM::Role","ARN":"{role_arn(role)}"}}],'
        f'"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{ACCT}","eventCategory":"Management"}}'
    )


def use(t, k, session, ip, ua=BOTO, role=ROLE, region="us-east-1", src="s3.amazonaws.com", name="GetObject",
        imds="2.0", issued=None, req="null", resp="null", ro=True, extra="", event_id=None):
    """A call made with a temporary key of `role`, session `session`."""
    rid = role_id(role)
    d = f',"ec2RoleDelivery":"{imds}"' if imds else ""
    return (
        f'{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"{rid}:{session}",'
        f'"arn":"arn:aws:sts::{ACCT}:assumed-role/{role}/{session}","accountId":"{ACCT}","accessKeyId":"{k}",'
        f'"sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"{rid}","arn":"{role_arn(role)}",'
        f'"accountId":"{ACCT}","userName":"{role}"}},"attributes":{{"creationDate":"{ts(t if issued is None else issued)}",'
        f'"mfaAuthenticated":"false"}}{d}}}}},"eventTime":"{ts(t)}","eventSource":"{src}","eventName":"{name}",'
        f'"awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":{json.dumps(ua)},"requestParameters":{req},'
        f'"responseElements":{resp},"requestID":"{eid()}","eventID":"{event_id or eid()}",'
        f'"readOnly":{"true" if ro else "false"},"eventType":"AwsApiCall","managementEvent":true,'
        f'"recipientAccountId":"{ACCT}"{extra},"eventCategory":"Management"}}'
    )


def human(t, user, akia, ip, src, name, req="null", resp="null", ro=False, event_id=None, ua=THIEF):
    """A call by an IAM user's long-term key."""
    return (
        f'{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLEUSER00001",'
        f'"arn":"arn:aws:iam::{ACCT}:user/{user}","accountId":"{ACCT}","accessKeyId":"{akia}","userName":"{user}"}},'
        f'"eventTime":"{ts(t)}","eventSource":"{src}","eventName":"{name}","awsRegion":"us-east-1",'
        f'"sourceIPAddress":"{ip}","userAgent":"{ua}","requestParameters":{req},"responseElements":{resp},'
        f'"requestID":"{eid()}","eventID":"{event_id or eid()}","readOnly":{"true" if ro else "false"},'
        f'"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{ACCT}","eventCategory":"Management"}}'
    )


def assume_with(t, k, session, role, ip, new_role, new_session, new_key):
    """AssumeRole called with a temporary key (role chaining)."""
    req = f'{{"roleArn":"{role_arn(new_role)}","roleSessionName":"{new_session}","durationSeconds":3600}}'
    resp = (
        f'{{"credentials":{{"accessKeyId":"{new_key}","expiration":"Nov 3, 2026, 9:00:00 PM"}},'
        f'"assumedRoleUser":{{"assumedRoleId":"{role_id(new_role)}:{new_session}",'
        f'"arn":"arn:aws:sts::{ACCT}:assumed-role/{new_role}/{new_session}"}}}}'
    )
    return use(t, k, session, ip, THIEF, role, src="sts.amazonaws.com", name="AssumeRole", imds=None, req=req,
               resp=resp, issued=0)


def create_access_key(t, k, session, role, ip, user, akia, imds="2.0"):
    req = f'{{"userName":"{user}"}}'
    resp = f'{{"accessKey":{{"accessKeyId":"{akia}","status":"Active","userName":"{user}"}}}}'
    return use(t, k, session, ip, THIEF, role, src="iam.amazonaws.com", name="CreateAccessKey", imds=imds, req=req,
               resp=resp, ro=False, issued=0)


# ---------------------------------------------------------------- hash collision families (rustc-hash 2.x)
def fx_words(*words):
    """FxHasher over 64-bit words (write_u64 each; write_u128 is low then high): the value finish() gives."""
    h = 0
    for w in words:
        h = ((h + w) * FX_K) & M64
    return ((h << 26) | (h >> 38)) & M64


def colliding_uuids(n):
    """src/dedup.rs keeps each eventID as the UUID's 128 bits (normalize::uuid_bits: the first 16 hex
    digits are the high half) in an FxHashSet<u128>, hashed by one write_u128: (lo*K + hi)*K. Every
    id with hi = C - lo*K (mod 2^64) has the same 64-bit hash: all land in one bucket with one tag."""
    c = 0x5EED5EED5EED5EED
    out = []
    for lo in range(1, n + 1):
        hi = (c - lo * FX_K) & M64
        h = f"{hi:016x}{lo:016x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    assert fx_words(1, (c - FX_K) & M64) == fx_words(2, (c - 2 * FX_K) & M64)
    return out


def b36(v, width=10):
    s = ""
    for _ in range(width):
        v, d = divmod(v, 36)
        s = B36[d] + s
    return s


def colliding_key_ids(n):
    """src/detect/state.rs packs a key id into KeyId(hi, lo), each half 10 base-36 characters, and the
    KeyTable index is an FxHashMap<KeyId, _>: derived Hash writes hi then lo, so the hash is
    (hi*K + lo)*K. Keys with hi*K + lo = C (mod 2^64), hi in "ASIA??????" and lo < 36^10, collide in all
    64 bits. They are the points of a 2-D lattice in a box (about 400,000 of them): found with a
    Lagrange-reduced basis, scaled so the box is square, walked outward from its centre. Both families
    are exact for FxHash (checked below); a table hashed under a per-run seed makes them ordinary ids,
    and the shape then reads linear, which is what it is there to show."""
    w, y_max, c = 36 ** 6, 36 ** 10, 0x0DDBA11C0FFEE000
    hi0 = int("ASIA000000", 36)
    s = y_max // w
    x0, y0 = hi0, (c - hi0 * FX_K) & M64  # one solution (y0 may lie outside the box)
    u, v = (s, (-FX_K) & M64), (0, 1 << 64)  # lattice of (dx*s, dy) with dx*K + dy = 0 mod 2^64

    def dot(a, b):
        return a[0] * b[0] + a[1] * b[1]

    while True:
        if dot(u, u) > dot(v, v):
            u, v = v, u
        m = (2 * dot(u, v) + dot(u, u)) // (2 * dot(u, u))
        if m == 0:
            break
        v = (v[0] - m * u[0], v[1] - m * u[1])
    det = u[0] * v[1] - u[1] * v[0]
    tx, ty = (w // 2) * s, y_max // 2 - y0  # the box centre, relative to (x0, y0), scaled
    a0 = (tx * v[1] - ty * v[0]) // det
    b0 = (u[0] * ty - u[1] * tx) // det
    out, r = [], int((n ** 0.5) / 2) + 4
    while len(out) < n:
        out = []
        for a in range(a0 - r, a0 + r):
            for b in range(b0 - r, b0 + r):
                x = x0 + (a * u[0] + b * v[0]) // s
                y = y0 + a * u[1] + b * v[1]
                if hi0 <= x < hi0 + w and 0 <= y < y_max:
                    out.append(b36(x) + b36(y))
        r *= 2
    out = sorted(set(out))[:n]
    hs = {fx_words(int(k[:10], 36), int(k[10:], 36)) for k in out[:50]}
    assert len(hs) == 1 and all(k.startswith("ASIA") for k in out), "key id collision family is wrong"
    return out


# ---------------------------------------------------------------- shapes: records for size n
def one_key_many_outside_ips(n):
    k, i0 = key("OK", 1), inst(1)
    yield deliver(0, i0, k)
    for j in range(3):
        yield use(10 + j, k, i0, OWN)
    for j in range(n):
        yield use(100 + j // 50, k, i0, outside_ip(j), THIEF)


def instance_key_many_aws_ips_made_up_regions(n):
    k, i0 = key("MR", 1), inst(2)
    yield deliver(0, i0, k)
    yield use(10, k, i0, OWN)
    for j in range(n):
        yield use(100 + j // 50, k, i0, aws_ip(j), THIEF, region=f"zz-fake-{j + 1}", src="ec2.amazonaws.com",
                  name="DescribeInstances")


def ipv6_one_slash64(n):
    # Sequential interface ids in one /64 (2a01:4f8::/32 is outside AWS): origins are hashed with SipHash
    # under a per-run key now, so no crafted family is needed to test that the path stays linear.
    k, i0 = key("V6", 1), inst(3)
    yield deliver(0, i0, k)
    yield use(10, k, i0, OWN)
    for j in range(n):
        iid = (j + 1) * 0x9E3779B1
        yield use(100 + j // 50, k, i0, f"2a01:4f8:c17:1a2b:{(iid >> 48) & 0xFFFF:x}:{(iid >> 32) & 0xFFFF:x}:"
                  f"{(iid >> 16) & 0xFFFF:x}:{iid & 0xFFFF:x}", THIEF)


def keys_each_own_client_and_finding(n):
    i0 = inst(4)
    for j in range(n):
        k, t = key("OC", j), 20 * j
        yield deliver(t, i0, k)
        yield use(t + 1, k, i0, OWN, f"tool{j}/1.0 (linux; amd64)")
        yield use(t + 2, k, i0, outside_ip(j), THIEF)


def one_instance_many_keys_one_ip_own_clients(n):
    i0 = inst(5)
    for j in range(n):
        k, t = key("IC", j), 5 * j
        yield deliver(t, i0, k)
        yield use(t + 1, k, i0, OWN, f"client{j}/2.{j % 7} Linux/5.10")


def allocate_address_many(n):
    i0, k = inst(6), key("EA", 1)
    yield deliver(0, i0, k)
    yield use(1, k, i0, OWN)
    for j in range(n):
        ip, alloc = aws_ip(j), f"eipalloc-{j:017x}"
        yield human(10 + j, "netops", "AKIAEXAMPLENETOPS001", "192.0.2.45", "ec2.amazonaws.com", "AllocateAddress",
                    '{"domain":"vpc"}', f'{{"publicIp":"{ip}","allocationId":"{alloc}","domain":"vpc"}}')
        yield human(10 + j, "netops", "AKIAEXAMPLENETOPS001", "192.0.2.45", "ec2.amazonaws.com", "AssociateAddress",
                    f'{{"instanceId":"{i0}","allocationId":"{alloc}","allowReassociation":true}}',
                    f'{{"_return":true,"associationId":"eipassoc-{j:017x}"}}')
        yield use(11 + j, k, i0, ip)


def each_key_new_address(n, outside=False):
    i0 = inst(7)
    for j in range(n):
        k, t = key("NA", j), 10 * j
        yield deliver(t, i0, k)
        yield use(t + 1, k, i0, aws_ip(j))
        yield use(t + 5, k, i0, aws_ip(j))
        if outside:
            yield use(t + 6, k, i0, outside_ip(j), THIEF)


def vpc_endpoints_many(n):
    k, i0 = key("VE", 1), inst(8)
    yield deliver(0, i0, k)
    yield use(1, k, i0, OWN)
    for j in range(n):
        ext = f',"vpcEndpointId":"vpce-{j:017x}","vpcEndpointAccountId":"999988887777"'
        yield use(100 + j // 50, k, i0, f"10.{(j >> 16) & 255}.{(j >> 8) & 255}.{j & 255}", THIEF, extra=ext)


def forged_event_id_collisions(n):
    for j, u in enumerate(colliding_uuids(n)):
        yield human(j // 20, "batch-svc", "AKIAEXAMPLEBATCH0001", "198.51.100.7", "s3.amazonaws.com", "GetObject",
                    ro=True, event_id=u, ua=BOTO)


def forged_key_id_collisions(n):
    # Session "worker" and no ec2RoleDelivery: keys no workload owns, so only the key table works.
    for j, k in enumerate(colliding_key_ids(n)):
        yield use(j // 20, k, "worker", aws_ip(j % 1000), BOTO, imds=None)


def long_user_agents_memory(n):
    pad = "A" * (1 << 20)
    k, i0 = key("UA", 1), inst(9)
    yield deliver(0, i0, k)
    for j in range(n):
        yield use(10 + j, k, i0, outside_ip(j % 100), f"x{j:07d}{pad}")


def many_findings_memory(n):
    for j in range(n):
        k, i0 = key("MF", j), inst(100 + j)
        yield deliver(j, i0, k)
        yield use(j + 1, k, i0, outside_ip(j), THIEF)


def role_sessions(n, own_calls=2):
    """n instances of ROLE, one key each: used from their own address, 3 in 4 also from outside."""
    for j in range(n):
        k, i0, t = key("RS", j), inst(1000 + j), 3 * j
        yield deliver(t, i0, k)
        for c in range(own_calls):
            yield use(t + 1 + c, k, i0, aws_ip(j))
        if j % 4:
            yield use(t + 2, k, i0, outside_ip(j), THIEF)
            yield use(t + 3, k, i0, outside_ip(j + n), THIEF, src="ec2.amazonaws.com", name="DescribeInstances")


def deep_chain(n):
    k0, i0 = key("DC", 0), inst(10)
    yield deliver(0, i0, k0)
    yield use(1, k0, i0, OWN)
    yield use(2, k0, i0, "45.33.32.156", THIEF)
    prev, prev_sess, prev_role = k0, i0, ROLE
    for j in range(1, n + 1):
        kj, role, sess = key("DC", j), f"chain-{j % 50}", f"hop{j}"
        yield assume_with(3 + j, prev, prev_sess, prev_role, "45.33.32.156", role, sess, kj)
        yield create_access_key(3 + j, kj, sess, role, "45.33.32.156", f"u{j}", key("PK", j, "AKIA"), imds=None)
        prev, prev_sess, prev_role = kj, sess, role


def many_create_access_key(n):
    k, i0 = key("CK", 0), inst(11)
    yield deliver(0, i0, k)
    yield use(1, k, i0, OWN)
    for j in range(n):
        akia = key("CK", j, "AKIA")
        yield create_access_key(2 + j // 10, k, i0, ROLE, "45.33.32.156", f"svc{j}", akia)
        yield human(5000 + j // 10, f"svc{j}", akia, "45.33.32.156", "s3.amazonaws.com", "ListBuckets", ro=True)


# name -> (records for size n, base N, [(label, command kind)], what the 4N run must produce); report --finding
# and revoke first run an untimed scan for their findings file.
SCAN = [("scan", "scan")]
SHAPES = {
    "one_key_many_outside_ips": (one_key_many_outside_ips, 15000, SCAN, "findings>=1"),
    "instance_key_many_aws_ips_made_up_regions": (instance_key_many_aws_ips_made_up_regions, 15000, SCAN,
                                                  "findings>=1"),
    "ipv6_one_slash64": (ipv6_one_slash64, 10000, SCAN, "findings>=1"),
    "keys_each_own_client_and_finding": (keys_each_own_client_and_finding, 5000, SCAN, "findings>=n"),
    "one_instance_many_keys_one_ip_own_clients": (one_instance_many_keys_one_ip_own_clients, 40000, SCAN, ""),
    "allocate_address_many": (allocate_address_many, 30000, SCAN, ""),
    "each_key_new_address": (each_key_new_address, 10000, SCAN, ""),
    "each_key_new_address_plus_outside": (lambda n: each_key_new_address(n, True), 10000, SCAN, "findings>=n"),
    "vpc_endpoints_many": (vpc_endpoints_many, 15000, SCAN, "findings>=1"),
    "forged_event_id_collisions": (forged_event_id_collisions, 20000, SCAN, ""),
    "forged_key_id_collisions": (forged_key_id_collisions, 20000, SCAN, ""),
    "long_user_agents_memory": (long_user_agents_memory, 250, SCAN, "findings>=1"),
    "many_findings_memory": (many_findings_memory, 7500, [("scan", "scan"), ("scan --no-detect", "nodetect")],
                             "findings>=n"),
    "timeline_role_many_uses": (role_sessions, 5000, [("timeline --role", "timeline")], "flagged>=n/2"),
    "report_finding_deep_chain": (deep_chain, 1500, [("report --finding", "report_finding")], "keys>=n"),
    "report_key_many_create_access_key": (many_create_access_key, 3000, [("report --key", "report_key")],
                                          "keys>=n"),
    "revoke_emit_many_findings": (role_sessions, 5000, [("revoke --finding --emit", "revoke")], "findings>=n/2"),
}
REPORT_KEY = {"report_key_many_create_access_key": key("CK", 0)}


# ---------------------------------------------------------------- writing and running
def write_trail(records, folder, per_file_bytes=64 << 20):
    """Writes the records as CloudTrail files under folder; returns (records, uncompressed bytes)."""
    os.makedirs(folder, exist_ok=True)
    count, total, part, buf, size = 0, 0, 0, [], 0

    def flush():
        nonlocal part, buf, size
        # Not named by CloudTrail's S3 layout: a layout name carries a delivery time, which prunes inputs.
        name = os.path.join(folder, f"hostile-{part:05d}.json.gz")
        with gzip.open(name, "wb", compresslevel=1) as f:
            f.write(b'{"Records":[' + ",".join(buf).encode() + b"]}")
        part, buf, size = part + 1, [], 0

    for r in records:
        buf.append(r)
        size += len(r)
        count += 1
        total += len(r)
        if size >= per_file_bytes:
            flush()
    if buf or part == 0:
        flush()
    return count, total


class Failed(Exception):
    pass


def run(binary, args, kind, work, stdout_path=None):
    """Runs trailhound once: (seconds, peak RSS MB, exit status). Raises Failed on a crash or an
    undocumented exit status."""
    err_path = os.path.join(work, "stderr.txt")
    rss_path = os.path.join(work, "rss.txt")
    cmd = [binary, *args]
    timed = os.access("/usr/bin/time", os.X_OK)
    if timed:
        cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_path, *cmd]
    env = dict(os.environ, AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_EC2_METADATA_DISABLED="true")
    with open(stdout_path or os.devnull, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        secs = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    rss, crashed = usage.ru_maxrss / 1024, code < 0
    signal = f"signal {-code}" if code < 0 else ""
    if timed:
        lines = open(rss_path).read().split("\n")
        signal = next((ln.strip() for ln in lines if "terminated by signal" in ln), signal)
        crashed |= bool(signal)
        nums = [ln.strip() for ln in lines if ln.strip().isdigit()]
        if nums:
            rss = int(nums[-1]) / 1024
    if crashed or code not in OK_EXIT[kind]:
        tail = open(err_path, errors="replace").read().splitlines()[-20:]
        what = f"crashed ({signal})" if crashed else f"exited {code}"
        raise Failed(f"trailhound {what}: {' '.join(args)}\n  stderr tail:\n    " + "\n    ".join(tail))
    return secs, rss, code


def count_findings(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return len(json.loads(text)) if text.startswith("[") else len(text.splitlines())
    except (OSError, ValueError):
        return -1


def measure(binary, kind, folder, work, shape):
    """One timed command over one trail (with its untimed prep scan); returns (secs, rss, outcome)."""
    out = os.path.join(work, "out.json")
    if kind in ("scan", "nodetect"):
        args = ["scan", folder, "-q", "--format", "json", "-o", out] + (["--no-detect"] if kind == "nodetect" else [])
        secs, rss, code = run(binary, args, "scan", work)
        return secs, rss, ({"findings": count_findings(out)} if kind == "scan" else {}), code
    findings = os.path.join(work, "findings.json")
    if kind in ("report_finding", "revoke") and not os.path.exists(findings):
        run(binary, ["scan", folder, "-q", "--format", "json", "-o", findings], "scan", work)
    if kind == "timeline":
        args = ["timeline", folder, "--role", ROLE, "--format", "json", "-o", out, "-q"]
        secs, rss, code = run(binary, args, "timeline", work)
        doc = json.load(open(out))
        return secs, rss, {"uses": len(doc["uses"]), "flagged": len(doc["flagged_keys"])}, code
    if kind in ("report_finding", "report_key"):
        start = ["--finding", findings] if kind == "report_finding" else ["--key", REPORT_KEY[shape]]
        args = ["report", folder, *start, "--format", "json", "-o", out, "-q"]
        secs, rss, code = run(binary, args, "report", work)
        doc = json.load(open(out))
        return secs, rss, {"keys": len(doc["keys"]), "events": len(doc["events"])}, code
    if kind == "revoke":  # --emit: prints the documents and commands, calls nothing (never --apply)
        args = ["revoke", "--finding", findings, "--emit", "--audit-log", os.path.join(work, "audit.jsonl")]
        secs, rss, code = run(binary, args, "revoke", work, stdout_path=out)
        return secs, rss, {"findings": count_findings(findings), "plan_lines": len(open(out).readlines())}, code
    raise ValueError(kind)


def check(expect, outcome, n):
    """'' when the 4N run produced what the shape means to, else a note."""
    if not expect:
        return ""
    what, bound = expect.split(">=")
    want = {"1": 1, "n": n, "n/2": n // 2}[bound]
    got = outcome.get(what, 0)
    return "" if got >= want else f"expected {what} >= {want} at 4N, got {got}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/trailhound"))
    ap.add_argument("--only", default="")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--keep", metavar="DIR")
    ap.add_argument("--reps", type=int, default=2, help="runs per size: the fastest time and largest RSS count")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        print("\n".join(SHAPES))
        return 0
    names = [s for s in a.only.split(",") if s] or list(SHAPES)
    unknown = [s for s in names if s not in SHAPES]
    if unknown:
        sys.exit(f"unknown shape(s): {', '.join(unknown)} (--list names them)")
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"{a.bin} not found or not executable: build it first (cargo build --release)")
    base = a.keep or tempfile.mkdtemp(prefix="trailhound-hostile-")
    os.makedirs(base, exist_ok=True)
    rss_how = "/usr/bin/time %M" if os.access("/usr/bin/time", os.X_OK) else "wait4 ru_maxrss"
    print(f"binary {a.bin}; trails in {base}; peak RSS from {rss_how}")
    head = (f"{'shape':<42} {'subcommand':<24} {'N':>6} {'t(N)':>6} {'t(2N)':>6} {'t(4N)':>6}"
            f" {'MB(N)':>6} {'MB(2N)':>6} {'MB(4N)':>6} {'4N/2N':>6}  {'flag':<10} 4N output")
    print(head + "\n" + "-" * len(head), flush=True)
    notes, failed, started = [], False, time.perf_counter()
    try:
        for name in names:
            gen, n0, cmds, expect = SHAPES[name]
            n = max(1, round(n0 * a.scale))
            res = {label: [] for label, _ in cmds}
            outcome, info = {}, ""
            try:
                for mult in (1, 2, 4):
                    folder = os.path.join(base, name, f"{mult}N")
                    work = os.path.join(base, name, f"{mult}N-out")
                    os.makedirs(work, exist_ok=True)
                    t0 = time.perf_counter()
                    recs, size = write_trail(gen(n * mult), folder)
                    info = f"{recs} records, {size / 1e6:.0f} MB JSON, generated in {time.perf_counter() - t0:.1f} s"
                    for label, kind in cmds:
                        runs = [measure(a.bin, kind, folder, work, name) for _ in range(a.reps)]
                        res[label].append((min(r[0] for r in runs), max(r[1] for r in runs)))
                        secs, rss, got, code = runs[-1]
                        outcome = got if label == cmds[0][0] else outcome
                        if code in PARTIAL:
                            notes.append(f"{name} at {mult}N: exit {code}, a partial run (see --keep and --summary)")
                    if not a.keep:
                        shutil.rmtree(os.path.join(base, name), ignore_errors=True)
            except Failed as e:
                failed = True
                print(f"{name:<42} FAILED\n  {e}", flush=True)
                continue
            for label, _ in cmds:
                (t1, m1), (t2, m2), (t4, m4) = res[label]
                ratio = t4 / t2 if t2 > 0 else float("inf")
                flag = "QUADRATIC?" if ratio > 3 and t4 > 0.5 else ""
                shown = ", ".join(f"{k} {v}" for k, v in outcome.items()) if label == cmds[0][0] else ""
                print(f"{name:<42} {label:<24} {n:>6} {t1:6.2f} {t2:6.2f} {t4:6.2f} {m1:6.0f} {m2:6.0f} {m4:6.0f}"
                      f" {ratio:6.2f}  {flag:<10} {shown}", flush=True)
            miss = check(expect, outcome, 4 * n)
            if miss:
                notes.append(f"{name}: {miss}")
            print(f"    ({info} at 4N)", flush=True)
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    for note in notes:
        print(f"note: {note}")
    print(f"total {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
