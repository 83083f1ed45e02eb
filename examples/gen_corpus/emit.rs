//! Turns the world into records, chunk by chunk (one stream = account x region, one time window),
//! and writes each chunk as CloudTrail files.
use crate::records::{
    Call, Ctx, assumed_role_ident, call_record, delivery_record, human_ident, issuer, lifetime, web_identity_delivery,
};
use crate::rng::{Rng, tag};
use crate::world::{Human, HumanKind, Kind, Origin, Workload};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct World {
    pub ctx: Ctx,
    pub workloads: Vec<Workload>,
    pub humans: Vec<Human>,
    /// Scripted (scenario) records per stream, sorted by time.
    pub scripted: Vec<Vec<(i64, String)>>,
    /// Rate multiplier for `scaled` entities.
    pub mult: f64,
    /// Window length per stream (seconds).
    pub window: Vec<i64>,
    pub by_stream: Vec<Vec<usize>>,
    pub by_acct: Vec<Vec<usize>>,
}

pub struct Ev {
    pub t: i64,
    pub seq: u64,
    pub json: String,
}

impl World {
    pub fn nstreams(&self) -> usize {
        self.ctx.accounts.len() * self.ctx.regions.len()
    }
    pub fn stream(&self, s: usize) -> (usize, usize) {
        (s / self.ctx.regions.len(), s % self.ctx.regions.len())
    }
    pub fn index(&mut self) {
        let ns = self.nstreams();
        self.by_stream = vec![Vec::new(); ns];
        self.by_acct = vec![Vec::new(); self.ctx.accounts.len()];
        for (i, w) in self.workloads.iter().enumerate() {
            self.by_stream[w.acct * self.ctx.regions.len() + w.region].push(i);
            self.by_acct[w.acct].push(i);
        }
        for v in self.scripted.iter_mut() {
            v.sort_by_key(|e| e.0);
        }
    }
    fn scale(&self, scaled: bool) -> f64 {
        if scaled { self.mult } else { 1.0 }
    }
    /// Expected records per hour in a stream (for choosing its window).
    pub fn expected_rate(&self, s: usize) -> f64 {
        let (a, r) = self.stream(s);
        let hours = (self.ctx.end - self.ctx.start) as f64 / 3600.0;
        let mut x = self.scripted[s].len() as f64 / hours;
        for &i in &self.by_stream[s] {
            let w = &self.workloads[i];
            x += w.rate * self.scale(w.scaled);
            if w.delivers {
                x += 3600.0 / w.rot as f64 * if w.dual { 2.0 } else { 1.0 };
            }
            if self.ctx.global_region.is_none() {
                x += w.global_sts * self.scale(w.scaled);
            }
        }
        if self.ctx.global_region == Some(r) {
            for &i in &self.by_acct[a] {
                let w = &self.workloads[i];
                x += w.global_sts * self.scale(w.scaled);
            }
        }
        for h in &self.humans {
            if h.acct == a && h.region.is_none_or(|hr| hr == r) {
                x += h.rate * self.scale(h.scaled);
            }
        }
        x
    }
}

fn push(evs: &mut Vec<Ev>, t: i64, json: String) {
    let seq = evs.len() as u64;
    evs.push(Ev { t, seq, json });
}

/// Deviations from a workload's normal behaviour (scripted scenario records).
#[derive(Default)]
pub struct Ov<'a> {
    pub ip: Option<&'a str>,
    pub ua: Option<&'a str>,
    /// Some(None) = no ec2RoleDelivery; Some(Some(v)) = this value.
    pub delivery: Option<Option<&'a str>>,
    pub key_variant: Option<u64>,
    /// Force this key index instead of the one current at t.
    pub key_index: Option<i64>,
    pub invoked_by: Option<&'a str>,
    /// Through this VPC endpoint (id, owner account) instead; applied after `ip`.
    pub vpce: Option<(&'a str, &'a str)>,
}

