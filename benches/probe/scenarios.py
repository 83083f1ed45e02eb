"""Scenarios: each returns (records, expected_flagged_keys: {key: expected first_seen or None}, note, extra args).
Run: python3 benches/probe/scenarios.py [name ...]   (seed fixed per scenario: SEED env var overrides)"""
import sys, os, json
import th
from th import *

PUB = '52.5.17.23'; PUB2 = '52.6.100.9'; NAT = '3.225.16.109'; EIP = '44.192.10.5'
THIEF_SAME = '52.7.3.4'; THIEF_EU = '54.247.12.34'; LAPTOP = '81.2.69.142'
H = 3600
S = {}
def sc(f):
    S[f.__name__] = f; return f

def direct(ip):
    return lambda t, s: (ip, None, None)

# ---------------- benign ----------------
@sc
def b01_baseline_24h():
    """Instance with public IP, 24 h, hourly keys, overlap. Sanity: nothing."""
    r = []; instance_life(r, 'i-0a1b2c3d4e5f60001', 'app-role', 0, 24*H, direct(PUB)); return r, {}, ''

@sc
def b02_bastion_two_keys_iam_users():
    """Bastion: instance role + engineers' IAM users call AWS from the bastion's public IP. Scan = 2 h (2 keys)."""
    r = []
    instance_life(r, 'i-0ba5710000000001', 'bastion-role', 0, 2*H, direct(PUB), uas=('ssm', 'cwagent'))
    for t in range(600, 2*H, 900):
        r.append(human(t, 'alice', PUB, ua='cli')); r.append(human(t+60, 'bob', PUB, ua='cli'))
    return r, {}, 'PRODUCT: bastions where engineers IAM users work beside the instance role are a known FP'

@sc
def b03_bastion_6keys_mostly_endpoints():
    """Bastion 6 h; SSM+S3 go through the account's own endpoints, only cwagent calls from the public IP on 2 of 6 keys."""
    r = []
    def path(t, s):
        if s in ('ssm.amazonaws.com', 's3.amazonaws.com', 'logs.amazonaws.com', 'kms.amazonaws.com', 'dynamodb.amazonaws.com', 'ec2.amazonaws.com'):
            return ('10.0.1.15', 'vpce-0aa11bb22cc33dd44', ACCT)
        return (PUB, None, None)
    instance_life(r, 'i-0ba5710000000002', 'bastion-role', 0, 6*H, path, uas=('ssm', 'boto'))
    # monitoring script from the public address on keys 2 and 5 (sts GetCallerIdentity via public endpoint)
    for t in (1*H+100, 4*H+100):
        r.append(use(t, None, 'i-0ba5710000000002', 'bastion-role', PUB, ua='cli', source='sts.amazonaws.com', name='GetCallerIdentity', ro=True))
    # fill keys for those calls
    keys = sorted([x for x in r if x['eventName'] == 'AssumeRole'], key=lambda x: x['eventTime'])
    for x in r:
        if x['userIdentity'].get('accessKeyId') is None and x['eventName'] == 'GetCallerIdentity':
            idx = 1 if x['eventTime'] < ts(2*H) else 4
            x['userIdentity']['accessKeyId'] = keys[idx]['responseElements']['credentials']['accessKeyId']
            x['userIdentity']['sessionContext']['attributes']['creationDate'] = keys[idx]['eventTime']
    for t in range(600, 6*H, 1200):
        r.append(human(t, 'alice', PUB, ua='cli'))
    return r, {}, 'bastion: people and the instance share the public IP'

@sc
def b04_nat_shared_with_iam_user_app():
    """ASG instances (1-3 keys each, come and go) behind one NAT gateway; a legacy app in the same VPC uses IAM-user keys through that NAT."""
    r = []
    start = 0
    for n in range(8):
        life = (1 + n % 3) * H - 600
        instance_life(r, f'i-0a5a000000000{n:03d}', 'web-asg-role', start, start + life, direct(NAT))
        start += 2000
    for t in range(300, 12*H, 600):
        r.append(human(t, 'legacy-batch-svc', NAT, ua='java'))
    return r, {}, 'PRODUCT: NAT gateways shared by several instances; IAM-user service accounts behind the same NAT are routine'

@sc
def b05_nat_shared_with_sso_workspace():
    """Same NAT, an engineer on a Cloud9/WorkSpaces box in the VPC with an SSO session."""
    r = []
    instance_life(r, 'i-0a5a00000000aaaa', 'web-asg-role', 0, 2*H - 300, direct(NAT))
    for t in range(300, 2*H, 900):
        r.append(human(t, 'carol@example.com', NAT, ua='cli', kind='sso'))
    return r, {}, ''

