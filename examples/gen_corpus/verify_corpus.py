#!/usr/bin/env python3
"""Verify a gen_corpus output directory: layout, counts, uniqueness, background rules, scenarios."""
import gzip, json, os, re, sys, ipaddress, collections, datetime, bisect

root = sys.argv[1]
ipr = sys.argv[2] if len(sys.argv) > 2 else '/work/shared/corpora/aws-ip-ranges/ip-ranges.json'
gt = json.load(open(os.path.join(root, 'ground_truth.json')))
errors = collections.Counter()
examples = {}
def err(kind, msg=''):
    errors[kind] += 1
    examples.setdefault(kind, msg)

# --- AWS ranges: EC2 prefixes by region + any-AWS prefixes
d = json.load(open(ipr))
ec2 = collections.defaultdict(list); anyaws = []
for p in d['prefixes']:
    n = ipaddress.ip_network(p['ip_prefix'])
    anyaws.append(n)
    if p['service'] == 'EC2':
        ec2[p['region']].append(n)
def in_nets(ip, nets):
    try: a = ipaddress.ip_address(ip)
    except ValueError: return False
    return any(a in n for n in nets)
cache = {}
def ec2_region_of(ip):
    if ip not in cache:
        cache[ip] = {r for r, nets in ec2.items() if in_nets(ip, nets)}
    return cache[ip]
def is_aws(ip):
    return in_nets(ip, anyaws)

ts = lambda s: datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc).timestamp()
name_re = re.compile(r'^(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8}T\d{4}Z)_([A-Za-z0-9]{16})\.json\.gz$')

files = 0; records = 0; dbytes = 0; sizes = []
event_ids = set(); dup_ids = 0
deliveries = {}      # key -> dict
uses = collections.defaultdict(list)   # key -> list of records (slim)
humans_ips = set(); human_recs = 0
other = collections.Counter()
per_file_counts = []
allocs = []; assocs = []
for dirpath, _, fns in os.walk(os.path.join(root, 'AWSLogs')):
    for fn in fns:
        path = os.path.join(dirpath, fn)
        m = name_re.match(fn)
        if not m: err('bad file name', path); continue
        acct, region, stamp, _ = m.groups()
        parts = os.path.relpath(path, root).split(os.sep)
        if parts[1] != acct or parts[2] != 'CloudTrail' or parts[3] != region or ''.join(parts[4:7]) != stamp[:8]:
            err('path/name mismatch', path)
        raw = gzip.open(path).read()
        dbytes += len(raw); files += 1
        doc = json.loads(raw)
        recs = doc['Records']
        per_file_counts.append(len(recs))
        records += len(recs)
        times = [ts(r['eventTime']) for r in recs]
        if times != sorted(times): err('unsorted file', path)
        ft = datetime.datetime.strptime(stamp, '%Y%m%dT%H%MZ').replace(tzinfo=datetime.timezone.utc).timestamp()
        lag = ft - max(times)
        if not (0 <= lag + 59 and lag <= 600): err('file stamp not 1-10 min after newest', f'{path} lag={lag}')
        for r in recs:
            sizes.append(len(json.dumps(r, separators=(',', ':'))))
            if r['eventID'] in event_ids: dup_ids += 1
            event_ids.add(r['eventID'])
            if r['recipientAccountId'] != acct: err('recipient != path account', path)
            if r['awsRegion'] != region: err('awsRegion != path region', path)
            for f in ['eventVersion','userIdentity','eventTime','eventSource','eventName','awsRegion','sourceIPAddress','userAgent','requestID','eventID','readOnly','eventType','managementEvent','recipientAccountId','eventCategory']:
                if f not in r: err('missing field ' + f, path)
            ui = r['userIdentity']
            t = ts(r['eventTime'])
            if ui['type'] == 'AWSService' and r['eventName'] == 'AssumeRole':
                c = r['responseElements']['credentials']
                k = c['accessKeyId']
                if k in deliveries: err('key delivered twice', k)
                deliveries[k] = dict(t=t, svc=ui['invokedBy'], session=r['requestParameters']['roleSessionName'],
                                     role=r['requestParameters']['roleArn'], region=region, acct=acct)
            elif ui['type'] == 'AssumedRole':
                sc = ui['sessionContext']
                uses[ui['accessKeyId']].append(dict(t=t, ip=r['sourceIPAddress'], ua=r['userAgent'], region=region,
                    src=r['eventSource'], name=r['eventName'], vpce=r.get('vpcEndpointId'), inv=ui.get('invokedBy'),
                    deliv=sc.get('ec2RoleDelivery'), session=ui['arn'].split('/')[-1], role=sc['sessionIssuer']['arn'],
                    created=ts(sc['attributes']['creationDate']), acct=acct, rolename=sc['sessionIssuer']['userName'],
                    params=r.get('requestParameters')))
            if ui['type'] == 'IAMUser' or (ui['type'] == 'AssumedRole' and 'AWSReservedSSO' in ui['arn']):
                humans_ips.add(r['sourceIPAddress']); human_recs += 1
                if r['eventName'] == 'AllocateAddress': allocs.append((t, r))
                if r['eventName'] == 'AssociateAddress': assocs.append((t, r))

