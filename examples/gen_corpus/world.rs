//! The simulated estate: address pools, roles, workloads, humans, and key derivation.
use crate::rng::{Rng, hash, tag};
use std::collections::HashMap;

/// Per region, three EC2 prefixes taken from AWS's ip-ranges.json (createDate 2026-08-22): each
/// listed with service "EC2" for that region and overlapped by no prefix of another region or of a
/// service other than AMAZON/EC2. Pool 0: instance public IPs and NAT gateways; pool 1: Lambda
/// egress addresses; pool 2: elastic IPs allocated mid-span and attackers' EC2 hosts.
pub const EC2_PREFIXES: &[(&str, [&str; 3])] = &[
    ("us-east-1", ["23.20.0.0/14", "52.4.0.0/14", "54.88.0.0/14"]),
    ("us-east-2", ["18.220.0.0/14", "18.224.0.0/14", "3.13.0.0/16"]),
    ("us-west-1", ["54.176.0.0/15", "50.18.0.0/16", "52.8.0.0/16"]),
    ("us-west-2", ["52.24.0.0/14", "52.32.0.0/14", "52.36.0.0/14"]),
    ("eu-west-1", ["52.48.0.0/14", "63.32.0.0/14", "40.180.0.0/15"]),
    ("eu-west-2", ["51.200.0.0/15", "51.202.0.0/15", "16.61.0.0/16"]),
    ("eu-central-1", ["63.176.0.0/14", "63.180.0.0/14", "18.194.0.0/15"]),
    ("eu-north-1", ["13.62.0.0/15", "16.168.0.0/15", "86.112.0.0/15"]),
    ("ap-southeast-1", ["16.156.0.0/15", "13.144.0.0/16", "52.74.0.0/16"]),
    ("ap-southeast-2", ["52.62.0.0/15", "13.146.0.0/16", "15.134.0.0/16"]),
    ("ap-northeast-1", ["13.158.0.0/15", "52.68.0.0/15", "52.192.0.0/15"]),
    ("ap-south-1", ["13.204.0.0/14", "43.204.0.0/15", "13.162.0.0/16"]),
    ("ca-central-1", ["16.54.0.0/15", "16.52.0.0/16", "52.60.0.0/16"]),
    ("sa-east-1", ["52.67.0.0/16", "54.94.0.0/16", "54.207.0.0/16"]),
];

/// Per region, an IPv6 EC2 prefix of ip-ranges.json (same snapshot) overlapped by no other region's or
/// other service's prefix: dual-stack instances call from there.
pub const EC2_V6_PREFIXES: &[(&str, &str)] = &[
    ("us-east-1", "2600:1f19:8000::"),
    ("us-east-2", "2600:1f1f:c000::"),
    ("us-west-1", "2600:1f2c::"),
    ("us-west-2", "2600:1f1d:8000::"),
    ("eu-west-1", "2606:f40:d000::"),
    ("eu-west-2", "2a05:d027::"),
    ("eu-central-1", "2a05:d024:8000::"),
    ("eu-north-1", "2a05:d026::"),
    ("ap-southeast-1", "2406:da2a:8000::"),
    ("ap-southeast-2", "2606:f40:2a00::"),
    ("ap-northeast-1", "2406:da2d::"),
    ("ap-south-1", "2406:daeb:a000::"),
    ("ca-central-1", "2600:1f1e:4000::"),
    ("sa-east-1", "2600:1fea:e000::"),
];

/// The `n`th IPv6 EC2 address of a region (interface id in the low 64 bits).
pub fn v6_addr(region: &str, n: u64) -> String {
    let base = EC2_V6_PREFIXES.iter().find(|(r, _)| *r == region).expect("known region").1;
    let h = hash(&[tag("v6"), n]);
    format!(
        "{}{:x}:{:x}:{:x}:{:x}",
        base,
        (h >> 48) & 0xffff | 0x100,
        (h >> 32) & 0xffff,
        (h >> 16) & 0xffff,
        n & 0xffff
    )
}

pub fn known_region(r: &str) -> bool {
    EC2_PREFIXES.iter().any(|(n, _)| *n == r)
}