/// Where one call of `w` with key `k` comes from: (address, endpoint, endpoint owner, invokedBy).
fn pick_origin<'w>(
    ctx: &Ctx,
    w: &'w Workload,
    o: &'w Origin,
    k: i64,
    rng: &mut Rng,
) -> (String, Option<&'w str>, Option<&'w str>, Option<&'w str>) {
    match o {
        Origin::Ip(ip) => (ip.clone(), None, None, None),
        Origin::Vpce { vpce, ip } => (ip.clone(), Some(vpce.as_str()), None, None),
        Origin::LambdaPool => (w.lambda_ip(ctx.seed, &ctx.regions[w.region], k, rng.below(2)), None, None, None),
        Origin::Host(h) => (h.clone(), None, None, Some(h.as_str())),
        Origin::Endpoint { vpce, owner, ips } => (rng.pick(ips).clone(), Some(vpce.as_str()), owner.as_deref(), None),
        Origin::PerKey { pool, n } => {
            let j = rng.below((*n).max(1));
            let h = crate::rng::hash(&[ctx.seed, tag("pk"), w.wid, k as u64, j]);
            (crate::world::pool_addr(&ctx.regions[w.region], *pool, 100_000 + h % 1_000_000), None, None, None)
        }
        Origin::Ips(ips) => (rng.pick(ips).clone(), None, None, None),
    }
}

/// One API call by a workload at time t (None if it holds no key then).
pub fn use_record(ctx: &Ctx, w: &Workload, t: i64, call: &str, region: &str, rng: &mut Rng, ov: &Ov) -> Option<String> {
    let k = match ov.key_index {
        Some(k) => k,
        None => w.key_index(t)?,
    };
    // GetCallerIdentity comes from the application client (the first one).
    let ci = if call == "sts:GetCallerIdentity" {
        0
    } else {
        rng.weighted(&w.clients.iter().map(|c| c.weight).collect::<Vec<_>>())
    };
    let client = &w.clients[ci];
    let call = if call.is_empty() { *rng.pick(&client.calls) } else { call };
    let variant = ov.key_variant.unwrap_or(if client.v1 && w.dual { 1 } else { 0 });
    let key = w.key(ctx.seed, k, variant);
    let delivery = match ov.delivery {
        Some(d) => d,
        None if w.kind == Kind::Ec2 => Some(if client.v1 { "1.0" } else { "2.0" }),
        None => None,
    };
    let acct = &ctx.accounts[w.acct];
    let origin = client.origin.as_ref().unwrap_or(w.origin_at(t));
    let (mut ip, mut vpce, mut owner, mut invoked_by) = pick_origin(ctx, w, origin, k, rng);
    let mut ua: &str = if matches!(origin, Origin::Host(_)) { invoked_by.unwrap_or("") } else { &client.ua };
    if let Some(i) = ov.ip {
        ip = i.to_string();
        vpce = None;
        owner = None;
        // A call from an address of the caller's own is not made by a service on its behalf.
        invoked_by = None;
    }
    if let Some((v, o)) = ov.vpce {
        vpce = Some(v);
        owner = Some(o);
    }
    if let Some(u) = ov.ua {
        ua = u;
    }
    if let Some(i) = ov.invoked_by {
        invoked_by = Some(i);
    }
    let session = w.session_for(ctx.seed, k);
    let web = w.web_identity.as_ref().map(|(p, _)| format!("arn:aws:iam::{}:oidc-provider/{}", acct, p));
    let c = Call {
        t,
        acct,
        region,
        call,
        ip: &ip,
        ua,
        vpce,
        vpce_owner: owner,
        invoked_by,
        subject: &session,
        private_ip: &w.private_ip,
        console: false,
    };
    let mut out = String::with_capacity(1400);
    call_record(&mut out, &c, rng, |o| {
        assumed_role_ident(o, acct, &w.role, &session, &key, w.delivery_time(k), delivery, invoked_by, web.as_deref())
    });
    Some(out)
}

fn workload_use(world: &World, w: &Workload, t: i64, call: &str, region: &str, rng: &mut Rng) -> Option<String> {
    use_record(&world.ctx, w, t, call, region, rng, &Ov::default())
}

/// Uniform times in [lo, hi) for a Poisson number of events.
fn times(rng: &mut Rng, rate_per_hour: f64, lo: i64, hi: i64) -> Vec<i64> {
    if hi <= lo {
        return Vec::new();
    }
    let n = rng.poisson(rate_per_hour * (hi - lo) as f64 / 3600.0);
    (0..n).map(|_| rng.range(lo, hi - 1)).collect()
}