print(f'files {files} records {records} bytes {dbytes} avg record {sum(sizes)/max(1,len(sizes)):.0f} B')
print(f'records/file min {min(per_file_counts)} max {max(per_file_counts)} mean {records/files:.0f}; files <100: {sum(1 for c in per_file_counts if c<100)}, >600: {sum(1 for c in per_file_counts if c>600)}')
if (gt['files'], gt['records'], gt['bytes']) != (files, records, dbytes): err('ground_truth counts mismatch', (gt['files'], gt['records'], gt['bytes'], files, records, dbytes))
if dup_ids: err('duplicate eventIDs', dup_ids)
if sum(1 for c in per_file_counts if c > 600): err('file > 600 records')

# --- scenario keys
# IAM users working from AWS addresses (the bastion, the cloud desktop) belong to the newer scenarios.
new_human_ips = {ip for ip in humans_ips if is_aws(ip)}
mal = set(); mal_first = {}
scen_of_key = {}
for s in gt['scenarios']:
    for k in s['keys']: scen_of_key[k] = s['name']
    for k in s['malicious_keys']: mal.add(k)
# The original scenarios follow the strict per-workload rules below; the newer ones break them on
# purpose (several origins, other regions, mapped addresses, service-delivered keys).
OLD = {'nat_shared', 'vpce_only', 'eip_moved', 'service_on_behalf', 'console_sso', 'lambda_scale', 'ecs_scale',
       'eks_nodes', 'trusted_onprem', 'theft_outside_aws', 'theft_other_aws', 'theft_attacker_first', 'theft_lambda',
       'theft_ecs', 'theft_behind_nat'}
attack_ips = {'45.33.32.156', '45.33.32.157', '45.33.32.158', '45.33.32.159'}
scen_region = {s['name']: s.get('region') for s in gt['scenarios']}
eip_inst = None
if assocs:
    eip_inst = assocs[0][1]['requestParameters']['instanceId']
    new_ip = allocs[0][1]['responseElements']['publicIp']
    if allocs[0][0] >= assocs[0][0]: err('AllocateAddress not before AssociateAddress')

# --- workloads: group keys by (acct, session, role)
wl = collections.defaultdict(list)
for k, d_ in deliveries.items():
    if d_['svc'] in ('ec2.amazonaws.com', 'lambda.amazonaws.com', 'ecs-tasks.amazonaws.com'):
        wl[(d_['acct'], d_['session'], d_['role'])].append(k)
kinds = collections.Counter()
for (acct, session, role), keys in wl.items():
    svc = deliveries[keys[0]]['svc']; region = deliveries[keys[0]]['region']
    kinds[svc] += 1
    origins = collections.Counter(); uas = set(); nuses = 0
    scen = {scen_of_key.get(k) for k in keys} - {None}
    scen = scen.pop() if scen else None
    if scen is not None and scen not in OLD:
        continue
    for k in keys:
        dl = deliveries[k]
        for u in uses.get(k, []):
            if u['session'] != session or u['role'] != role: err('key used by another session', k)
            if u['t'] < dl['t']: err('use before delivery', k)
            if u['created'] != dl['t']: err('creationDate != delivery time', k)
            if k in mal and (u['ip'] in attack_ips or u['ua'] != u['ua'].replace('Darwin', '') or 'aws-cli' in u['ua'] or 'macos' in u['ua']):
                mal_first[k] = min(mal_first.get(k, 1e18), u['t']); continue
            if u['inv']:
                if not (u['ip'].endswith('.amazonaws.com') or u['ip'] == 'AWS Internal'): err('invokedBy with non-service source', u)
                continue
            nuses += 1
            # regional rule
            if u['src'] == 'sts.amazonaws.com' and u['name'] == 'GetCallerIdentity':
                if u['region'] not in ('us-east-1', region): err('GetCallerIdentity region', u)
            elif u['region'] != region: err('workload called a regional service in another region', (session, u['region'], region))
            # origin rules
            if svc == 'lambda.amazonaws.com':
                if region not in ec2_region_of(u['ip']): err('lambda source not in EC2 range of its region', u['ip'])
                if 'exec-env/AWS_Lambda_python3.12' not in u['ua']: err('lambda UA without exec-env', u['ua'])
                if u['deliv']: err('lambda with ec2RoleDelivery')
                continue
            if svc == 'ecs-tasks.amazonaws.com':
                if 'exec-env/AWS_ECS_FARGATE' not in u['ua']: err('ecs UA without exec-env', u['ua'])
                if u['deliv']: err('ecs with ec2RoleDelivery')
            if svc == 'ec2.amazonaws.com' and u['deliv'] not in ('2.0', '1.0'): err('instance use without ec2RoleDelivery')
            if svc == 'ec2.amazonaws.com' and session != u['session']: err('session mismatch')
            o = (u['ip'], u['vpce'])
            if session == eip_inst:
                exp_new = u['t'] > assocs[0][0]
                if (u['ip'] == new_ip) != exp_new: err('eip_moved instance origin wrong side of AssociateAddress', (u['t'], u['ip']))
            origins[o] += 1
            uas.add(u['ua'])
            if u['vpce']:
                if not u['ip'].startswith('10.'): err('vpce use with non-private source')
            elif u['ip'] == '203.0.113.10':
                if scen != 'trusted_onprem': err('203.0.113.10 outside trusted_onprem')
            elif region not in ec2_region_of(u['ip']): err('workload origin not in EC2 range of its region', (session, u['ip'], region))
            if u['ip'] in humans_ips and u['ip'] not in new_human_ips: err('human shares a workload address', u['ip'])
    if svc != 'lambda.amazonaws.com':
        lim = 2 if session == eip_inst else 1
        if len(origins) > lim: err('workload with several origins', (session, dict(origins)))
        if len(uas) > 6 or (len(uas) > 3 and scen != 'eks_nodes'): err('too many clients', (session, uas))
    if nuses == 0: err('workload without uses', session)
    if svc == 'ec2.amazonaws.com' and len(keys) < 3 and scen != 'theft_attacker_first': err('instance with few keys', (session, len(keys)))
