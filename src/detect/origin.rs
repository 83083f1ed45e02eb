//! Where a call came from, and with what client.

use super::ipranges::{AwsRange, IpRanges};
use super::state::Origin;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr};

/// What kind of place a call came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginClass<'a> {
    /// The operator's trusted egress (`--trusted-cidr`).
    Trusted,
    /// Through a VPC endpoint; whose it is is judged against the workload's account.
    Endpoint,
    /// A private address without a VPC endpoint (anonymized logs, or traffic AWS records that way).
    Private,
    /// Inside AWS's published ranges.
    Aws(&'a AwsRange),
    /// A public address outside AWS.
    Outside,
    /// Not an address at all.
    Unparsable,
}

impl OriginClass<'_> {
    /// The class in words, for findings (`outside AWS`, `AWS EC2 us-west-2`, ...).
    pub fn label(&self) -> String {
        match self {
            OriginClass::Trusted => "trusted CIDR".into(),
            OriginClass::Endpoint => "VPC endpoint".into(),
            OriginClass::Private => "private address".into(),
            OriginClass::Aws(r) => format!("AWS {} {}", r.service, r.region),
            OriginClass::Outside => "outside AWS".into(),
            OriginClass::Unparsable => "unparsable address".into(),
        }
    }
}

/// Parses an address leniently: real trails carry zero-padded octets such as `035.249.253.232`,
/// which the standard parser refuses. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is the IPv4 address, so
/// it is classed and matched against trusted CIDRs as one.
pub fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(s);
    // Nearly every address of a trail is a dotted quad: one pass over its bytes, where the standard
    // parser's generality costs several times that for every new key's address. The same result as
    // `parse_general` (a test holds the two together).
    dotted_quad(s.as_bytes()).map(IpAddr::V4).or_else(|| parse_general(s))
}

/// The standard parser, then zero-padded octets.
fn parse_general(s: &str) -> Option<IpAddr> {
    if let Ok(a) = s.parse::<IpAddr>() {
        return Some(a.to_canonical());
    }
    let mut octets = [0u8; 4];
    let mut n = 0;
    for part in s.split('.') {
        if n == 4 || part.is_empty() || part.len() > 3 || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        octets[n] = part.parse().ok()?;
        n += 1;
    }
    (n == 4).then(|| IpAddr::V4(Ipv4Addr::from(octets)))
}

/// Four decimal octets of one to three digits each, zero-padded or not, none over 255.
fn dotted_quad(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let (mut n, mut value, mut digits) = (0, 0u32, 0);
    for &c in s {
        if c.is_ascii_digit() {
            value = value * 10 + u32::from(c - b'0');
            digits += 1;
            if digits > 3 {
                return None;
            }
        } else if c == b'.' && digits > 0 && n < 3 && value <= 255 {
            octets[n] = value as u8;
            (n, value, digits) = (n + 1, 0, 0);
        } else {
            return None;
        }
    }
    if n != 3 || digits == 0 || value > 255 {
        return None;
    }
    octets[3] = value as u8;
    Some(Ipv4Addr::from(octets))
}

/// Reads an address written with a port (`1.2.3.4:443`, `[2001:db8::1]:443`) or an IPv6 zone
/// (`fe80::1%eth0`) as the address itself. AWS writes `sourceIPAddress`, so such forms come from
/// exports and anonymizers; reading them keeps the call judged, and the run summary says so.
pub fn repair_addr(s: &str) -> Option<IpAddr> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        if port.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        return parse_addr(host);
    }
    if let Some((host, zone)) = s.split_once('%') {
        if zone.is_empty() || !host.contains(':') {
            return None;
        }
        return parse_addr(host);
    }
    match s.split_once(':') {
        Some((host, port)) if !port.contains(':') && !port.is_empty() && port.bytes().all(|c| c.is_ascii_digit()) => {
            parse_addr(host).filter(|a| a.is_ipv4())
        }
        _ => None,
    }
}

/// True for events a service made for the principal (`invokedBy`, a service host or `AWS Internal`
/// as the source, all written by AWS): not a place the credentials were used from. SSM's control
/// channels are not among them: they are calls made with the key, and from an origin that is not
/// the instance's they are SSM session hijacking.
pub fn is_service_call(source_ip: &str, invoked_by: &str) -> bool {
    !invoked_by.is_empty() || source_ip == "AWS Internal" || source_ip.ends_with(".amazonaws.com")
}