fn parse_prefix(p: &str) -> (u32, u32) {
    let (a, l) = p.split_once('/').unwrap();
    let o: Vec<u32> = a.split('.').map(|x| x.parse().unwrap()).collect();
    ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3], l.parse().unwrap())
}

fn ip_text(v: u32) -> String {
    format!("{}.{}.{}.{}", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255)
}

/// The `n`th address of a pool: a bijection over /24 blocks (odd multiplier modulo a power of
/// two), host part 4..=253, so distinct `n` give distinct addresses.
pub fn pool_addr(region: &str, pool: usize, n: u64) -> String {
    let p = EC2_PREFIXES.iter().find(|(r, _)| *r == region).expect("known region").1[pool];
    let (base, len) = parse_prefix(p);
    let blocks = 1u64 << (24 - len);
    let per = 250u64;
    let block = ((n / per).wrapping_mul(0x9E37_79B1).wrapping_add(0x5bd1)) & (blocks - 1);
    let host = n % per + 4;
    ip_text(base + (block as u32) * 256 + host as u32)
}

/// Hands out unique addresses per (region, pool) in creation order.
/// Counters start at `base`: the background uses base 0, scenario i base 8000 + 500 i, so a
/// scenario gets the same addresses whether or not the background is generated.
#[derive(Default)]
pub struct Alloc {
    next: HashMap<(String, usize), u64>,
    private: u64,
    pub base: u64,
}

