//! Builds workloads and humans: the benign background and the helpers scenarios use.
use crate::records::Ctx;
use crate::rng::{Rng, tag};
use crate::world::*;

pub struct Builder<'a> {
    pub ctx: &'a Ctx,
    pub alloc: Alloc,
    pub workloads: Vec<Workload>,
    pub humans: Vec<Human>,
    next_id: u64,
}

pub struct Spec {
    pub kind: Kind,
    pub acct: usize,
    pub region: usize,
    pub role: Role,
    pub origin: Origin,
    pub clients: Vec<Client>,
    pub rate: f64,
    pub scaled: bool,
    pub first: i64,
    pub rot: i64,
    pub global_sts: f64,
}

impl<'a> Builder<'a> {
    pub fn new(ctx: &'a Ctx) -> Builder<'a> {
        Builder { ctx, alloc: Alloc::default(), workloads: Vec::new(), humans: Vec::new(), next_id: 1 }
    }
    pub fn seed(&self) -> u64 {
        self.ctx.seed
    }
    /// Ids and addresses of what is built next come from namespace `ns` (0 = background).
    pub fn set_namespace(&mut self, ns: u64) {
        self.next_id = 1 + ns * 1_000_000;
        self.alloc.set_namespace(if ns == 0 { 0 } else { 8000 + 500 * (ns - 1) });
    }
    pub fn id(&mut self) -> u64 {
        let i = self.next_id;
        self.next_id += 1;
        i
    }
    pub fn region_name(&self, r: usize) -> String {
        self.ctx.regions[r].clone()
    }
    pub fn role(&self, acct: usize, name: &str) -> Role {
        Role::new(self.seed(), &self.ctx.accounts[acct], name, "/")
    }
    /// A role name with a CloudFormation-like random suffix, stable per account.
    pub fn cfn_role(&self, acct: usize, stem: &str) -> Role {
        let mut r = Rng::from(&[self.seed(), tag("rolename"), acct as u64, tag(stem)]);
        self.role(acct, &format!("{}-{}", stem, r.upper_alnum(12)))
    }
    pub fn public_ip(&mut self, region: usize) -> String {
        let r = self.region_name(region);
        self.alloc.ip(&r, 0)
    }
    pub fn spare_ip(&mut self, region: &str) -> String {
        self.alloc.ip(region, 2)
    }
    pub fn vpce_id(&self, acct: usize, region: usize, n: u64) -> String {
        let mut r = Rng::from(&[self.seed(), tag("vpce"), acct as u64, region as u64, n]);
        format!("vpce-{}", r.hex(17))
    }

    /// Adds a workload; returns its index.
    pub fn add(&mut self, s: Spec) -> usize {
        let wid = self.id();
        let mut r = Rng::from(&[self.seed(), tag("wid"), wid]);
        let session = match s.kind {
            Kind::Ec2 => format!("i-{}", r.hex(17)),
            Kind::Ecs => r.hex(32),
            Kind::Lambda | Kind::Service | Kind::Delegated => String::new(),
        };
        let private_ip = self.alloc.private_ip();
        let (invoked_by, delivers) = match &s.origin {
            Origin::Host(h) => (Some(h.clone()), h != "AWS Internal"),
            _ => (None, true),
        };
        self.workloads.push(Workload {
            wid,
            kind: s.kind,
            acct: s.acct,
            region: s.region,
            role: s.role,
            session,
            origin: s.origin,
            moved: None,
            first: s.first,
            rot: s.rot,
            end: self.ctx.end,
            rate: s.rate,
            scaled: s.scaled,
            clients: s.clients,
            dual: false,
            extra_v1: Vec::new(),
            global_sts: s.global_sts,
            invoked_by,
            private_ip,
            delivers,
            quiet_until: 0,
            issuer: None,
            per_key_session: None,
            web_identity: None,
        });
        self.workloads.len() - 1
    }

    /// An EC2 instance with the SSM agent and an application client.
    pub fn instance(
        &mut self,
        acct: usize,
        region: usize,
        role: &Role,
        origin: Origin,
        app_ua: &str,
        app_calls: &[&'static str],
        rate: f64,
        scaled: bool,
        rng: &mut Rng,
    ) -> usize {
        let mut clients = vec![Client::new(app_ua, app_calls, 0.6), Client::new(UA_SSM, CALLS_SSM_AGENT, 0.25)];
        if rng.chance(0.5) {
            clients.push(Client::new(UA_CWAGENT, CALLS_CWAGENT, 0.15));
        }
        let vpce = matches!(origin, Origin::Vpce { .. });
        let first = self.ctx.start + rng.range(0, 300);
        let rot = rng.range(3000, 3600);
        self.add(Spec {
            kind: Kind::Ec2,
            acct,
            region,
            role: role.clone(),
            origin,
            clients,
            rate,
            scaled,
            first,
            rot,
            global_sts: if vpce { 0.0 } else { 0.5 },
        })
    }

    pub fn lambda(&mut self, acct: usize, region: usize, name: &str, rate: f64, scaled: bool, rng: &mut Rng) -> usize {
        let role = self.cfn_role(acct, &format!("{}-role", name));
        let first = self.ctx.start + rng.range(0, 600);
        let rot = rng.range(900, 2700);
        let i = self.add(Spec {
            kind: Kind::Lambda,
            acct,
            region,
            role,
            origin: Origin::LambdaPool,
            clients: vec![Client::new(UA_LAMBDA, CALLS_LAMBDA, 1.0)],
            rate,
            scaled,
            first,
            rot,
            global_sts: 0.0,
        });
        self.workloads[i].session = name.to_string();
        i
    }

    pub fn ecs_task(
        &mut self,
        acct: usize,
        region: usize,
        role: &Role,
        nat: &str,
        ua: &str,
        rate: f64,
        scaled: bool,
        rng: &mut Rng,
    ) -> usize {
        let first = self.ctx.start + rng.range(0, 600);
        let rot = rng.range(3300, 3600);
        self.add(Spec {
            kind: Kind::Ecs,
            acct,
            region,
            role: role.clone(),
            origin: Origin::Ip(nat.to_string()),
            clients: vec![Client::new(ua, CALLS_ECS, 1.0)],
            rate,
            scaled,
            first,
            rot,
            global_sts: 0.0,
        })
    }

    pub fn service(
        &mut self,
        acct: usize,
        region: usize,
        role: Role,
        session: &str,
        host: &str,
        calls: &[&'static str],
        rate: f64,
        scaled: bool,
    ) -> usize {
        let i = self.add(Spec {
            kind: Kind::Service,
            acct,
            region,
            role,
            origin: Origin::Host(host.to_string()),
            clients: vec![Client::new(host, calls, 1.0)],
            rate,
            scaled,
            first: self.ctx.start + 30,
            rot: 3600,
            global_sts: 0.0,
        });
        self.workloads[i].session = session.to_string();
        i
    }

    pub fn iam_user(
        &mut self,
        acct: usize,
        name: &str,
        ips: &[&str],
        uas: &[&str],
        calls: &[&'static str],
        rate: f64,
        scaled: bool,
        region: Option<usize>,
    ) -> usize {
        let hid = self.id();
        let mut r = Rng::from(&[self.seed(), tag("user"), acct as u64, tag(name)]);
        let user_id = format!("AIDA{}", r.upper_alnum(17));
        let key = access_key(self.seed(), "AKIA", &[tag("akia"), acct as u64, tag(name)]);
        self.humans.push(Human {
            hid,
            acct,
            name: name.to_string(),
            kind: HumanKind::IamUser { user_id, key },
            ips: ips.iter().map(|s| s.to_string()).collect(),
            uas: uas.iter().map(|s| s.to_string()).collect(),
            calls: calls.to_vec(),
            rate,
            scaled,
            first: self.ctx.start,
            end: self.ctx.end,
            region,
        });
        self.humans.len() - 1
    }

    pub fn sso_user(
        &mut self,
        acct: usize,
        email: &str,
        ips: &[&str],
        uas: &[&str],
        calls: &[&'static str],
        rate: f64,
        scaled: bool,
        first: i64,
        region: Option<usize>,
    ) -> usize {
        let hid = self.id();
        let mut r = Rng::from(&[self.seed(), tag("ssorole"), acct as u64]);
        let role = Role::new(
            self.seed(),
            &self.ctx.accounts[acct],
            &format!("AWSReservedSSO_AdministratorAccess_{}", r.hex(16)),
            "/aws-reserved/sso.amazonaws.com/",
        );
        self.humans.push(Human {
            hid,
            acct,
            name: email.to_string(),
            kind: HumanKind::Sso { role, rot: 3600 },
            ips: ips.iter().map(|s| s.to_string()).collect(),
            uas: uas.iter().map(|s| s.to_string()).collect(),
            calls: calls.to_vec(),
            rate,
            scaled,
            first,
            end: self.ctx.end,
            region,
        });
        self.humans.len() - 1
    }
}

const APPS: &[(&str, &[&str], &str)] = &[
    ("prod-web-api-InstanceRole", CALLS_WEB, UA_GO_V2),
    ("prod-batch-worker-InstanceRole", CALLS_BATCH, UA_BOTO_EC2),
    ("prod-ops-monitor-InstanceRole", CALLS_OPS, UA_JAVA),
    ("prod-event-consumer-InstanceRole", CALLS_BATCH, UA_NODE),
];

const FN_WORDS: &[&str] = &["resizer", "notifier", "etl", "webhook", "scheduler", "auditor", "indexer", "mailer"];

/// Benign background for every account and region; `target_rph` = records per hour per stream.
pub fn background(b: &mut Builder, target_rph: f64) {
    let na = b.ctx.accounts.len();
    let nr = b.ctx.regions.len();
    let n_ec2 = ((target_rph / 300.0).round() as usize).clamp(2, 60);
    for a in 0..na {
        for r in 0..nr {
            let mut rng = Rng::from(&[b.seed(), tag("bg"), a as u64, r as u64]);
            let roles: Vec<Role> = APPS.iter().map(|(stem, _, _)| b.cfn_role(a, stem)).collect();
            let vpce = b.vpce_id(a, r, 0);
            let mut nat = String::new();
            for i in 0..n_ec2 {
                let app = i % APPS.len();
                let origin = match i % 10 {
                    0..=4 => Origin::Ip(b.public_ip(r)),
                    5..=7 => {
                        // Subnets of up to 4 instances share one NAT gateway.
                        if i % 10 == 5 || nat.is_empty() {
                            nat = b.public_ip(r);
                        }
                        Origin::Ip(nat.clone())
                    }
                    _ => {
                        let ip = b.alloc.private_ip();
                        Origin::Vpce { vpce: vpce.clone(), ip }
                    }
                };
                let (_, calls, ua) = APPS[app];
                b.instance(a, r, &roles[app], origin, ua, calls, 12.0, true, &mut rng);
            }
            for i in 0..(n_ec2 / 3).max(1) {
                let name = format!("prod-{}-{}-{}", FN_WORDS[i % FN_WORDS.len()], short_region(&b.ctx.regions[r]), i);
                b.lambda(a, r, &name, 10.0, true, &mut rng);
            }
            for svc in 0..(1 + n_ec2 / 20) {
                let role = b.cfn_role(a, &format!("ecs-svc{}-TaskRole", svc));
                let nat = b.public_ip(r);
                let ua = if svc % 2 == 0 { UA_ECS_GO } else { UA_ECS_PY };
                for _ in 0..rng.range(2, 2 + (n_ec2 as i64 / 10).clamp(1, 4)) {
                    b.ecs_task(a, r, &role, &nat, ua, 10.0, true, &mut rng);
                }
            }
            let acct = b.ctx.accounts[a].clone();
            let asg = Role::new(
                b.seed(),
                &acct,
                "AWSServiceRoleForAutoScaling",
                "/aws-service-role/autoscaling.amazonaws.com/",
            );
            b.service(a, r, asg, "AutoScaling", "autoscaling.amazonaws.com", CALLS_SVC_ASG, 3.0, true);
            let cfn = b.cfn_role(a, "cfn-deploy-role");
            b.service(a, r, cfn, "AWSCloudFormation", "cloudformation.amazonaws.com", CALLS_SVC_CFN, 2.0, true);
            let cfg = Role::new(b.seed(), &acct, "AWSServiceRoleForConfig", "/aws-service-role/config.amazonaws.com/");
            b.service(a, r, cfg, "AWSConfig-Describe", "config.amazonaws.com", CALLS_SVC_CONFIG, 2.0, true);
            let aa = Role::new(
                b.seed(),
                &acct,
                "AWSServiceRoleForAccessAnalyzer",
                "/aws-service-role/access-analyzer.amazonaws.com/",
            );
            b.service(a, r, aa, "access-analyzer", "AWS Internal", CALLS_SVC_CONFIG, 2.0, true);
        }
        b.iam_user(a, "deploy-bot", &["198.51.100.20"], &[UA_TERRAFORM], CALLS_HUMAN_CLI, 4.0, true, None);
        b.iam_user(a, "jdoe", &["198.51.100.37"], &[UA_CLI_OFFICE], CALLS_HUMAN_CLI, 3.0, true, None);
        b.iam_user(a, "ops-admin", &["192.0.2.44"], &[UA_CLI_OFFICE, UA_CHROME], CALLS_HUMAN_CLI, 3.0, true, None);
        let first = b.ctx.start + 600;
        b.sso_user(
            a,
            "maria.garcia@example.com",
            &["198.51.100.61"],
            &[UA_CHROME],
            CALLS_CONSOLE,
            4.0,
            true,
            first,
            None,
        );
        b.sso_user(
            a,
            "li.wei@example.com",
            &["192.0.2.80"],
            &[UA_FIREFOX, UA_CLI_DARWIN],
            CALLS_CONSOLE,
            4.0,
            true,
            first + 300,
            None,
        );
    }
}

/// "us-east-1" -> "use1", "ap-southeast-2" -> "apse2".
pub fn short_region(r: &str) -> String {
    let parts: Vec<&str> = r.split('-').collect();
    if parts.len() != 3 {
        return r.replace('-', "");
    }
    let dir = match parts[1] {
        "east" => "e",
        "west" => "w",
        "north" => "n",
        "south" => "s",
        "central" => "c",
        "southeast" => "se",
        "northeast" => "ne",
        "northwest" => "nw",
        "southwest" => "sw",
        d => &d[..1],
    };
    format!("{}{}{}", parts[0], dir, parts[2])
}