@sc
def b06_stop_start_new_ip_last_key():
    """Instance runs 5 h on public IP A, stopped and started: new public IP B, one key (40 min) before the window ends."""
    r = []
    instance_life(r, 'i-0570957a00000001', 'app-role', 0, 5*H, direct(PUB))
    instance_life(r, 'i-0570957a00000001', 'app-role', 5*H + 600, 5*H + 600 + 2400, direct(PUB2))
    return r, {}, 'AWS gives a new public IPv4 on start; PRODUCT: address change after stop/start is benign'

@sc
def b07_eip_mid_life_no_assoc_record():
    """Elastic IP associated at 3h20 (AssociateAddress record not in the scanned trail/region); window ends at 3h50."""
    r = []
    ip_at = lambda t, s: ((PUB if t < 3*H + 1200 else EIP), None, None)
    instance_life(r, 'i-0e1b000000000001', 'app-role', 0, 3*H + 3000, ip_at)
    return r, {}, ''

@sc
def b08_s3_gateway_endpoint_no_account_id():
    """Public-subnet instance: S3 via gateway endpoint (private IP + vpcEndpointId, no vpcEndpointAccountId as in pre-2024 records/the invictus corpus), rest via public IP."""
    r = []
    ip_at = lambda t, s: (('10.0.3.77', 'vpce-f40dc59d', None) if s == 's3.amazonaws.com' else (PUB, None, None))
    instance_life(r, 'i-0e5e000000000001', 'app-role', 0, 6*H, ip_at, every=120)
    return r, {}, 'invictus corpus: S3 gateway endpoint record with vpcEndpointId and no vpcEndpointAccountId'

@sc
def b09_s3_gateway_endpoint_one_key():
    r = []
    ip_at = lambda t, s: (('10.0.3.77', 'vpce-f40dc59d', None) if s == 's3.amazonaws.com' else (PUB, None, None))
    instance_life(r, 'i-0e5e000000000002', 'app-role', 0, 50*60, ip_at, every=60)
    return r, {}, ''

@sc
def b10_central_endpoints_shared_services():
    """Interface endpoints for SSM/STS/KMS/logs live in a shared-services network account (444455556666) reached over TGW; scan is the workload account only."""
    r = []
    def path(t, s):
        if s in ('ssm.amazonaws.com', 'kms.amazonaws.com', 'logs.amazonaws.com'):
            return ('10.20.1.9', 'vpce-0c3e000000000ssm', '444455556666')
        return (NAT, None, None)
    instance_life(r, 'i-0ce7000000000001', 'app-role', 0, 6*H, path)
    return r, {}, 'PRODUCT: a shared-services account endpoint the workload uses across its keys is its own'

@sc
def b11_ipv6_dual_stack():
    """Dual-stack instance: some SDK calls over IPv6 dual-stack endpoints (EC2 us-east-1 IPv6), others IPv4."""
    r = []
    ip_at = lambda t, s: (('2600:1f18:4a3b:1200::25' if s in ('s3.amazonaws.com', 'ec2.amazonaws.com') else PUB), None, None)
    instance_life(r, 'i-0d6a000000000001', 'app-role', 0, 4*H, ip_at)
    return r, {}, ''

@sc
def b12_delivery_outside_window_cross_region():
    """Instance in us-east-1 (delivery records before the window) whose app only calls eu-west-1 DynamoDB/KMS."""
    r = []
    def ip_at(t, s): return (PUB, None, None)
    ks = instance_life(r, 'i-0c70000000000001', 'replicator-role', 0, 5*H, ip_at, region='eu-west-1', deliver_from=10*H, uas=('boto',))
    # deliveries happen in us-east-1 but are outside the window: none written (deliver_from beyond end)
    for x in r: x['awsRegion'] = 'eu-west-1'
    return r, {}, 'workloads call other regions APIs all the time; address is us-east-1 EC2'

@sc
def b13_invokedby_and_service_sources():
    r = []
    ks = instance_life(r, 'i-0175000000000001', 'app-role', 0, 3*H, direct(PUB))
    for k, iss, _ in ks:
        r.append(use(iss + 600, k, 'i-0175000000000001', 'app-role', 'cloudformation.amazonaws.com', ua='cloudformation.amazonaws.com', invoked_by='cloudformation.amazonaws.com', issued=iss, source='ec2.amazonaws.com', name='RunInstances', ro=False))
        r.append(use(iss + 700, k, 'i-0175000000000001', 'app-role', 'athena.amazonaws.com', ua='athena.amazonaws.com', invoked_by='athena.amazonaws.com', issued=iss, source='s3.amazonaws.com', name='GetObject'))
        r.append(use(iss + 800, k, 'i-0175000000000001', 'app-role', 'AWS Internal', ua='AWS Internal', issued=iss, source='kms.amazonaws.com', name='Decrypt'))
    return r, {}, ''