impl Alloc {
    pub fn set_namespace(&mut self, base: u64) {
        self.base = base;
        self.next.clear();
        self.private = base;
    }
    pub fn ip(&mut self, region: &str, pool: usize) -> String {
        let base = self.base;
        let c = self.next.entry((region.to_string(), pool)).or_insert(base);
        let n = *c;
        *c += 1;
        pool_addr(region, pool, n)
    }
    pub fn private_ip(&mut self) -> String {
        let n = self.private;
        self.private += 1;
        format!("10.{}.{}.{}", 16 + (n / 62500) % 200, (n / 250) % 250, n % 250 + 4)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Ec2,
    Lambda,
    Ecs,
    /// A service acting through a (service-linked) role: source and UA are the service host.
    Service,
    /// Credentials a service delivers for a role and the role's code uses from the service's
    /// compute (CodeBuild, Glue, SageMaker, App Runner, EKS Pod Identity, IRSA pods).
    Delegated,
}

#[derive(Clone, Debug)]
pub enum Origin {
    Ip(String),
    Vpce {
        vpce: String,
        ip: String,
    },
    /// Lambda: a few pool-1 addresses per key.
    LambdaPool,
    /// A service host name ("cloudformation.amazonaws.com", "AWS Internal").
    Host(String),
    /// Through a VPC endpoint owned by `owner` (None: the workload's own account), from one of
    /// several private addresses (pods, ENIs) picked per call.
    Endpoint {
        vpce: String,
        owner: Option<String>,
        ips: Vec<String>,
    },
    /// `n` addresses of EC2 pool `pool` per key (a fresh container or runner per key).
    PerKey {
        pool: usize,
        n: u64,
    },
    /// One of these addresses per call (the same host written two ways, several ENIs).
    Ips(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Role {
    pub name: String,
    pub id: String,
    /// IAM path, "/" for most roles.
    pub path: String,
}

impl Role {
    pub fn new(seed: u64, acct: &str, name: &str, path: &str) -> Role {
        let mut r = Rng::from(&[seed, tag("role"), tag(acct), tag(name)]);
        Role { name: name.to_string(), id: format!("AROA{}", r.upper_alnum(17)), path: path.to_string() }
    }
    pub fn arn(&self, acct: &str) -> String {
        format!("arn:aws:iam::{}:role{}{}", acct, self.path, self.name)
    }
}

#[derive(Clone, Debug)]
pub struct Client {
    pub ua: String,
    pub calls: Vec<&'static str>,
    pub weight: f64,
    /// Uses the IMDSv1-delivered key variant (EKS pods), `ec2RoleDelivery` "1.0".
    pub v1: bool,
    /// Where this client's calls come from when not the workload's (pods through an endpoint).
    pub origin: Option<Origin>,
}

impl Client {
    pub fn new(ua: &str, calls: &[&'static str], weight: f64) -> Client {
        Client { ua: ua.to_string(), calls: calls.to_vec(), weight, v1: false, origin: None }
    }
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub wid: u64,
    pub kind: Kind,
    pub acct: usize,
    pub region: usize,
    pub role: Role,
    pub session: String,
    pub origin: Origin,
    /// From this time on, the origin is this one (elastic IP moved).
    pub moved: Option<(i64, Origin)>,
    pub first: i64,
    pub rot: i64,
    pub end: i64,
    /// Regional API calls per hour before the size multiplier.
    pub rate: f64,
    pub scaled: bool,
    pub clients: Vec<Client>,
    /// Each delivery also issues an IMDSv1 key (EKS nodes whose pods use IMDSv1).
    pub dual: bool,
    /// Key indices at which an extra IMDSv1 key is delivered (used only by scripted events).
    pub extra_v1: Vec<i64>,
    /// GetCallerIdentity calls per hour logged in us-east-1.
    pub global_sts: f64,
    /// Service host for Kind::Service ("AWS Internal" allowed).
    pub invoked_by: Option<String>,
    /// Private address (for requestParameters realism).
    pub private_ip: String,
    /// Whether delivery records are written (false: the key predates the corpus or the issuer
    /// does not log one).
    pub delivers: bool,
    /// The workload makes no calls of its own before this time.
    pub quiet_until: i64,
    /// Delivering service principal when not the kind's default (codebuild.amazonaws.com, ...).
    pub issuer: Option<String>,
    /// Session name per key: `{uuid}`, `{hex}`, `{letters}` (32), `{epoch}` are filled per key
    /// (CodeBuild builds, Step Functions executions, IRSA SDK sessions); None: `session` for every key.
    pub per_key_session: Option<String>,
    /// IRSA: the EKS OIDC provider host path and the service account; delivery is then
    /// `AssumeRoleWithWebIdentity` by a WebIdentityUser from the workload's own address.
    pub web_identity: Option<(String, String)>,
}

impl Workload {
    pub fn key_index(&self, t: i64) -> Option<i64> {
        if t < self.first || t >= self.end {
            return None;
        }
        Some((t - self.first).div_euclid(self.rot))
    }
    pub fn delivery_time(&self, k: i64) -> i64 {
        self.first + k * self.rot
    }
    /// Number of keys delivered within [first, end).
    pub fn key_count(&self) -> i64 {
        (self.end - self.first + self.rot - 1) / self.rot
    }
    pub fn key(&self, seed: u64, k: i64, variant: u64) -> String {
        access_key(seed, "ASIA", &[tag("wkey"), self.wid, k as u64, variant])
    }
    /// The role session name of key `k`.
    pub fn session_for(&self, seed: u64, k: i64) -> String {
        match &self.per_key_session {
            None => self.session.clone(),
            Some(p) => {
                let mut r = Rng::from(&[seed, tag("sess"), self.wid, k as u64]);
                let letters: String = (0..32)
                    .map(|_| {
                        let c = r.below(52) as u8;
                        (if c < 26 { b'A' + c } else { b'a' + c - 26 }) as char
                    })
                    .collect();
                p.replace("{letters}", &letters)
                    .replace("{uuid}", &r.uuid())
                    .replace("{hex}", &r.hex(12))
                    .replace("{epoch}", &self.delivery_time(k).to_string())
            }
        }
    }
    pub fn origin_at(&self, t: i64) -> &Origin {
        match &self.moved {
            Some((when, o)) if t >= *when => o,
            _ => &self.origin,
        }
    }
    /// Lambda egress address for key `k`, choice `j`.
    pub fn lambda_ip(&self, seed: u64, region: &str, k: i64, j: u64) -> String {
        pool_addr(region, 1, hash(&[seed, tag("lip"), self.wid, k as u64, j]) % 1_000_000)
    }
    /// All keys this workload is issued in the span (including IMDSv1 variants).
    pub fn all_keys(&self, seed: u64) -> Vec<String> {
        let mut v = Vec::new();
        for k in 0..self.key_count() {
            v.push(self.key(seed, k, 0));
            if self.dual || self.extra_v1.contains(&k) {
                v.push(self.key(seed, k, 1));
            }
        }
        v
    }
}

pub fn access_key(seed: u64, prefix: &str, parts: &[u64]) -> String {
    let mut p = vec![seed, tag("akey")];
    p.extend_from_slice(parts);
    let mut r = Rng::from(&p);
    format!("{}{}", prefix, r.upper_alnum(16))
}

#[derive(Clone, Debug)]
pub enum HumanKind {
    IamUser { user_id: String, key: String },
    Sso { role: Role, rot: i64 },
}

#[derive(Clone, Debug)]
pub struct Human {
    pub hid: u64,
    pub acct: usize,
    pub name: String,
    pub kind: HumanKind,
    pub ips: Vec<String>,
    pub uas: Vec<String>,
    pub calls: Vec<&'static str>,
    /// Calls per hour per region.
    pub rate: f64,
    pub scaled: bool,
    pub first: i64,
    pub end: i64,
    /// Restrict to one region index (scenario humans); None = all regions.
    pub region: Option<usize>,
}

impl Human {
    pub fn sso_key(&self, seed: u64, t: i64) -> Option<(String, i64)> {
        if let HumanKind::Sso { rot, .. } = &self.kind {
            if t < self.first || t >= self.end {
                return None;
            }
            let k = (t - self.first) / rot;
            return Some((access_key(seed, "ASIA", &[tag("sso"), self.hid, k as u64]), self.first + k * rot));
        }
        None
    }
    pub fn sso_keys(&self, seed: u64) -> Vec<String> {
        let mut v = Vec::new();
        if let HumanKind::Sso { rot, .. } = &self.kind {
            let mut t = self.first;
            while t < self.end {
                v.push(self.sso_key(seed, t).unwrap().0);
                t += rot;
            }
        }
        v
    }
}

// ---- user agents ----
pub const UA_GO_V2: &str = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64";
pub const UA_SSM: &str = "aws-sdk-go/1.44.260 (go1.20.11; linux; amd64) amazon-ssm-agent/3.3.40.0";
pub const UA_CWAGENT: &str = "aws-sdk-go/1.48.6 (go1.21.5; linux; amd64) CWAgent/1.300032.3";
pub const UA_BOTO_EC2: &str = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 md/arch#x86_64 lang/python#3.9.16 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0";
pub const UA_JAVA: &str = "aws-sdk-java/2.25.0 Linux/5.10.210-201.852.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy";
pub const UA_NODE: &str =
    "aws-sdk-js/3.540.0 ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 lang/js md/nodejs#20.12.0 api/sqs#3.540.0";
pub const UA_LAMBDA: &str = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.12.1 exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.0";
pub const UA_ECS_GO: &str = "aws-sdk-go-v2/1.30.3 ua/2.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 exec-env/AWS_ECS_FARGATE api/sqs#1.34.3";
pub const UA_ECS_PY: &str = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.12.1 exec-env/AWS_ECS_FARGATE cfg/retry-mode#legacy Botocore/1.34.0";
pub const UA_VPC_CNI: &str = "amazon-vpc-cni-k8s/1.18.0 aws-sdk-go/1.52.0 (go1.21.9; linux; amd64)";
pub const UA_KUBELET: &str =
    "kubelet/v1.29.3-eks-ae9a62a (linux/amd64) kubernetes/ae9a62a aws-sdk-go/1.48.16 (go1.21.8; linux; amd64)";
pub const UA_POD_JAVA: &str = "aws-sdk-java/2.25 Linux/5.10";
pub const UA_POD_PY: &str = "Boto3/1.33.13 md/Botocore#1.33.13 ua/2.0 os/linux#5.10.215-203.850.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.33.13";
pub const UA_POD_GO: &str = "aws-sdk-go/1.50.30 (go1.22.1; linux; amd64) external-dns/0.14.1";
pub const UA_CLI_DARWIN: &str = "aws-cli/2.15.0 Python/3.11.6 Darwin/23.1.0 exe/x86_64 prompt/off";
pub const UA_CLI_LINUX: &str = "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-14-generic exe/x86_64.ubuntu.22 prompt/off";
pub const UA_CLI_OFFICE: &str = "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-14-generic exe/x86_64.ubuntu.22 prompt/off command/ec2.describe-instances";
pub const UA_TERRAFORM: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.6.6 (+https://www.terraform.io) terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.49.6 (go1.21.5; linux; amd64)";
pub const UA_CHROME: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
pub const UA_FIREFOX: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
pub const UA_BOTO_LAPTOP: &str = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/macos#23.1.0 md/arch#arm64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0";

// ---- call sets ("service:EventName") ----
pub const CALLS_SSM_AGENT: &[&str] = &["ssm:UpdateInstanceInformation", "ssm:ListInstanceAssociations"];
pub const CALLS_CWAGENT: &[&str] = &["ec2:DescribeTags", "logs:CreateLogStream", "logs:DescribeLogStreams"];
pub const CALLS_WEB: &[&str] = &[
    "dynamodb:DescribeTable",
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "sqs:GetQueueAttributes",
    "s3:GetBucketLocation",
    "ssm:GetParameter",
    "logs:CreateLogStream",
];
pub const CALLS_BATCH: &[&str] = &[
    "s3:ListBuckets",
    "s3:GetBucketLocation",
    "sqs:GetQueueUrl",
    "sqs:ListQueues",
    "dynamodb:ListTables",
    "kms:GenerateDataKey",
    "ec2:DescribeTags",
];
pub const CALLS_OPS: &[&str] = &[
    "ec2:DescribeInstances",
    "ec2:DescribeVolumes",
    "ec2:DescribeTags",
    "monitoring:DescribeAlarms",
    "logs:DescribeLogStreams",
    "ec2:DescribeSecurityGroups",
];
pub const CALLS_VPCE: &[&str] = &[
    "s3:GetBucketLocation",
    "dynamodb:DescribeTable",
    "kms:Decrypt",
    "ssm:GetParameter",
    "sqs:GetQueueAttributes",
    "logs:CreateLogStream",
];
pub const CALLS_LAMBDA: &[&str] = &[
    "dynamodb:DescribeTable",
    "s3:GetBucketLocation",
    "sqs:GetQueueUrl",
    "kms:Decrypt",
    "ssm:GetParameter",
    "secretsmanager:GetSecretValue",
];
pub const CALLS_ECS: &[&str] = &[
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "dynamodb:DescribeTable",
    "ssm:GetParameters",
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "ecr:GetAuthorizationToken",
];
pub const CALLS_VPC_CNI: &[&str] =
    &["ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:AssignPrivateIpAddresses"];
pub const CALLS_KUBELET: &[&str] = &["ecr:GetAuthorizationToken", "ec2:DescribeInstances"];
pub const CALLS_PODS: &[&str] = &[
    "s3:GetBucketLocation",
    "sqs:GetQueueAttributes",
    "dynamodb:DescribeTable",
    "elasticloadbalancing:DescribeTargetGroups",
];
pub const CALLS_HUMAN_CLI: &[&str] = &[
    "ec2:DescribeInstances",
    "s3:ListBuckets",
    "ec2:DescribeVpcs",
    "ec2:DescribeSecurityGroups",
    "logs:DescribeLogStreams",
    "cloudformation:DescribeStacks",
];
pub const CALLS_CONSOLE: &[&str] = &[
    "ec2:DescribeInstances",
    "ec2:DescribeVolumes",
    "cloudformation:DescribeStacks",
    "ec2:DescribeVpcs",
    "monitoring:DescribeAlarms",
    "s3:ListBuckets",
    "ec2:DescribeSecurityGroups",
];
pub const CALLS_SVC_ASG: &[&str] =
    &["ec2:DescribeInstances", "ec2:DescribeInstanceStatus", "elasticloadbalancing:DescribeTargetHealth"];
pub const CALLS_SVC_CFN: &[&str] = &["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "lambda:GetFunction"];
pub const CALLS_SVC_CONFIG: &[&str] = &["s3:GetBucketAcl", "s3:GetBucketPolicy", "ec2:DescribeVolumes"];