/// How a call's signature may have been redeemed by someone other than the key's holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redemption {
    /// A presigned S3 link for an object, opened by whoever got it (a browser, a customer's server).
    Link,
    /// A signed `GetCallerIdentity`: how a key's holder proves who it is, to STS or through a third
    /// party (EKS's authenticator, Vault's and MongoDB Atlas's AWS IAM auth) that sends it on to STS
    /// from its own address.
    IdentityCheck,
}

/// Whether a call's signature may have been redeemed elsewhere: such calls show where the
/// signature went, not where the key is. Only the object calls links are handed out for count: S3
/// takes any request signed in its URL (a delete, a bucket policy), and a thief who signs those
/// himself must stay judged in full.
pub fn redemption(event_source: &str, event_name: &str, auth_method: &str, user_agent: &str) -> Option<Redemption> {
    if is_s3_source(event_source) {
        return (auth_method == "QueryString" && is_link_call(event_name)).then_some(Redemption::Link);
    }
    if event_source == ECR_SOURCE {
        return (ECR_TOKEN_CALLS.contains(&event_name) && is_registry_client(user_agent)).then_some(Redemption::Link);
    }
    is_identity_check(event_source, event_name).then_some(Redemption::IdentityCheck)
}

/// The object calls presigned links are made for: downloads, uploads (multipart too). The Athena
/// queries' shared head (`queries/_events.sql`) lists the same; a test holds the two together.
pub const LINK_CALLS: [&str; 6] =
    ["GetObject", "HeadObject", "PutObject", "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload"];

fn is_link_call(event_name: &str) -> bool {
    LINK_CALLS.contains(&event_name)
}

/// S3's event sources that record `AuthenticationMethod` (general purpose and directory buckets,
/// Object Lambda access points); `queries/_events.sql` reads it from the same.
pub const S3_SOURCES: [&str; 3] = ["s3.amazonaws.com", "s3express.amazonaws.com", "s3-object-lambda.amazonaws.com"];

/// ECR's event source.
pub const ECR_SOURCE: &str = "ecr.amazonaws.com";

/// The registry calls a Docker client pulls with using an ECR authorization token: the token is the
/// key's signature for 12 hours, handed to every node that pulls (a cluster's pull secret), and ECR
/// records each pull under the key that asked for it, from the puller's address. Like a presigned
/// link, a pull shows where the token went; the `GetAuthorizationToken` that made it is judged like
/// any call, and so is a push (a thief's backdoored image): nothing in the record tells a token's
/// use from a call the key's holder signed, so only reads are given the benefit.
pub const ECR_TOKEN_CALLS: [&str; 3] = ["BatchGetImage", "GetDownloadUrlForLayer", "BatchCheckLayerAvailability"];

/// The clients that pull with an ECR token (`docker login`, `helm registry login`, a pull secret, a
/// credential helper), by the start of their user agent, lower-cased: Docker, containerd (and
/// nerdctl, Finch, kubelet's runtime), CRI-O, containers/image (Podman, Buildah, Skopeo), Helm, ORAS,
/// Notation, regclient, Flux, Kaniko, BuildKit, and tools on go-containerregistry (crane, ko,
/// cosign), which also name it further on ([`REGISTRY_LIBRARY`]). They cannot sign SigV4, so their
/// pulls are a token's; the same calls signed by an SDK or the CLI (`aws ecr batch-get-image`, a
/// thief copying images out) are the key holder's, judged like any call. `queries/_events.sql`
/// matches the same.
pub const REGISTRY_CLIENTS: [&str; 18] = [
    "docker/",
    "containerd/",
    "nerdctl/",
    "cri-o/",
    "containers/",
    "podman/",
    "buildah/",
    "skopeo/",
    "helm/",
    "oras/",
    "notation/",
    "regclient/",
    "flux/",
    "kaniko/",
    "buildkit/",
    "crane/",
    "ko/",
    "cosign/",
];

/// The registry library whose name a tool's user agent carries after its own.
pub const REGISTRY_LIBRARY: &str = "go-containerregistry/";