@sc
def b14_lambda_vpc_nat_ecs_codebuild_glue():
    r = []
    for i in range(6):  # lambda cold starts, behind NAT and without VPC
        k = newkey(); t = i * 1800
        r.append(deliver(t, 'orders-fn', 'orders-fn-role', k, by='lambda.amazonaws.com'))
        for j in range(5):
            r.append(use(t + 10 + j * 60, k, 'orders-fn', 'orders-fn-role', NAT if i % 2 else '98.80.1.2', ua='lambda', issued=t, ec2=False))
    for i in range(4):  # fargate tasks, app + fluent-bit sidecar
        k = newkey(); t = i * 3000; task = f'{i:032x}'
        r.append(deliver(t, task, 'api-task-role', k, by='ecs-tasks.amazonaws.com'))
        for j in range(5):
            r.append(use(t + 10 + j * 60, k, task, 'api-task-role', NAT, ua='ecs', issued=t, ec2=False))
            r.append(use(t + 20 + j * 60, k, task, 'api-task-role', NAT, ua='fluentbit', issued=t, ec2=False, source='logs.amazonaws.com', name='PutLogEvents', ro=False))
    for i in range(3):
        k = newkey(); t = i * 4000; b = f'AWSCodeBuild-{i:08x}-aaaa-bbbb-cccc-1234567890ab'
        r.append(deliver(t, b, 'cb-role', k, by='codebuild.amazonaws.com'))
        for j in range(4):
            r.append(use(t + 30 + j * 60, k, b, 'cb-role', '52.4.200.10', ua='codebuild', issued=t, ec2=False))
    for i in range(2):
        k = newkey(); t = i * 5000; g = 'GlueJobRunnerSession'
        r.append(deliver(t, g, 'glue-role', k, by='glue.amazonaws.com'))
        for j in range(4):
            r.append(use(t + 30 + j * 60, k, g, 'glue-role', '10.0.7.%d' % (10 + j), ua='java', issued=t, ec2=False, source='s3.amazonaws.com', name='GetObject', vpce='vpce-0g1ue00000000001', vpce_acct=ACCT))
    return r, {}, ''

@sc
def b15_eks_node_pods_many_sdks():
    r = []
    uas = ('kubelet', 'cni', 'boto', 'java', 'cli', 'aws-sdk-go-v2/1.25.0 os/linux lang/go#1.22 md/GOOS#linux', 'aws-sdk-nodejs/2.1550.0 linux/v18.19.0 exec-env/AWS_ECS_EC2')
    instance_life(r, 'i-0e45000000000001', 'eks-NodeInstanceRole-ABC', 0, 6*H, direct(NAT), uas=uas, every=400)
    return r, {}, ''

@sc
def b16_missing_fields():
    r = []
    ks = instance_life(r, 'i-0f1e000000000001', 'app-role', 0, 3*H, direct(PUB))
    for x in r[5:40:4]:
        x.pop('userAgent', None)
    for x in r[7:40:9]:
        x.pop('sourceIPAddress', None)
    for x in r[9:60:11]:
        x['userIdentity'].get('sessionContext', {}).get('attributes', {}).pop('creationDate', None)
    return r, {}, ''

@sc
def b17_two_egress_paths_proxy():
    """Instance whose SSM agent uses an HTTPS proxy (another instance with EIP) while apps egress via NAT, concurrently, on every key."""
    r = []
    ip_at = lambda t, s: ((EIP if s == 'ssm.amazonaws.com' else NAT), None, None)
    instance_life(r, 'i-0b20000000000001', 'app-role', 0, 6*H, ip_at)
    return r, {}, 'one instance, two concurrent IPv4 egresses: https_proxy for the agent, NAT for apps'

@sc
def b18_scan_midlife_no_deliveries_busy_global():
    """Scan begins mid-life: no delivery records; instance calls only IAM/STS/S3 (global) + ssm via own endpoint."""
    r = []
    def ip_at(t, s):
        if s == 'ssm.amazonaws.com': return ('10.0.1.15', 'vpce-0aa11bb22cc33dd44', ACCT)
        return (PUB, None, None)
    instance_life(r, 'i-0f2e000000000001', 'app-role', 0, 4*H, ip_at, deliver_from=99*H)
    return r, {}, ''

@sc
def b19_imdsv1_legacy_and_v2_same_instance():
    """Instance where an old agent fetches via IMDSv1 and the app via IMDSv2 (two keys per hour, per invictus corpus), behind one NAT."""
    r = []
    instance_life(r, 'i-0e1d000000000001', 'app-role', 0, 4*H, direct(NAT), uas=('boto',), imds='2.0')
    instance_life(r, 'i-0e1d000000000001', 'app-role', 1, 4*H, direct(NAT), uas=('aws-sdk-java/1.11.1000 Linux/4.14 legacy-agent',), imds='1.0')
    return r, {}, 'invictus corpus: two deliveries per instance in the same second, one per IMDS version'