/// All records of stream `s` with eventTime in [w0, w1), sorted.
pub fn chunk_events(world: &World, s: usize, widx: u64, w0: i64, w1: i64) -> Vec<Ev> {
    let ctx = &world.ctx;
    let (a, r) = world.stream(s);
    let region = ctx.regions[r].as_str();
    let acct = ctx.accounts[a].as_str();
    let mut evs: Vec<Ev> = Vec::new();
    // Workloads at home: deliveries and regional calls.
    for &i in &world.by_stream[s] {
        let w = &world.workloads[i];
        let mut rng = Rng::from(&[ctx.seed, tag("wl"), w.wid, s as u64, widx]);
        if w.delivers {
            let kmin = ((w0 - w.first).max(0) + w.rot - 1) / w.rot;
            let mut k = kmin;
            loop {
                let t = w.delivery_time(k);
                if t >= w1 || t >= w.end {
                    break;
                }
                if t >= w0 {
                    let variants: &[u64] = if w.dual || w.extra_v1.contains(&k) { &[0, 1] } else { &[0] };
                    for &v in variants {
                        let mut out = String::with_capacity(2200);
                        let key = w.key(ctx.seed, k, v);
                        let session = w.session_for(ctx.seed, k);
                        if let Some((provider, subject)) = &w.web_identity {
                            let (ip, _, _, _) = pick_origin(ctx, w, &w.origin, k, &mut rng);
                            let ua = &w.clients[0].ua;
                            web_identity_delivery(
                                &mut out, acct, region, provider, subject, &w.role, &session, &key, t, &ip, ua,
                                &mut rng,
                            );
                            push(&mut evs, t, out);
                            continue;
                        }
                        delivery_record(
                            &mut out,
                            acct,
                            region,
                            issuer(w),
                            &w.role,
                            &session,
                            &key,
                            t,
                            lifetime(w),
                            &mut rng,
                        );
                        push(&mut evs, t, out);
                    }
                }
                k += 1;
            }
        }
        let lo = w0.max(w.first + 1).max(w.quiet_until);
        let hi = w1.min(w.end);
        let mut rate = w.rate * world.scale(w.scaled);
        let own_sts = if ctx.global_region.is_none() { w.global_sts * world.scale(w.scaled) } else { 0.0 };
        rate += own_sts;
        for t in times(&mut rng, rate, lo, hi) {
            // Never at the delivery second itself: uses follow their delivery.
            let k = w.key_index(t).unwrap();
            let t = if t == w.delivery_time(k) { t + 1 } else { t };
            if t >= hi {
                continue;
            }
            let call = if own_sts > 0.0 && rng.f64() * rate < own_sts { "sts:GetCallerIdentity" } else { "" };
            if let Some(j) = workload_use(world, w, t, call, region, &mut rng) {
                push(&mut evs, t, j);
            }
        }
    }
    // Global STS calls of every workload of the account, logged in us-east-1.
    if ctx.global_region == Some(r) {
        for &i in &world.by_acct[a] {
            let w = &world.workloads[i];
            if w.global_sts <= 0.0 {
                continue;
            }
            let mut rng = Rng::from(&[ctx.seed, tag("gsts"), w.wid, s as u64, widx]);
            for t in times(
                &mut rng,
                w.global_sts * world.scale(w.scaled),
                w0.max(w.first + 1).max(w.quiet_until),
                w1.min(w.end),
            ) {
                let k = w.key_index(t).unwrap();
                if t == w.delivery_time(k) {
                    continue;
                }
                if let Some(j) = workload_use(world, w, t, "sts:GetCallerIdentity", region, &mut rng) {
                    push(&mut evs, t, j);
                }
            }
        }
    }
    // Humans.
    for h in &world.humans {
        if h.acct != a || !h.region.is_none_or(|hr| hr == r) {
            continue;
        }
        let mut rng = Rng::from(&[ctx.seed, tag("human"), h.hid, s as u64, widx]);
        for t in times(&mut rng, h.rate * world.scale(h.scaled), w0.max(h.first), w1.min(h.end)) {
            push(&mut evs, t, human_call(world, h, t, region, "", &mut rng));
        }
    }
    // Scripted scenario records.
    let sc = &world.scripted[s];
    let from = sc.partition_point(|e| e.0 < w0);
    for e in sc[from..].iter().take_while(|e| e.0 < w1) {
        push(&mut evs, e.0, e.1.clone());
    }
    evs.sort_by_key(|e| (e.t, e.seq));
    evs
}