/// Whether the user agent is a registry client's ([`REGISTRY_CLIENTS`], [`REGISTRY_LIBRARY`]).
fn is_registry_client(user_agent: &str) -> bool {
    REGISTRY_CLIENTS.iter().any(|p| user_agent.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p)))
        || user_agent
            .as_bytes()
            .windows(REGISTRY_LIBRARY.len())
            .any(|w| w.eq_ignore_ascii_case(REGISTRY_LIBRARY.as_bytes()))
}

/// Calls from `event_source` that are redeemed (see [`redemption`]) are links handed out (S3's
/// presigned URLs, ECR's tokens), not identity checks.
pub fn is_link_source(event_source: &str) -> bool {
    is_s3_source(event_source) || event_source == ECR_SOURCE
}

/// Whether an event source is one of [`S3_SOURCES`].
pub fn is_s3_source(event_source: &str) -> bool {
    S3_SOURCES.contains(&event_source)
}

/// A signed `GetCallerIdentity`: the key's holder proving who it is, to STS or through a third party.
fn is_identity_check(event_source: &str, event_name: &str) -> bool {
    event_source == "sts.amazonaws.com" && event_name == "GetCallerIdentity"
}

/// SSM's agent channels: Run Command and Session Manager traffic of the instance's agent.
pub fn is_ssm_channel(event_source: &str) -> bool {
    matches!(event_source, "ssmmessages.amazonaws.com" | "ec2messages.amazonaws.com")
}

/// Classifies origins: the operator's trusted networks first, then AWS's published ranges.
pub struct Classifier {
    /// AWS's address ranges.
    pub ranges: IpRanges,
    /// `--trusted-cidr`: on-premises egress never reported.
    pub trusted: Vec<IpNet>,
}

impl Classifier {
    /// The class of an address (already parsed and canonical).
    pub fn classify_ip(&self, a: IpAddr) -> OriginClass<'_> {
        if self.is_trusted(a) {
            return OriginClass::Trusted;
        }
        let private = match a {
            IpAddr::V4(v) => {
                v.is_private()
                    || v.is_loopback()
                    || v.is_link_local()
                    || (v.octets()[0] == 100 && (v.octets()[1] & 0xc0) == 64)
            }
            IpAddr::V6(v) => v.is_unique_local() || v.is_loopback() || v.is_unicast_link_local(),
        };
        if private {
            return OriginClass::Private;
        }
        match self.ranges.lookup(a) {
            Some(r) => OriginClass::Aws(r),
            None => OriginClass::Outside,
        }
    }

    /// True when `--trusted-cidr` covers the address: the one question [`Self::classify_ip`] answers
    /// without a lookup in AWS's ranges.
    pub fn is_trusted(&self, a: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&a))
    }

    /// The class of an origin: addresses by [`Self::classify_ip`], endpoints and unparsable names as such.
    pub fn classify(&self, o: &Origin) -> OriginClass<'_> {
        match o {
            Origin::Ip(a) => self.classify_ip(*a),
            Origin::Endpoint { .. } => OriginClass::Endpoint,
            Origin::Unparsable(_) => OriginClass::Unparsable,
        }
    }
}

/// Services whose calls are logged in us-east-1 (or nowhere in particular) wherever the caller runs.
pub fn is_global_service(event_source: &str) -> bool {
    matches!(
        event_source,
        "iam.amazonaws.com"
            | "sts.amazonaws.com"
            | "organizations.amazonaws.com"
            | "cloudfront.amazonaws.com"
            | "route53.amazonaws.com"
            | "support.amazonaws.com"
            | "health.amazonaws.com"
            | "signin.amazonaws.com"
            | "s3.amazonaws.com"
    )
}

/// Bytes of a user agent's product name kept in its client family.
const MAX_PRODUCT: usize = 64;

/// The SSM agent's name in its user agent (after the SDK's), and the product of its client family.
pub const SSM_AGENT: &str = "amazon-ssm-agent";

/// Whether a client family ([`client_family`]) is the SSM agent's.
pub fn is_ssm_agent_family(family: &str) -> bool {
    family.starts_with(SSM_AGENT)
}