# ---------------- thefts ----------------
def victim(r, inst='i-0111000000000001', role='app-role', hours=6, ip_at=None, **kw):
    return instance_life(r, inst, role, 0, hours*H, ip_at or direct(PUB), **kw)

@sc
def t01_outside_once():
    r = []; ks = victim(r); k, iss, _ = ks[2]
    r.append(use(iss + 900, k, 'i-0111000000000001', 'app-role', LAPTOP, ua='laptop', issued=iss, source='sts.amazonaws.com', name='GetCallerIdentity'))
    return r, {k: ts(iss + 900)}, ''

@sc
def t02_other_region_ec2():
    r = []; ks = victim(r); k, iss, _ = ks[3]
    for j in range(3):
        r.append(use(iss + 900 + j, k, 'i-0111000000000001', 'app-role', THIEF_EU, ua='boto', issued=iss))
    return r, {k: ts(iss + 900)}, ''

@sc
def t03_same_region_same_ua_once():
    r = []; ks = victim(r); k, iss, _ = ks[3]
    for j in range(3):
        r.append(use(iss + 900 + j, k, 'i-0111000000000001', 'app-role', THIEF_SAME, ua='boto', issued=iss, source='s3.amazonaws.com', name='ListBuckets'))
    return r, {k: ts(iss + 900)}, ''

@sc
def t04_persistent_busy_thief_every_key():
    """SSRF on the instance: thief takes each hourly key within a minute and dumps S3 from a same-region EC2 host."""
    r = []; ks = victim(r, every=600); exp = {}
    for k, iss, _ in ks:
        first = iss + 60
        for j in range(40):
            r.append(use(first + j * 30, k, 'i-0111000000000001', 'app-role', THIEF_SAME, ua='boto', issued=iss, source='s3.amazonaws.com', name='GetObject'))
        exp[k] = ts(first)
    return r, exp, ''

@sc
def t05_persistent_thief_before_window():
    """Same thief, but the scan starts mid-life: the victim's deliveries are outside the window and the thief is there from the first key."""
    r = []; ks = victim(r, deliver_from=99*H, every=600); exp = {}
    for k, iss, _ in ks:
        for j in range(10):
            r.append(use(iss + 60 + j * 60, k, 'i-0111000000000001', 'app-role', THIEF_SAME, ua='boto', issued=iss))
        exp[k] = ts(iss + 60)
    return r, exp, ''

@sc
def t06_foreign_vpc_endpoint():
    r = []; ks = victim(r); k, iss, _ = ks[1]
    r.append(use(iss + 1000, k, 'i-0111000000000001', 'app-role', '172.31.9.9', ua='boto', issued=iss, vpce='vpce-0bad000000000001', vpce_acct='999988887777', source='s3.amazonaws.com', name='ListBuckets'))
    return r, {k: ts(iss + 1000)}, ''

def private_path(t, s):
    return ('10.0.1.%d' % (15 + t % 3), 'vpce-0aa11bb22cc33dd44', ACCT)

@sc
def t07_private_subnet_persistent_thief():
    """Private-subnet instance: every call through the account's own interface/gateway endpoints. Thief takes every key, same-region EC2."""
    r = []; ks = victim(r, ip_at=private_path); exp = {}
    for k, iss, _ in ks:
        for j in range(5):
            r.append(use(iss + 120 + j * 60, k, 'i-0111000000000001', 'app-role', THIEF_SAME, ua='boto', issued=iss))
        exp[k] = ts(iss + 120)
    return r, exp, 'the instance never egresses to a public address: any public address is not its own'

@sc
def t08_private_subnet_thief_once():
    r = []; ks = victim(r, ip_at=private_path); k, iss, _ = ks[4]
    r.append(use(iss + 700, k, 'i-0111000000000001', 'app-role', THIEF_SAME, ua='boto', issued=iss, source='iam.amazonaws.com', name='ListRoles'))
    return r, {k: ts(iss + 700)}, ''

@sc
def t09_lambda_key_same_region_ec2():
    r = []; exp = {}
    for i in range(4):
        k = newkey(); t = i * 1800
        r.append(deliver(t, 'orders-fn', 'orders-fn-role', k, by='lambda.amazonaws.com'))
        for j in range(5):
            r.append(use(t + 10 + j * 60, k, 'orders-fn', 'orders-fn-role', NAT, ua='lambda', issued=t, ec2=False))
    # thief read the env vars (SSRF/RCE in the function) and uses them from his EC2 host with the same UA
    r.append(use(2*1800 + 900, k, 'orders-fn', 'orders-fn-role', THIEF_SAME, ua='lambda', issued=3*1800, ec2=False, source='secretsmanager.amazonaws.com', name='GetSecretValue'))
    exp[k] = ts(2*1800 + 900)
    return r, exp, 'stolen Lambda key, same-region EC2, forged exec-env'