/// One API call by a human at t (call "" = pick from the human's set).
pub fn human_call(world: &World, h: &Human, t: i64, region: &str, call: &str, rng: &mut Rng) -> String {
    let ctx = &world.ctx;
    let acct = ctx.accounts[h.acct].as_str();
    let call = if call.is_empty() { *rng.pick(&h.calls) } else { call };
    let ip = rng.pick(&h.ips).clone();
    let ua = rng.pick(&h.uas).clone();
    let (key, creation) = match &h.kind {
        HumanKind::IamUser { key, .. } => (key.clone(), 0),
        HumanKind::Sso { .. } => h.sso_key(ctx.seed, t).expect("sso key in session"),
    };
    let console = matches!(h.kind, HumanKind::Sso { .. }) && ua.starts_with("Mozilla");
    let c = Call {
        t,
        acct,
        region,
        call,
        ip: &ip,
        ua: &ua,
        vpce: None,
        vpce_owner: None,
        invoked_by: None,
        subject: &h.name,
        private_ip: "",
        console,
    };
    let mut out = String::with_capacity(1400);
    call_record(&mut out, &c, rng, |o| human_ident(o, acct, h, &key, creation));
    out
}

#[derive(Default, Clone, Copy)]
pub struct Stats {
    pub files: u64,
    pub records: u64,
    pub bytes: u64,
    pub gz_bytes: u64,
}

impl std::ops::Add for Stats {
    type Output = Stats;
    fn add(self, o: Stats) -> Stats {
        Stats {
            files: self.files + o.files,
            records: self.records + o.records,
            bytes: self.bytes + o.bytes,
            gz_bytes: self.gz_bytes + o.gz_bytes,
        }
    }
}

/// Generate and write one chunk.
pub fn write_chunk(world: &World, out_dir: &Path, s: usize, widx: u64, w0: i64, w1: i64) -> std::io::Result<Stats> {
    let evs = chunk_events(world, s, widx, w0, w1);
    let mut st = Stats::default();
    if evs.is_empty() {
        return Ok(st);
    }
    let ctx = &world.ctx;
    let (a, r) = world.stream(s);
    let acct = &ctx.accounts[a];
    let region = &ctx.regions[r];
    let mut rng = Rng::from(&[ctx.seed, tag("file"), s as u64, widx]);
    let n = evs.len();
    let nfiles = (n.div_ceil(600)).max((n as f64 / 350.0).round() as usize).max(1);
    let mut begin = 0;
    for f in 0..nfiles {
        let end = n * (f + 1) / nfiles;
        let part = &evs[begin..end];
        begin = end;
        if part.is_empty() {
            continue;
        }
        let newest = part.last().unwrap().t;
        let ft = newest + rng.range(60, 600);
        let dt = chrono::DateTime::from_timestamp(ft, 0).unwrap();
        let dir: PathBuf =
            out_dir.join("AWSLogs").join(acct).join("CloudTrail").join(region).join(dt.format("%Y/%m/%d").to_string());
        std::fs::create_dir_all(&dir)?;
        let name = format!("{}_CloudTrail_{}_{}_{}.json.gz", acct, region, dt.format("%Y%m%dT%H%MZ"), rng.alnum(16));
        let file = std::fs::File::create(dir.join(&name))?;
        let counter = CountingWriter { inner: BufWriter::with_capacity(1 << 16, file), n: 0 };
        let mut gz = GzEncoder::new(counter, Compression::new(6));
        let mut bytes = 0u64;
        let head = b"{\"Records\":[";
        gz.write_all(head)?;
        bytes += head.len() as u64;
        for (i, e) in part.iter().enumerate() {
            if i > 0 {
                gz.write_all(b",")?;
                bytes += 1;
            }
            gz.write_all(e.json.as_bytes())?;
            bytes += e.json.len() as u64;
        }
        gz.write_all(b"]}")?;
        bytes += 2;
        let mut counter = gz.finish()?;
        counter.inner.flush()?;
        st.files += 1;
        st.records += part.len() as u64;
        st.bytes += bytes;
        st.gz_bytes += counter.n;
    }
    Ok(st)
}

struct CountingWriter<W: Write> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