/// A client family: the product and operating system in a user agent, without versions
/// (`aws-cli linux`, `boto3 darwin`, `amazon-ssm-agent linux`). Versions change with upgrades; a
/// different product or OS on the same credentials is what a thief's machine looks like.
pub fn client_family(user_agent: &str) -> String {
    let ua = user_agent.to_ascii_lowercase();
    let product = if ua.contains(SSM_AGENT) {
        SSM_AGENT
    } else {
        let first = ua.trim_start_matches('[').split([' ', '/', '(']).next().unwrap_or("");
        match first {
            "" => "none",
            // Real products are short; a forged one is kept to its first bytes, as every distinct
            // family is held for the run.
            p => &p[..p.floor_char_boundary(MAX_PRODUCT)],
        }
    };
    let os = if ua.contains("darwin") || ua.contains("macos") || ua.contains("mac os") {
        "darwin"
    } else if ua.contains("windows") || ua.contains("win32") {
        "windows"
    } else if ua.contains("linux") {
        "linux"
    } else {
        "unknown-os"
    };
    format!("{product} {os}")
}

/// Clients that run on an EKS node itself; pods reaching the node's credentials through the metadata
/// service use many other clients legitimately.
pub fn is_eks_node_client(family: &str) -> bool {
    ["amazon-vpc-cni-k8s", "kubernetes", "kubelet", "aws-node", "eks", "karpenter"]
        .iter()
        .any(|p| family.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_addresses() {
        assert_eq!(parse_addr("035.249.253.232"), Some("35.249.253.232".parse().unwrap()));
        assert_eq!(parse_addr("2600:1f18::1"), Some("2600:1f18::1".parse().unwrap()));
        assert_eq!(parse_addr("not-an-ip"), None);
        assert_eq!(parse_addr("1.2.3.4.5"), None);
        assert_eq!(parse_addr("256.1.1.1"), None);
        assert_eq!(parse_addr("::ffff:3.225.16.109"), Some("3.225.16.109".parse().unwrap()));
        assert_eq!(parse_addr("[2600:1f18::1]"), Some("2600:1f18::1".parse().unwrap()));
        assert_eq!(parse_addr("fe80::1%eth0"), None);
        assert_eq!(parse_addr("1.2.3.4:443"), None);
        assert_eq!(repair_addr("1.2.3.4:443"), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(repair_addr("[2600:1f18::1]:443"), Some("2600:1f18::1".parse().unwrap()));
        assert_eq!(repair_addr("fe80::1%eth0"), Some("fe80::1".parse().unwrap()));
        assert_eq!(repair_addr("2600:1f18::1"), None);
        assert_eq!(repair_addr("not-an-ip"), None);
        assert_eq!(repair_addr("1.2.3.4:https"), None);
    }

    /// The one-pass reading of dotted quads gives what the standard parser, then the lenient split,
    /// gives.
    #[test]
    fn dotted_quads_read_as_the_general_parser_reads_them() {
        let cases = [
            "1.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3.256",
            "01.2.3.4",
            "001.002.003.004",
            "0001.2.3.4",
            "1.2.3",
            "1.2.3.4.",
            ".1.2.3.4",
            "1..2.3",
            "1.2.3.4.5",
            "1.2.3.-4",
            "1.2.3.4 ",
            " 1.2.3.4",
            "999.1.1.1",
            "1.2.3.1000",
            "",
            ".",
            "...",
            "1.2.3.4a",
            "a.b.c.d",
            "1.2.3.04",
            "::1",
            "::ffff:1.2.3.4",
        ];
        for s in cases {
            assert_eq!(parse_addr(s), parse_general(s), "{s:?}");
        }
        for a in 0..=300u32 {
            let s = format!("10.{a}.0.{}", 300 - a);
            assert_eq!(parse_addr(&s), parse_general(&s), "{s:?}");
        }
    }

    #[test]
    fn families() {
        assert_eq!(
            client_family("aws-sdk-go/1.41.4 (go1.18.3; linux; amd64) amazon-ssm-agent/"),
            "amazon-ssm-agent linux"
        );
        assert_eq!(client_family("aws-cli/2.15.0 Python/3.11 Darwin/23.1.0 exe/x86_64"), "aws-cli darwin");
        assert_eq!(client_family("aws-cli/1.18.136 Python/3.8 Linux/4.14"), "aws-cli linux");
        assert_eq!(client_family("[Boto3/1.28.0 md/Botocore#1.31.0 os/linux#5.10]"), "boto3 linux");
        assert_eq!(client_family(""), "none unknown-os");
    }
}