@sc
def t10_ecs_key_same_region_ec2_and_cli():
    r = []; exp = {}
    for i in range(3):
        k = newkey(); t = i * 3000; task = f'{i:032x}'
        r.append(deliver(t, task, 'api-task-role', k, by='ecs-tasks.amazonaws.com'))
        for j in range(5):
            r.append(use(t + 10 + j * 60, k, task, 'api-task-role', NAT, ua='ecs', issued=t, ec2=False))
    r.append(use(t + 900, k, task, 'api-task-role', THIEF_SAME, ua='cli', issued=t, ec2=False, source='s3.amazonaws.com', name='ListBuckets'))
    exp[k] = ts(t + 900)
    return r, exp, 'thief without exec-env'

@sc
def t11_codebuild_key_same_region():
    r = []; exp = {}
    k = newkey(); t = 0; b = 'AWSCodeBuild-0000aaaa-aaaa-bbbb-cccc-1234567890ab'
    r.append(deliver(t, b, 'cb-role', k, by='codebuild.amazonaws.com'))
    for j in range(4):
        r.append(use(t + 30 + j * 60, k, b, 'cb-role', '52.4.200.10', ua='codebuild', issued=t, ec2=False))
    r.append(use(t + 1200, k, b, 'cb-role', THIEF_SAME, ua='cli', issued=t, ec2=False, source='iam.amazonaws.com', name='CreateAccessKey', ro=False))
    exp[k] = ts(t + 1200)
    return r, exp, 'build env dumped by a malicious dependency'

@sc
def t12_ssm_forger_same_region():
    r = []; ks = victim(r); k, iss, _ = ks[2]
    r.append(use(iss + 800, k, 'i-0111000000000001', 'app-role', THIEF_SAME, ua='ssm', issued=iss, source='ssm.amazonaws.com', name='UpdateInstanceInformation', ro=False))
    r.append(use(iss + 810, k, 'i-0111000000000001', 'app-role', THIEF_SAME, ua='ssm', issued=iss, source='ssmmessages.amazonaws.com', name='CreateControlChannel', ro=False))
    r.append(use(iss + 820, k, 'i-0111000000000001', 'app-role', THIEF_SAME, ua='ssm', issued=iss, source='ec2messages.amazonaws.com', name='GetMessages', ro=False))
    return r, {k: ts(iss + 800)}, ''

@sc
def t13_one_key_instance_thief_after_termination():
    """Short-lived instance (one key, 20 min, then terminated). Thief uses the key 30 min later from same-region EC2, more calls than the instance made."""
    r = []; ks = instance_life(r, 'i-0222000000000001', 'batch-role', 0, 1200, direct(PUB), uas=('boto',))
    k, iss, _ = ks[0]
    for j in range(10):
        r.append(use(3000 + j * 20, k, 'i-0222000000000001', 'batch-role', THIEF_SAME, ua='boto', issued=iss))
    return r, {k: ts(3000)}, ''

@sc
def t14_one_key_instance_thief_concurrent_busier():
    r = []; ks = instance_life(r, 'i-0222000000000002', 'batch-role', 0, 1800, direct(PUB), uas=('boto',))
    k, iss, _ = ks[0]
    for j in range(20):
        r.append(use(600 + j * 30, k, 'i-0222000000000002', 'batch-role', THIEF_SAME, ua='boto', issued=iss))
    return r, {k: ts(600)}, 'expect the thief address as source, not the instance'

@sc
def t15_thief_on_delivery_outside_window_once():
    r = []; ks = victim(r, deliver_from=99*H); k, iss, _ = ks[2]
    r.append(use(iss + 900, k, 'i-0111000000000001', 'app-role', THIEF_SAME, ua='boto', issued=iss))
    return r, {k: ts(iss + 900)}, ''

@sc
def t16_thief_via_org_nat():
    """Thief on another instance in the same VPC, same NAT, copies UA, uses an IMDSv2 key: undetectable by address (documented limit)."""
    r = []; ks = victim(r, ip_at=direct(NAT)); k, iss, _ = ks[2]
    r.append(use(iss + 900, k, 'i-0111000000000001', 'app-role', NAT, ua='cli', issued=iss, source='iam.amazonaws.com', name='ListUsers'))
    return r, {k: ts(iss + 900)}, 'client differs (aws-cli vs boto/ssm) only'

@sc
def t17_imdsv1_key_only_thief():
    """invictus pattern: IMDSv1 key taken by SSRF, never used by the instance; thief same region EC2."""
    r = []; ks = victim(r, ip_at=direct(PUB))
    k = newkey(); r.append(deliver(2*H + 1, 'i-0111000000000001', 'app-role', k))
    r.append(use(2*H + 500, k, 'i-0111000000000001', 'app-role', THIEF_SAME, ua='boto', issued=2*H + 1, imds='1.0'))
    return r, {k: ts(2*H + 500)}, ''

