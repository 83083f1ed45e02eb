"""Stdlib-only CloudTrail record builders for probing trailhound. Shapes follow invictus-ir records."""
import json, random, uuid, os, subprocess, datetime as dt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get('TRAILHOUND') or next(
    (p for p in (os.path.join(ROOT, 'target', prof, 'trailhound') for prof in ('release', 'debug')) if os.path.exists(p)),
    'trailhound')
OUT = os.environ.get('PROBE_OUT', os.path.join(ROOT, 'target', 'probe-out'))

ACCT = '111122223333'
BASE = dt.datetime(2026, 11, 3, 8, 0, 0, tzinfo=dt.timezone.utc)
R = random.Random(1)

def ts(sec):
    return (BASE + dt.timedelta(seconds=sec)).strftime('%Y-%m-%dT%H:%M:%SZ')

def eid():
    return str(uuid.UUID(int=R.getrandbits(128), version=4))

_k = [0]
def newkey(prefix='ASIA'):
    _k[0] += 1
    s = ''.join(R.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567') for _ in range(12))
    return prefix + 'QX' + s[:14-len(str(_k[0]))] + str(_k[0])

ROLEID = {}
def roleid(role):
    if role not in ROLEID:
        ROLEID[role] = 'AROA' + ''.join(R.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567') for _ in range(17))
    return ROLEID[role]

def deliver(t, session, role, key, region='us-east-1', by='ec2.amazonaws.com', acct=ACCT):
    arn = f'arn:aws:iam::{acct}:role/{role}'
    return {
        'eventVersion': '1.08', 'userIdentity': {'type': 'AWSService', 'invokedBy': by},
        'eventTime': ts(t), 'eventSource': 'sts.amazonaws.com', 'eventName': 'AssumeRole',
        'awsRegion': region, 'sourceIPAddress': by, 'userAgent': by,
        'requestParameters': {'roleArn': arn, 'roleSessionName': session},
        'responseElements': {'credentials': {'accessKeyId': key, 'sessionToken': 'IQoJ' + 'x' * 40,
                                             'expiration': 'Nov 3, 2026, 6:30:22 PM'},
                             'assumedRoleUser': {'assumedRoleId': f'{roleid(role)}:{session}',
                                                 'arn': f'arn:aws:sts::{acct}:assumed-role/{role}/{session}'}},
        'requestID': eid(), 'eventID': eid(), 'readOnly': True,
        'resources': [{'accountId': acct, 'type': 'AWS::IAM::Role', 'ARN': arn}],
        'eventType': 'AwsApiCall', 'managementEvent': True, 'recipientAccountId': acct,
        'sharedEventID': eid(), 'eventCategory': 'Management'}

UA = {
    'ssm': 'aws-sdk-go/1.41.4 (go1.18.3; linux; amd64) amazon-ssm-agent/',
    'cli': 'aws-cli/2.15.30 Python/3.11.8 Linux/6.1.72-96.166.amzn2023.x86_64 exe/x86_64.amzn.2023 prompt/off command/s3.cp',
    'boto': 'Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.72 md/arch#x86_64 lang/python#3.11.8 cfg/retry-mode#legacy Botocore/1.34.69',
    'cwagent': 'aws-sdk-go/1.48.6 (go1.21.5; linux; amd64) CWAgent/1.300032.3b392',
    'java': 'aws-sdk-java/2.25.11 Linux/6.1.72 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy',
    'laptop': 'aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/s3.ls',
    'kubelet': 'kubelet/v1.29.0 (linux/amd64) kubernetes/abcdef',
    'cni': 'amazon-vpc-cni-k8s/v1.16.0 aws-sdk-go/1.48 (go1.21; linux; amd64)',
    'lambda': 'Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 os/linux#5.10.209 md/arch#x86_64 lang/python#3.12.2 exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.42',
    'ecs': 'aws-sdk-java/2.25.11 Linux/5.10.210 OpenJDK_64-Bit_Server_VM/17 Java/17 vendor/Amazon exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/legacy',
    'fluentbit': 'aws-fluent-bit-plugin',
    'codebuild': 'aws-cli/2.15.30 Python/3.11.8 Linux/5.10.210 exec-env/CodeBuild exe/x86_64.ubuntu.22 prompt/off command/s3.cp',
}

CALLS = [('ssm.amazonaws.com', 'UpdateInstanceInformation', False), ('s3.amazonaws.com', 'GetObject', True),
         ('dynamodb.amazonaws.com', 'GetItem', True), ('ec2.amazonaws.com', 'DescribeTags', True),
         ('logs.amazonaws.com', 'PutLogEvents', False), ('kms.amazonaws.com', 'Decrypt', True)]

def use(t, key, session, role, ip, ua='boto', region='us-east-1', source=None, name=None, ro=None,
        imds='2.0', issued=None, vpce=None, vpce_acct=None, invoked_by=None, acct=ACCT, err=None, ec2=True):
    if source is None:
        source, name, ro = R.choice(CALLS[1:])
    arn = f'arn:aws:iam::{acct}:role/{role}'
    ctx = {'sessionIssuer': {'type': 'Role', 'principalId': roleid(role), 'arn': arn, 'accountId': acct,
                             'userName': role},
           'webIdFederationData': {}, 'attributes': {'creationDate': ts(issued) if issued is not None else ts(t),
                                                     'mfaAuthenticated': 'false'}}
    if imds and ec2:
        ctx['ec2RoleDelivery'] = imds
    r = {'eventVersion': '1.09',
         'userIdentity': {'type': 'AssumedRole', 'principalId': f'{roleid(role)}:{session}',
                          'arn': f'arn:aws:sts::{acct}:assumed-role/{role}/{session}', 'accountId': acct,
                          'accessKeyId': key, 'sessionContext': ctx},
         'eventTime': ts(t), 'eventSource': source, 'eventName': name, 'awsRegion': region,
         'sourceIPAddress': ip, 'userAgent': UA.get(ua, ua), 'requestParameters': {},
         'responseElements': None, 'requestID': eid(), 'eventID': eid(), 'readOnly': ro if ro is not None else True,
         'eventType': 'AwsApiCall', 'managementEvent': True, 'recipientAccountId': acct, 'eventCategory': 'Management'}
    if invoked_by:
        r['userIdentity']['invokedBy'] = invoked_by
    if vpce:
        r['vpcEndpointId'] = vpce
        if vpce_acct:
            r['vpcEndpointAccountId'] = vpce_acct
    if err:
        r['errorCode'] = err
    return r

def human(t, user, ip, ua='laptop', kind='IAMUser', acct=ACCT, region='us-east-1'):
    if kind == 'IAMUser':
        ui = {'type': 'IAMUser', 'principalId': 'AIDA' + 'Q' * 17, 'arn': f'arn:aws:iam::{acct}:user/{user}',
              'accountId': acct, 'accessKeyId': 'AKIAQX' + 'U' * 14, 'userName': user}
    else:
        role = 'AWSReservedSSO_AdministratorAccess_0123456789abcdef'
        ui = {'type': 'AssumedRole', 'principalId': f'{roleid(role)}:{user}',
              'arn': f'arn:aws:sts::{acct}:assumed-role/{role}/{user}', 'accountId': acct,
              'accessKeyId': newkey(),
              'sessionContext': {'sessionIssuer': {'type': 'Role', 'principalId': roleid(role),
                                                   'arn': f'arn:aws:iam::{acct}:role/aws-reserved/sso.amazonaws.com/{role}',
                                                   'accountId': acct, 'userName': role},
                                 'attributes': {'creationDate': ts(max(0, t - 600)), 'mfaAuthenticated': 'false'}}}
    return {'eventVersion': '1.08', 'userIdentity': ui, 'eventTime': ts(t), 'eventSource': 'ec2.amazonaws.com',
            'eventName': 'DescribeInstances', 'awsRegion': region, 'sourceIPAddress': ip, 'userAgent': UA.get(ua, ua),
            'requestParameters': {}, 'responseElements': None, 'requestID': eid(), 'eventID': eid(),
            'readOnly': True, 'eventType': 'AwsApiCall', 'managementEvent': True, 'recipientAccountId': acct,
            'eventCategory': 'Management'}

def instance_life(recs, inst, role, start, end, ip_at, every=300, uas=('ssm', 'boto'), region='us-east-1',
                  rotate=3600, overlap=300, deliver_from=None, imds='2.0', extra=None, first_key_issued=None):
    """An instance: a key delivered every `rotate` s; each key used until `overlap` s after the next arrives.
    ip_at(t, source) -> (ip, vpce, vpce_acct). Delivery records before deliver_from are left out.
    Returns [(key, issued, last_use)]."""
    keys = []
    t = start
    while t < end:
        k = newkey()
        if deliver_from is None or t >= deliver_from:
            recs.append(deliver(t, inst, role, k, region=region))
        keys.append([k, t])
        t += rotate
    out = []
    for i, (k, iss) in enumerate(keys):
        stop = min(end, (keys[i + 1][1] + overlap) if i + 1 < len(keys) else end)
        u = iss + 5
        last = None
        while u < stop:
            for ua in uas:
                if ua == 'ssm':
                    src, name, ro = CALLS[0]
                else:
                    src, name, ro = R.choice(CALLS[1:])
                ip, vpce, vacct = ip_at(u, src)
                if ip is None:
                    continue
                recs.append(use(u + R.randint(0, 30), k, inst, role, ip, ua=ua, region=region, source=src, name=name,
                                ro=ro, imds=imds, issued=iss, vpce=vpce, vpce_acct=vacct))
                last = u
            u += every
        out.append((k, iss, last))
    return out

def write(name, recs):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    recs = sorted(recs, key=lambda r: r['eventTime'])
    with open(os.path.join(d, 'trail.json'), 'w') as f:
        json.dump({'Records': recs}, f, indent=0)
    return d

def scan(d, *args):
    p = subprocess.run([BIN, 'scan', d, '--format', 'json', '-q', *args],
                       capture_output=True, text=True)
    try:
        return json.loads(p.stdout), p
    except Exception:
        return None, p
