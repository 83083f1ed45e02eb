//! What scenario planters share: where and when a scenario is planted, scripted calls, the attacker.
use crate::emit::{Ov, use_record};
use crate::population::Builder;
use crate::rng::Rng;
use crate::world::*;

/// aws-cli on an Amazon Linux 2023 EC2 host (thieves' and bastion users' client).
pub const UA_CLI_EC2_HOST: &str =
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.61-85.141.amzn2023.x86_64 exe/x86_64.amzn.2023 prompt/off";

/// Where and when a scenario is planted, and the builder it plants with.
pub struct P<'a, 'b> {
    pub b: &'a mut Builder<'b>,
    pub scripted: &'a mut [Vec<(i64, String)>],
    pub a: usize,
    pub r: usize,
    pub t: i64,
    pub rng: Rng,
    /// Addresses the thieves' calls come from (`attack` records them).
    pub origins: Vec<String>,
}

impl P<'_, '_> {
    /// Stream index (account x region) of this scenario's account in region `region`.
    pub fn stream(&self, region: usize) -> usize {
        self.a * self.b.ctx.regions.len() + region
    }
    /// Region index where a GetCallerIdentity by this scenario's principals is logged.
    pub fn sts_region(&self) -> usize {
        self.b.ctx.global_region.unwrap_or(self.r)
    }
    /// The scenario's region name.
    pub fn region(&self) -> String {
        self.b.ctx.regions[self.r].clone()
    }
    /// Every key of the given workloads.
    pub fn keys(&self, idx: &[usize]) -> Vec<String> {
        idx.iter().flat_map(|&i| self.b.workloads[i].all_keys(self.b.seed())).collect()
    }
    /// Script one call of workload `wi` at t with overrides, in the scenario's region.
    pub fn script_use(&mut self, wi: usize, t: i64, call: &str, ov: &Ov) {
        let region_idx = if call == "sts:GetCallerIdentity" { self.sts_region() } else { self.r };
        self.script_use_in(wi, t, call, region_idx, ov);
    }
    /// Script one call of workload `wi` at t, logged in region index `region_idx`.
    pub fn script_use_in(&mut self, wi: usize, t: i64, call: &str, region_idx: usize, ov: &Ov) {
        let region = self.b.ctx.regions[region_idx].clone();
        let w = self.b.workloads[wi].clone();
        let rec = use_record(self.b.ctx, &w, t, call, &region, &mut self.rng, ov).expect("scripted use has a key");
        let s = self.stream(region_idx);
        self.scripted[s].push((t, rec));
    }
    /// An EC2 instance of `role` in the scenario's account and region.
    pub fn inst(&mut self, role: &Role, origin: Origin, ua: &str, calls: &[&'static str], rate: f64) -> usize {
        let mut rng = Rng::new(self.rng.next_u64());
        self.b.instance(self.a, self.r, role, origin, ua, calls, rate, false, &mut rng)
    }
}

/// Script the attacker's calls: (offset seconds, call); records the attacker's origin and
/// returns the time of the first call. Through a VPC endpoint the origin is the endpoint (the
/// private address behind it is the endpoint's network, not a place of its own).
pub fn attack(p: &mut P, wi: usize, t0: i64, steps: &[(i64, &str)], ov: &Ov) -> i64 {
    let origin = match ov.vpce {
        Some((vpce, _)) => Some(vpce),
        None => ov.ip,
    };
    if let Some(o) = origin.filter(|o| !p.origins.iter().any(|x| x == o)) {
        p.origins.push(o.to_string());
    }
    for (dt, call) in steps {
        p.script_use(wi, t0 + dt, call, ov);
    }
    t0 + steps[0].0
}

/// A thief's first look around: identity, instances, buckets, secrets, parameters.
pub const RECON: &[(i64, &str)] = &[
    (0, "sts:GetCallerIdentity"),
    (41, "ec2:DescribeInstances"),
    (97, "s3:ListBuckets"),
    (163, "secretsmanager:GetSecretValue"),
    (302, "ec2:DescribeSecurityGroups"),
    (418, "ssm:GetParameters"),
];