@sc
def t18_thief_first_then_instance_key():
    """Thief uses a key before the instance does (races the instance right after delivery), same region; baseline from other keys."""
    r = []; ks = victim(r); k, iss, _ = ks[0]
    r.append(use(iss + 2, k, 'i-0111000000000001', 'app-role', THIEF_SAME, ua='boto', issued=iss))
    return r, {k: ts(iss + 2)}, ''

@sc
def t19_persistent_thief_private_subnet_ipv6():
    """Dual-stack thief? Thief on same-region IPv6 address while instance is IPv4 only, every key."""
    r = []; ks = victim(r); exp = {}
    for k, iss, _ in ks:
        r.append(use(iss + 120, k, 'i-0111000000000001', 'app-role', '2600:1f18:4a3b:1201::99', ua='boto', issued=iss))
        exp[k] = ts(iss + 120)
    return r, exp, 'IPv4 and IPv6 are admitted apart: a thief on IPv6 never is a rival of an IPv4 origin'


# ---------------- controls / variants ----------------
@sc
def c01_s3_gateway_endpoint_with_own_account():
    r = []
    ip_at = lambda t, s: (('10.0.3.77', 'vpce-f40dc59d', ACCT) if s == 's3.amazonaws.com' else (PUB, None, None))
    instance_life(r, 'i-0e5e000000000003', 'app-role', 0, 6*H, ip_at, every=120)
    return r, {}, 'control for b08'

@sc
def c02_bastion_6keys_all_public():
    r = []
    instance_life(r, 'i-0ba5710000000003', 'bastion-role', 0, 6*H, direct(PUB), uas=('ssm', 'cwagent'))
    for t in range(600, 6*H, 900):
        r.append(human(t, 'alice', PUB, ua='cli'))
    return r, {}, 'control for b02'

@sc
def c03_stop_start_two_keys_after():
    r = []
    instance_life(r, 'i-0570957a00000002', 'app-role', 0, 5*H, direct(PUB))
    instance_life(r, 'i-0570957a00000002', 'app-role', 5*H + 600, 5*H + 600 + 2*H, direct(PUB2))
    return r, {}, 'control for b06'

@sc
def b20_irsa_pods():
    """EKS pods with IRSA (AssumeRoleWithWebIdentity, OIDC issuer in us-east-1) behind the cluster NAT, many SDKs."""
    r = []
    for i in range(6):
        k = newkey(); t = i * 900; sess = 'botocore-session-%d' % (1700000000 + i)
        rec = deliver(t, sess, 'payments-irsa', k, by='sts.amazonaws.com')
        rec['eventName'] = 'AssumeRoleWithWebIdentity'
        rec['userIdentity'] = {'type': 'WebIdentityUser', 'principalId': 'arn:aws:iam::%s:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789:sts.amazonaws.com:system:serviceaccount:pay:pay' % ACCT,
                               'userName': 'system:serviceaccount:pay:pay', 'identityProvider': 'arn:aws:iam::%s:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789' % ACCT}
        rec['sourceIPAddress'] = NAT; rec['userAgent'] = UA['java']
        r.append(rec)
        for j in range(5):
            r.append(use(t + 10 + j * 60, k, sess, 'payments-irsa', NAT, ua='java', issued=t, ec2=False))
    return r, {}, ''

@sc
def b21_lambda_other_region_replica():
    """Same function name + role deployed in us-east-1 and eu-west-1 (multi-region active/active); each region's cold starts use that region's addresses."""
    r = []
    for i in range(6):
        k = newkey(); t = i * 1200; reg = 'us-east-1' if i % 2 == 0 else 'eu-west-1'
        ip = '98.80.1.2' if reg == 'us-east-1' else THIEF_EU
        r.append(deliver(t, 'orders-fn', 'orders-fn-role', k, by='lambda.amazonaws.com', region=reg))
        for j in range(5):
            r.append(use(t + 10 + j * 60, k, 'orders-fn', 'orders-fn-role', ip, ua='lambda', issued=t, ec2=False, region=reg))
    return r, {}, ''

@sc
def b22_lambda_no_delivery_multi_region():
    """Same as b21 but the delivery records are not in the scanned files (e.g. only us-east-1 trail folder has them for us-east-1)."""
    r = []
    for i in range(6):
        k = newkey(); t = i * 1200; reg = 'us-east-1' if i % 2 == 0 else 'eu-west-1'
        ip = '98.80.1.2' if reg == 'us-east-1' else THIEF_EU
        if reg == 'us-east-1':
            r.append(deliver(t, 'orders-fn', 'orders-fn-role', k, by='lambda.amazonaws.com', region=reg))
        for j in range(5):
            r.append(use(t + 10 + j * 60, k, 'orders-fn', 'orders-fn-role', ip, ua='lambda', issued=t, ec2=False, region=reg))
    return r, {}, 'scan of a region-pruned S3 prefix: the eu-west-1 deliveries were not fetched'

