//! Population shapes other than the default background, for scale: `lambda-heavy` (four busy
//! functions, a key per cold start) and `many-keys` (a target number of distinct keys from Lambda
//! cold starts and hourly EC2 keys, spread over every account and region, few events per key).
use crate::population::Builder;
use crate::rng::{Rng, tag};
use crate::world::*;

/// Cold starts per busy function per day (one key each).
pub const COLD_STARTS_PER_DAY: f64 = 2700.0;
/// Uses of a cold-start key before its environment is recycled.
const USES_PER_LAMBDA_KEY: f64 = 3.0;

fn busy_function(b: &mut Builder, a: usize, r: usize, name: &str, uses: f64, rng: &mut Rng) -> usize {
    let rot = (86_400.0 / COLD_STARTS_PER_DAY).round() as i64;
    let wi = b.lambda(a, r, name, uses * 3600.0 / rot as f64, false, rng);
    b.workloads[wi].rot = rot;
    wi
}

/// Four busy Lambda functions (accounts in turn, first region), ~2,700 keys each per day, each key
/// used from its own Lambda egress address: thousands of distinct AWS addresses.
pub fn lambda_heavy(b: &mut Builder) {
    let na = b.ctx.accounts.len();
    let names = ["api-gateway-authorizer", "image-resize", "orders-stream-consumer", "clickstream-enricher"];
    for (i, name) in names.iter().enumerate() {
        let mut rng = Rng::from(&[b.seed(), tag("heavy"), i as u64]);
        busy_function(b, i % na, 0, name, USES_PER_LAMBDA_KEY, &mut rng);
    }
}

/// About `target` distinct keys over the span: per account and region, hourly EC2 instances and
/// busy Lambda functions; each key is used about once or twice (keeps the files small).
pub fn many_keys(b: &mut Builder, target: u64) {
    let na = b.ctx.accounts.len();
    let nr = b.ctx.regions.len();
    let hours = (b.ctx.end - b.ctx.start) as f64 / 3600.0;
    let per_stream_hour = target as f64 / (na * nr) as f64 / hours;
    let per_fn_hour = COLD_STARTS_PER_DAY / 24.0;
    // A tenth of the keys from EC2 (one an hour per instance), the rest from Lambda cold starts.
    let n_ec2 = ((per_stream_hour * 0.1).round() as usize).max(1);
    let n_fn = ((per_stream_hour - n_ec2 as f64) / per_fn_hour).ceil().max(0.0) as usize;
    let role_calls: &[&'static str] = CALLS_WEB;
    for a in 0..na {
        for r in 0..nr {
            let mut rng = Rng::from(&[b.seed(), tag("many"), a as u64, r as u64]);
            let role = b.cfn_role(a, "fleet-web-InstanceRole");
            for i in 0..n_ec2 {
                let origin = Origin::Ip(b.public_ip(r));
                let wi = b.instance(a, r, &role, origin, UA_GO_V2, role_calls, 1.5, false, &mut rng);
                b.workloads[wi].global_sts = 0.0;
                let _ = i;
            }
            for i in 0..n_fn {
                busy_function(b, a, r, &format!("fleet-fn-{:03}", i), 1.5, &mut rng);
            }
        }
    }
}
