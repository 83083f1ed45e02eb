//! CloudTrail record writers.
use crate::json::{Obj, obj, ts};
use crate::rng::Rng;
use crate::world::{Human, HumanKind, Role, Workload};

pub struct Ctx {
    pub seed: u64,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub start: i64,
    pub end: i64,
    /// Region index where global STS calls are logged (us-east-1 if configured).
    pub global_region: Option<usize>,
}

/// Everything about one API call except who made it.
pub struct Call<'a> {
    pub t: i64,
    pub acct: &'a str,
    pub region: &'a str,
    /// "service:EventName"
    pub call: &'a str,
    pub ip: &'a str,
    pub ua: &'a str,
    pub vpce: Option<&'a str>,
    /// Account owning the endpoint (None: the caller's account).
    pub vpce_owner: Option<&'a str>,
    pub invoked_by: Option<&'a str>,
    /// Instance id / function / task (used in parameters), and a private address.
    pub subject: &'a str,
    pub private_ip: &'a str,
    pub console: bool,
}

pub fn split_call(call: &str) -> (&str, &str) {
    call.split_once(':').expect("service:Name")
}

fn read_only(name: &str) -> bool {
    ["Describe", "Get", "List", "Decrypt", "GenerateDataKey", "Lookup"].iter().any(|p| name.starts_with(p))
}

fn host(svc: &str, region: &str) -> String {
    if svc == "sts" && region == "us-east-1" {
        "sts.amazonaws.com".to_string()
    } else {
        format!("{}.{}.amazonaws.com", svc, region)
    }
}

fn az(region: &str, rng: &mut Rng) -> String {
    format!("{}{}", region, *rng.pick(&['a', 'b', 'c']))
}