@sc
def b23_asg_one_key_instances_nat_and_public_ip():
    """Short-lived instances (one key each) in a public subnet with S3 via gateway endpoint with account id and the rest via public IP; one also briefly used IMDSv1 by an old agent."""
    r = []
    for n in range(5):
        ip = '52.4.%d.%d' % (10 + n, 20 + n)
        instance_life(r, f'i-0a5b000000000{n:03d}', 'worker-role', n * 900, n * 900 + 2400, direct(ip), uas=('boto', 'ssm'))
    return r, {}, ''

@sc
def t20_imdsv1_ssrf_thief_every_hour():
    """invictus pattern, persistent: each hour an SSRF fetches the IMDSv1 key (delivered in the same second as the
    instance's IMDSv2 key, different key); thief uses only the v1 keys, from a same-region EC2 host."""
    r = []; exp = {}
    ks = instance_life(r, 'i-0333000000000001', 'app-role', 0, 6*H, direct(PUB), imds='2.0')
    for k2, iss, _ in ks:
        k = newkey(); r.append(deliver(iss, 'i-0333000000000001', 'app-role', k))
        for j in range(4):
            r.append(use(iss + 200 + j * 120, k, 'i-0333000000000001', 'app-role', THIEF_SAME, ua='boto', issued=iss, imds='1.0'))
        exp[k] = ts(iss + 200)
    return r, exp, 'two deliveries in the same second (invictus); the instance key must not be flagged'

@sc
def b24_byoip_eip_no_assoc_record():
    """Instance with an Elastic IP from the customer's BYOIP pool (not in ip-ranges.json); AssociateAddress happened before the window."""
    r = []
    instance_life(r, 'i-0b40000000000001', 'app-role', 0, 6*H, direct('198.51.100.20'))
    return r, {}, 'BYOIP addresses are AWS-hosted but not in ip-ranges.json'

@sc
def b25_nat_replaced_short_overlap():
    """NAT gateway replaced at 3h (new EIP): long-lived connections through the old NAT continue for 4 min."""
    r = []
    NEW = '44.192.77.8'
    def ip_at(t, s):
        if t < 3*H: return (NAT, None, None)
        if t < 3*H + 240 and s == 'ssm.amazonaws.com': return (NAT, None, None)
        return (NEW, None, None)
    instance_life(r, 'i-0b50000000000001', 'app-role', 0, 6*H, ip_at, every=60)
    return r, {}, ''

@sc
def t21_thief_behind_org_nat_imdsv1_cli():
    """Thief on another host behind the same NAT fetched the key via IMDSv1 SSRF, uses aws-cli: README promises same_origin low."""
    r = []; ks = victim(r, ip_at=direct(NAT))
    k = newkey(); r.append(deliver(2*H + 1, 'i-0111000000000001', 'app-role', k))
    r.append(use(2*H + 500, k, 'i-0111000000000001', 'app-role', NAT, ua='cli', issued=2*H + 1, imds='1.0', source='iam.amazonaws.com', name='ListUsers'))
    return r, {k: ts(2*H + 500)}, ''

@sc
def c04_one_key_instance_thief_after_termination_quiet():
    """Control for t13: same, but the thief makes fewer calls than the instance."""
    r = []; ks = instance_life(r, 'i-0222000000000003', 'batch-role', 0, 1200, direct(PUB), uas=('boto', 'ssm'), every=60)
    k, iss, _ = ks[0]
    r.append(use(3000, k, 'i-0222000000000003', 'batch-role', THIEF_SAME, ua='boto', issued=iss))
    return r, {k: ts(3000)}, ''

@sc
def b26_daily_legacy_imdsv1_job():
    """24 h instance on IMDSv2 (boto3 + SSM agent) behind its NAT; a nightly backup cron with an old Java SDK
    (IMDSv1 only) runs once at 03:00 and gets the IMDSv1 key (separate delivery, same second)."""
    r = []
    ks = instance_life(r, 'i-0b26000000000001', 'app-role', 0, 24*H, direct(NAT))
    k2, iss, _ = ks[19]
    k = newkey(); r.append(deliver(iss, 'i-0b26000000000001', 'app-role', k))
    for j in range(6):
        r.append(use(iss + 60 + j * 30, k, 'i-0b26000000000001', 'app-role', NAT, ua='aws-sdk-java/1.11.600 Linux/4.14.186 OpenJDK_64-Bit_Server_VM/25.252-b09 java/1.8.0_252', issued=iss, imds='1.0', source='s3.amazonaws.com', name='PutObject', ro=False))
    return r, {}, 'same host, same NAT, legacy client'