print('workloads by issuer:', dict(kinds))
print('human records:', human_recs, 'human addresses:', sorted(humans_ips))

# every ASIA key used by a workload-shaped session has a delivery
for k, us in uses.items():
    s = us[0]['session']
    if (s.startswith('i-') or re.fullmatch(r'[0-9a-f]{32}', s)) and k not in deliveries: err('instance/task key without delivery', k)

# per-key first malicious times (every scenario): each names a use of that key at that second, and
# none of the key's uses before it comes from outside the scenario's planted workload addresses
for s in gt['scenarios']:
    times = s.get('first_malicious_times', {})
    if sorted(times) != sorted(s['malicious_keys']): err('first_malicious_times keys differ from malicious_keys', s['name'])
    for k, t in times.items():
        if not any(u['t'] == ts(t) for u in uses.get(k, [])): err('no use at first_malicious_times', (s['name'], k, t))
    if times and ts(s['first_malicious_time']) != min(ts(t) for t in times.values()): err('first_malicious_time is not the earliest', s['name'])

# --- scenarios
for s in gt['scenarios']:
    present = [k for k in s['keys'] if k in uses or k in deliveries]
    if len(present) != len(s['keys']): err('scenario key missing from corpus', (s['name'], len(s['keys']) - len(present)))
    if s['expected'] == 'finding':
        if not s['malicious_keys'] or s['first_malicious_time'] is None: err('theft without malicious keys/time', s['name'])
        for k in s['malicious_keys']:
            if k not in s['keys']: err('malicious key not among keys', s['name'])
            if s['name'] not in OLD: continue
            if k not in mal_first: err('no attacker use found', (s['name'], k)); continue
            if ts(s['first_malicious_time']) != mal_first[k]: err('first_malicious_time mismatch', (s['name'], s['first_malicious_time'], mal_first[k]))
    else:
        if s['malicious_keys'] or s['first_malicious_time'] is not None: err('negative with malicious data', s['name'])
    print(f"  {s['name']:22s} {s['expected']:8s} keys={len(s['keys']):4d} mal={s['malicious_keys']} first={s['first_malicious_time']} flags={s['flags']}")

# attacker addresses must be outside AWS; theft_other_aws attacker must be EC2 of another region
for ip in attack_ips | {'203.0.113.10'} | (humans_ips - new_human_ips):
    if is_aws(ip): err('address expected outside AWS is inside', ip)
for s in gt['scenarios']:
    if s['name'] == 'theft_other_aws':
        k = s['malicious_keys'][0]
        ips = {u['ip'] for u in uses[k]}
        regs = [ec2_region_of(ip) for ip in ips]
        if not (len(ips) == 2 and any(r and s['region'] not in r for r in regs)): err('theft_other_aws shape', ips)
        print('  theft_other_aws addresses:', {ip: sorted(ec2_region_of(ip)) for ip in ips})
    if s['name'] == 'theft_attacker_first':
        k = s['malicious_keys'][0]
        allk = s['keys']
        first_use = min(u['t'] for kk in allk for u in uses.get(kk, []))
        if first_use != ts(s['first_malicious_time']): err('attacker not first', s['name'])

print('errors:', dict(errors) if errors else 'none')
for k, v in examples.items(): print('  e.g.', k, '->', str(v)[:300])
sys.exit(1 if errors else 0)