fn items_filter(name: &str, value: &str) -> String {
    format!(r#"{{"items":[{{"name":"{}","valueSet":{{"items":[{{"value":"{}"}}]}}}}]}}"#, name, value)
}

fn bucket(acct: &str, subject: &str, region: &str) -> String {
    let stem = if subject.starts_with("i-") || subject.len() == 32 { "app" } else { subject };
    let stem: String = stem.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(24).collect();
    format!("acme-{}-{}-{}", stem.to_lowercase(), region, acct)
}

/// requestParameters JSON text (or "null"), plus optional resources and additionalEventData.
fn params(c: &Call, rng: &mut Rng) -> (String, Option<String>, Option<String>) {
    let (svc, name) = split_call(c.call);
    let is_inst = c.subject.starts_with("i-");
    let inst = if is_inst { c.subject.to_string() } else { format!("i-{}", rng.hex(17)) };
    let mut res = None;
    let mut extra = None;
    let p = match (svc, name) {
        ("ec2", "DescribeInstances") => {
            if is_inst {
                format!(
                    r#"{{"instancesSet":{{"items":[{{"instanceId":"{}"}}]}},"filterSet":{{}},"includeAllInstances":false}}"#,
                    inst
                )
            } else {
                format!(
                    r#"{{"instancesSet":{{}},"filterSet":{{"items":[{{"name":"instance-state-name","valueSet":{{"items":[{{"value":"running"}},{{"value":"pending"}}]}}}},{{"name":"tag:Environment","valueSet":{{"items":[{{"value":"production"}}]}}}}]}},"maxResults":{}}}"#,
                    rng.pick(&[100, 200, 1000])
                )
            }
        }
        ("ec2", "DescribeInstanceStatus") => format!(
            r#"{{"instancesSet":{{"items":[{{"instanceId":"{}"}}]}},"filterSet":{{}},"includeAllInstances":true}}"#,
            inst
        ),
        ("ec2", "DescribeTags") => format!(r#"{{"filterSet":{}}}"#, items_filter("resource-id", &inst)),
        ("ec2", "DescribeVolumes") => format!(
            r#"{{"volumeSet":{{}},"filterSet":{}}}"#,
            items_filter("attachment.instance-id", &inst)
        ),
        ("ec2", "DescribeNetworkInterfaces") => format!(
            r#"{{"networkInterfaceIdSet":{{}},"filterSet":{}}}"#,
            items_filter("attachment.instance-id", &inst)
        ),
        ("ec2", "DescribeSecurityGroups") => format!(
            r#"{{"securityGroupSet":{{}},"securityGroupIdSet":{{"items":[{{"groupId":"sg-{}"}},{{"groupId":"sg-{}"}}]}},"filterSet":{{}}}}"#,
            rng.hex(17),
            rng.hex(17)
        ),
        ("ec2", "DescribeVpcs") => r#"{"vpcSet":{},"filterSet":{}}"#.to_string(),
        ("ec2", "DescribeSubnets") => format!(
            r#"{{"subnetSet":{{}},"filterSet":{}}}"#,
            items_filter("vpc-id", &format!("vpc-{}", rng.hex(17)))
        ),
        ("ec2", "AssignPrivateIpAddresses") => format!(
            r#"{{"networkInterfaceId":"eni-{}","privateIpAddressesSet":{{}},"secondaryPrivateIpAddressCount":{}}}"#,
            rng.hex(17),
            rng.range(1, 4)
        ),
        ("s3", "ListBuckets") => {
            extra = Some(s3_extra(rng));
            format!(r#"{{"Host":"s3.{}.amazonaws.com"}}"#, c.region)
        }
        ("s3", n) => {
            extra = Some(s3_extra(rng));
            let b = bucket(c.acct, c.subject, c.region);
            let sub = match n {
                "GetBucketLocation" => "location",
                "GetBucketAcl" => "acl",
                "GetBucketPolicy" => "policy",
                _ => "versioning",
            };
            res = Some(format!(
                r#"[{{"accountId":"{}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::{}"}}]"#,
                c.acct, b
            ));
            format!(r#"{{"{}":"","bucketName":"{}","Host":"{}.s3.{}.amazonaws.com"}}"#, sub, b, b, c.region)
        }
        ("dynamodb", "DescribeTable") => format!(
            r#"{{"tableName":"{}"}}"#,
            rng.pick(&["orders", "sessions", "inventory-v2", "customer-profiles", "feature-flags"])
        ),
        ("dynamodb", "ListTables") => r#"{"limit":100}"#.to_string(),
        ("sqs", "GetQueueAttributes") => format!(
            r#"{{"queueUrl":"https://sqs.{}.amazonaws.com/{}/{}","attributeNames":["All"]}}"#,
            c.region,
            c.acct,
            rng.pick(&["jobs-queue", "events-ingest", "email-outbound", "thumbnails.fifo"])
        ),
        ("sqs", "GetQueueUrl") => format!(
            r#"{{"queueName":"{}"}}"#,
            rng.pick(&["jobs-queue", "events-ingest", "email-outbound", "thumbnails.fifo"])
        ),
        ("sqs", "ListQueues") => r#"{"queueNamePrefix":"jobs","maxResults":100}"#.to_string(),
        ("ssm", "GetParameter") => format!(
            r#"{{"name":"/app/production/{}","withDecryption":true}}"#,
            rng.pick(&["db-host", "db-password", "api-token", "feature-config", "log-level"])
        ),
        ("ssm", "GetParameters") => r#"{"names":["/app/production/db-host","/app/production/db-password","/app/production/redis-url"],"withDecryption":true}"#.to_string(),
        ("ssm", "UpdateInstanceInformation") => format!(
            r#"{{"instanceId":"{}","agentVersion":"3.3.40.0","agentStatus":"Active","platformType":"Linux","platformName":"Amazon Linux","platformVersion":"2023","iPAddress":"{}","computerName":"ip-{}.{}.compute.internal","agentName":"amazon-ssm-agent","availabilityZone":"{}","availabilityZoneId":"{}-az{}","sSMConnectionChannel":"ssmmessages"}}"#,
            inst,
            c.private_ip,
            c.private_ip.replace('.', "-"),
            c.region,
            az(c.region, rng),
            &c.region[..2],
            rng.range(1, 6)
        ),
        ("ssm", "ListInstanceAssociations") => format!(r#"{{"instanceId":"{}","maxResults":20}}"#, inst),
        ("kms", n) => {
            let kid = rng.uuid();
            res = Some(format!(
                r#"[{{"accountId":"{}","type":"AWS::KMS::Key","ARN":"arn:aws:kms:{}:{}:key/{}"}}]"#,
                c.acct, c.region, c.acct, kid
            ));
            if n == "Decrypt" {
                format!(
                    r#"{{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{{"SecretARN":"arn:aws:secretsmanager:{}:{}:secret:prod/app/db-{}","SecretVersionId":"{}"}}}}"#,
                    c.region,
                    c.acct,
                    rng.alnum(6),
                    rng.uuid()
                )
            } else {
                format!(
                    r#"{{"keyId":"arn:aws:kms:{}:{}:key/{}","keySpec":"AES_256","encryptionContext":{{"aws:s3:arn":"arn:aws:s3:::{}/data/part-{:05}.parquet"}}}}"#,
                    c.region,
                    c.acct,
                    kid,
                    bucket(c.acct, c.subject, c.region),
                    rng.below(100000)
                )
            }
        }
        ("logs", "CreateLogStream") => format!(
            r#"{{"logGroupName":"/app/{}","logStreamName":"{}/{}"}}"#,
            rng.pick(&["api", "worker", "system", "audit"]),
            c.subject,
            rng.hex(32)
        ),
        ("logs", "DescribeLogStreams") => format!(
            r#"{{"logGroupName":"/app/{}","logStreamNamePrefix":"{}","descending":false,"limit":50}}"#,
            rng.pick(&["api", "worker", "system", "audit"]),
            c.subject
        ),
        ("secretsmanager", "GetSecretValue") => format!(
            r#"{{"secretId":"arn:aws:secretsmanager:{}:{}:secret:prod/app/{}-{}"}}"#,
            c.region,
            c.acct,
            rng.pick(&["db", "stripe", "oauth-client"]),
            rng.alnum(6)
        ),
        ("monitoring", "DescribeAlarms") => r#"{"stateValue":"ALARM","maxRecords":100}"#.to_string(),
        ("ecr", "GetAuthorizationToken") => format!(r#"{{"registryIds":["{}"]}}"#, c.acct),
        ("cloudformation", "DescribeStacks") => format!(
            r#"{{"stackName":"arn:aws:cloudformation:{}:{}:stack/{}/{}"}}"#,
            c.region,
            c.acct,
            rng.pick(&["network-base", "app-prod", "data-pipeline"]),
            rng.uuid()
        ),
        ("elasticloadbalancing", "DescribeTargetHealth") => format!(
            r#"{{"targetGroupArn":"arn:aws:elasticloadbalancing:{}:{}:targetgroup/app-prod/{}"}}"#,
            c.region,
            c.acct,
            rng.hex(16)
        ),
        ("elasticloadbalancing", "DescribeTargetGroups") => format!(
            r#"{{"loadBalancerArn":"arn:aws:elasticloadbalancing:{}:{}:loadbalancer/app/k8s-ingress/{}","pageSize":400}}"#,
            c.region,
            c.acct,
            rng.hex(16)
        ),
        ("lambda", "GetFunction") => format!(r#"{{"functionName":"app-prod-{}"}}"#, rng.pick(&["resizer", "notifier", "etl"])),
        ("sts", "GetCallerIdentity") => "null".to_string(),
        ("ec2messages", "GetMessages") => format!(
            r#"{{"destination":"{}","messagesRequestId":"{}","visibilityTimeoutInSeconds":10}}"#,
            inst,
            rng.uuid()
        ),
        ("ec2messages", "AcknowledgeMessage") => format!(r#"{{"messageId":"{}"}}"#, rng.uuid()),
        ("ssmmessages", "CreateControlChannel") => format!(r#"{{"channelId":"{}"}}"#, inst),
        ("ssmmessages", "OpenDataChannel") => format!(r#"{{"sessionId":"{}-{}"}}"#, "ssm-user", rng.hex(17)),
        _ => "null".to_string(),
    };
    (p, res, extra)
}

fn s3_extra(rng: &mut Rng) -> String {
    format!(
        r#"{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"{}=","bytesTransferredOut":{}}}"#,
        rng.b64(75),
        rng.range(100, 900)
    )
}

/// Write one API-call record; `ident` writes the userIdentity object's fields.
pub fn call_record(out: &mut String, c: &Call, rng: &mut Rng, ident: impl FnOnce(&mut Obj)) {
    let (svc, name) = split_call(c.call);
    let (p, res, extra) = params(c, rng);
    let request_id = if svc == "s3" { rng.upper_alnum(16) } else { rng.uuid() };
    let mut o = Obj::new(out);
    o.s("eventVersion", if svc == "s3" { "1.10" } else { "1.09" });
    o.o("userIdentity", ident);
    o.s("eventTime", &ts(c.t))
        .s("eventSource", &format!("{}.amazonaws.com", svc))
        .s("eventName", name)
        .s("awsRegion", c.region)
        .s("sourceIPAddress", c.ip)
        .s("userAgent", c.ua)
        .raw("requestParameters", &p)
        .null("responseElements");
    if let Some(e) = &extra {
        o.raw("additionalEventData", e);
    }
    o.s("requestID", &request_id).s("eventID", &rng.uuid()).b("readOnly", read_only(name));
    if let Some(r) = &res {
        o.raw("resources", r);
    }
    o.s("eventType", "AwsApiCall").b("managementEvent", true).s("recipientAccountId", c.acct);
    if let Some(v) = c.vpce {
        o.s("vpcEndpointId", v).s("vpcEndpointAccountId", c.vpce_owner.unwrap_or(c.acct));
    }
    o.s("eventCategory", "Management");
    if c.invoked_by.is_none() {
        o.o("tlsDetails", |t| {
            t.s("tlsVersion", "TLSv1.3")
                .s("cipherSuite", "TLS_AES_128_GCM_SHA256")
                .s("clientProvidedHostHeader", &host(svc, c.region));
        });
    }
    if c.console {
        o.s("sessionCredentialFromConsole", "true");
    }
    o.end();
}

/// userIdentity fields of an assumed-role session.
pub fn assumed_role_ident(
    o: &mut Obj,
    acct: &str,
    role: &Role,
    session: &str,
    key: &str,
    creation: i64,
    delivery: Option<&str>,
    invoked_by: Option<&str>,
    web_provider: Option<&str>,
) {
    o.s("type", "AssumedRole")
        .s("principalId", &format!("{}:{}", role.id, session))
        .s("arn", &format!("arn:aws:sts::{}:assumed-role/{}/{}", acct, role.name, session))
        .s("accountId", acct)
        .s("accessKeyId", key)
        .o("sessionContext", |sc| {
            sc.o("sessionIssuer", |si| {
                si.s("type", "Role")
                    .s("principalId", &role.id)
                    .s("arn", &role.arn(acct))
                    .s("accountId", acct)
                    .s("userName", &role.name);
            })
            .o("webIdFederationData", |w| {
                if let Some(p) = web_provider {
                    w.s("federatedProvider", p).o("attributes", |_| {});
                }
            })
            .o("attributes", |a| {
                a.s("creationDate", &ts(creation)).s("mfaAuthenticated", "false");
            });
            if let Some(d) = delivery {
                sc.s("ec2RoleDelivery", d);
            }
        });
    if let Some(i) = invoked_by {
        o.s("invokedBy", i);
    }
}

pub fn expiration_text(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).unwrap().format("%b %-d, %Y, %-I:%M:%S %p").to_string()
}

/// The STS AssumeRole record with which a service (ec2/lambda/ecs-tasks/...) obtains a key.
pub fn delivery_record(
    out: &mut String,
    acct: &str,
    region: &str,
    service: &str,
    role: &Role,
    session: &str,
    key: &str,
    t: i64,
    lifetime: i64,
    rng: &mut Rng,
) {
    let n = 600 + rng.below(200) as usize;
    let token = format!("IQoJb3JpZ2luX2Vj{}", rng.b64(n));
    let mut o = Obj::new(out);
    o.s("eventVersion", "1.08")
        .o("userIdentity", |u| {
            u.s("type", "AWSService").s("invokedBy", service);
        })
        .s("eventTime", &ts(t))
        .s("eventSource", "sts.amazonaws.com")
        .s("eventName", "AssumeRole")
        .s("awsRegion", region)
        .s("sourceIPAddress", service)
        .s("userAgent", service)
        .o("requestParameters", |p| {
            p.s("roleArn", &role.arn(acct)).s("roleSessionName", session);
            if service != "ec2.amazonaws.com" {
                p.n("durationSeconds", lifetime);
            }
            if service == "pods.eks.amazonaws.com" {
                // EKS Pod Identity tags the session (TagSession) with the pod's coordinates.
                let cluster = session.split('-').nth(1).unwrap_or("cluster");
                p.arr("tags", 3, |i, t| {
                    let (k, v) = match i {
                        0 => ("eks-cluster-name", cluster.to_string()),
                        1 => ("kubernetes-namespace", "payments".to_string()),
                        _ => ("kubernetes-service-account", "payments-api".to_string()),
                    };
                    t.s("key", k).s("value", &v);
                });
            }
        })
        .o("responseElements", |r| {
            r.o("credentials", |c| {
                c.s("accessKeyId", key).s("sessionToken", &token).s("expiration", &expiration_text(t + lifetime));
            });
        })
        .s("requestID", &rng.uuid())
        .s("eventID", &rng.uuid())
        .b("readOnly", true)
        .arr("resources", 1, |_, r| {
            r.s("accountId", acct).s("type", "AWS::IAM::Role").s("ARN", &role.arn(acct));
        })
        .s("eventType", "AwsApiCall")
        .b("managementEvent", true)
        .s("recipientAccountId", acct)
        .s("sharedEventID", &rng.uuid())
        .s("eventCategory", "Management");
    o.end();
}

/// Delivery service host for a workload.
pub fn issuer(w: &Workload) -> &str {
    use crate::world::Kind::*;
    match w.kind {
        Ec2 => "ec2.amazonaws.com",
        Lambda => "lambda.amazonaws.com",
        Ecs => "ecs-tasks.amazonaws.com",
        Service => w.invoked_by.as_deref().unwrap_or("AWS Internal"),
        Delegated => w.issuer.as_deref().unwrap_or("AWS Internal"),
    }
}

/// IRSA: the pod's SDK exchanges its service-account token for a key (`AssumeRoleWithWebIdentity`),
/// from the pod's own address and with the pod's user agent; the caller is a WebIdentityUser.
pub fn web_identity_delivery(
    out: &mut String,
    acct: &str,
    region: &str,
    provider: &str,
    subject: &str,
    role: &Role,
    session: &str,
    key: &str,
    t: i64,
    ip: &str,
    ua: &str,
    rng: &mut Rng,
) {
    let provider_arn = format!("arn:aws:iam::{}:oidc-provider/{}", acct, provider);
    let token = format!("IQoJb3JpZ2luX2Vj{}", rng.b64(700));
    let mut o = Obj::new(out);
    o.s("eventVersion", "1.08")
        .o("userIdentity", |u| {
            u.s("type", "WebIdentityUser")
                .s("principalId", &format!("{}:sts.amazonaws.com:{}", provider_arn, subject))
                .s("userName", subject)
                .s("identityProvider", &provider_arn);
        })
        .s("eventTime", &ts(t))
        .s("eventSource", "sts.amazonaws.com")
        .s("eventName", "AssumeRoleWithWebIdentity")
        .s("awsRegion", region)
        .s("sourceIPAddress", ip)
        .s("userAgent", ua)
        .o("requestParameters", |p| {
            p.s("roleArn", &role.arn(acct)).s("roleSessionName", session).n("durationSeconds", 3600);
        })
        .o("responseElements", |r| {
            r.o("credentials", |c| {
                c.s("accessKeyId", key).s("sessionToken", &token).s("expiration", &expiration_text(t + 3600));
            })
            .s("subjectFromWebIdentityToken", subject)
            .o("assumedRoleUser", |a| {
                a.s("assumedRoleId", &format!("{}:{}", role.id, session))
                    .s("arn", &format!("arn:aws:sts::{}:assumed-role/{}/{}", acct, role.name, session));
            })
            .s("provider", &provider_arn)
            .s("audience", "sts.amazonaws.com");
        })
        .o("additionalEventData", |a| {
            a.s("identityProviderConnectionVerificationMethod", "IAMTrustStore");
        })
        .s("requestID", &rng.uuid())
        .s("eventID", &rng.uuid())
        .b("readOnly", true)
        .arr("resources", 2, |i, r| {
            if i == 0 {
                r.s("accountId", acct).s("type", "AWS::IAM::Role").s("ARN", &role.arn(acct));
            } else {
                r.s("accountId", acct).s("type", "AWS::IAM::OidcProvider").s("ARN", &provider_arn);
            }
        })
        .s("eventType", "AwsApiCall")
        .b("managementEvent", true)
        .s("recipientAccountId", acct)
        .s("eventCategory", "Management")
        .o("tlsDetails", |t| {
            t.s("tlsVersion", "TLSv1.3")
                .s("cipherSuite", "TLS_AES_128_GCM_SHA256")
                .s("clientProvidedHostHeader", &format!("sts.{}.amazonaws.com", region));
        });
    o.end();
}

pub fn lifetime(w: &Workload) -> i64 {
    use crate::world::Kind::*;
    match w.kind {
        Ec2 => 6 * 3600 + 35 * 60,
        Lambda => 12 * 3600,
        Ecs | Service => 6 * 3600,
        Delegated => 3600,
    }
}

/// userIdentity of a human.
pub fn human_ident(o: &mut Obj, acct: &str, h: &Human, key: &str, creation: i64) {
    match &h.kind {
        HumanKind::IamUser { user_id, .. } => {
            o.s("type", "IAMUser")
                .s("principalId", user_id)
                .s("arn", &format!("arn:aws:iam::{}:user/{}", acct, h.name))
                .s("accountId", acct)
                .s("accessKeyId", key)
                .s("userName", &h.name);
        }
        HumanKind::Sso { role, .. } => {
            assumed_role_ident(o, acct, role, &h.name, key, creation, None, None, None);
        }
    }
}

/// A record written by an IAM user or SSO session with explicit request/response text
/// (scenario helpers: AllocateAddress, AssociateAddress).
pub fn human_custom(
    acct: &str,
    region: &str,
    h: &Human,
    key: &str,
    creation: i64,
    t: i64,
    ip: &str,
    ua: &str,
    call: &str,
    request: &str,
    response: &str,
    rng: &mut Rng,
) -> String {
    let (svc, name) = split_call(call);
    obj(|o| {
        o.s("eventVersion", "1.09")
            .o("userIdentity", |u| human_ident(u, acct, h, key, creation))
            .s("eventTime", &ts(t))
            .s("eventSource", &format!("{}.amazonaws.com", svc))
            .s("eventName", name)
            .s("awsRegion", region)
            .s("sourceIPAddress", ip)
            .s("userAgent", ua)
            .raw("requestParameters", request)
            .raw("responseElements", response)
            .s("requestID", &rng.uuid())
            .s("eventID", &rng.uuid())
            .b("readOnly", false)
            .s("eventType", "AwsApiCall")
            .b("managementEvent", true)
            .s("recipientAccountId", acct)
            .s("eventCategory", "Management")
            .o("tlsDetails", |t| {
                t.s("tlsVersion", "TLSv1.3")
                    .s("cipherSuite", "TLS_AES_128_GCM_SHA256")
                    .s("clientProvidedHostHeader", &host(svc, region));
            });
    })
}