@sc
def b27_private_instance_shared_endpoint_with_people():
    """Private-subnet instance using an interface endpoint (records without vpcEndpointAccountId, pre-2024 style);
    engineers on the corporate VPN reach the same endpoint (private DNS over Direct Connect). 2 h scan."""
    r = []
    ip_at = lambda t, s: ('10.0.1.15', 'vpce-0aa11bb22cc33dd44', None)
    instance_life(r, 'i-0b27000000000001', 'app-role', 0, 2*H, ip_at)
    for t in range(400, 2*H, 700):
        h = human(t, 'dave', '10.8.3.4', ua='cli', kind='sso'); h['vpcEndpointId'] = 'vpce-0aa11bb22cc33dd44'; r.append(h)
    return r, {}, ''

@sc
def b28_private_instance_shared_endpoint_with_people_acct():
    """Same as b27 with vpcEndpointAccountId (own account) on every record: control."""
    r = []
    ip_at = lambda t, s: ('10.0.1.15', 'vpce-0aa11bb22cc33dd44', ACCT)
    instance_life(r, 'i-0b28000000000001', 'app-role', 0, 2*H, ip_at)
    for t in range(400, 2*H, 700):
        h = human(t, 'dave', '10.8.3.4', ua='cli', kind='sso'); h['vpcEndpointId'] = 'vpce-0aa11bb22cc33dd44'; h['vpcEndpointAccountId'] = ACCT; r.append(h)
    return r, {}, ''

def assoc(t, inst, ip, who_key, role='ops-role', session='i-0ffff00000000001', acct=ACCT):
    r = use(t, who_key, session, role, '52.4.99.99', ua='cli', source='ec2.amazonaws.com', name='AssociateAddress', ro=False, issued=t - 60)
    r['requestParameters'] = {'instanceId': inst, 'publicIp': ip, 'allowReassociation': True}
    r['responseElements'] = {'requestId': eid(), '_return': True, 'associationId': 'eipassoc-0123456789abcdef0'}
    return r

@sc
def t22_eip_moved_from_victim_to_thief_host():
    """EIP Y was attached to the victim instance last week-style (AssociateAddress in window), then moved (reassociated)
    to another host; stolen keys are later used from Y. The association is AWS's record, but it is stale."""
    r = []; ks = victim(r)
    Y = '44.192.10.5'
    r.append(assoc(600, 'i-0111000000000001', Y, newkey()))
    r.append(assoc(900, 'i-0deadbeef0000001', Y, newkey()))   # moved to another instance
    k, iss, _ = ks[3]
    r.append(use(iss + 900, k, 'i-0111000000000001', 'app-role', Y, ua='boto', issued=iss, source='s3.amazonaws.com', name='ListBuckets'))
    return r, {k: ts(iss + 900)}, 'address association is time-bounded; code keeps it forever and ignores re-association'

@sc
def t23_thief_via_other_org_account_endpoint():
    """Org trail: a compromised dev account (222233334444) appears in the trail. The thief uses the prod instance's key
    once, through an interface endpoint in the dev account's VPC."""
    r = []; ks = victim(r)
    r.append(human(1000, 'dev-user', '81.2.69.150', acct='222233334444'))
    k, iss, _ = ks[2]
    r.append(use(iss + 900, k, 'i-0111000000000001', 'app-role', '10.99.1.5', ua='boto', issued=iss, vpce='vpce-0de7000000000001', vpce_acct='222233334444', source='secretsmanager.amazonaws.com', name='GetSecretValue'))
    return r, {k: ts(iss + 900)}, 'PRODUCT: an org shared-services endpoint is own only when the workload uses it across its keys'

def run(name, seed=None):
    th.R.seed(seed if seed is not None else int(os.environ.get('SEED', '7')))
    th._k[0] = 0; th.ROLEID.clear()
    recs, exp, note = S[name]()
    d = write(name, recs)
    out, p = scan(d)
    if out is None:
        return {'name': name, 'error': p.stderr[-500:]}
    got = {f['access_key_id']: f for f in out}
    fp = sorted(set(got) - set(exp)); miss = sorted(set(exp) - set(got))
    wrong_fs = sorted(k for k in exp if k in got and exp[k] and got[k]['first_seen'] and got[k]['first_seen'][:19] != exp[k][:19])
    return {'name': name, 'keys_expected': len(exp), 'flagged': len(got), 'fp': fp, 'miss': miss, 'wrong_first_seen': wrong_fs,
            'findings': out, 'exp': exp, 'note': note}

if __name__ == '__main__':
    names = sys.argv[1:] or list(S)
    res = [run(n) for n in names]
    json.dump(res, open(os.path.join(th.OUT, 'results.json'), 'w'), indent=1)
    for x in res:
        if 'error' in x:
            print(x['name'], 'ERROR', x['error']); continue
        verdict = 'OK' if not (x['fp'] or x['miss'] or x['wrong_first_seen']) else 'BAD'
        print(f"{x['name']:45s} exp={x['keys_expected']:2d} got={x['flagged']:2d} FP={len(x['fp'])} MISS={len(x['miss'])} WRONG_FS={len(x['wrong_first_seen'])} {verdict}")
