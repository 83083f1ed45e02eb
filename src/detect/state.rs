//! Detection state, per key and per workload: memory grows with distinct sessions, not with events.

use rustc_hash::FxHashMap;

/// Interned strings: roles, sessions and addresses repeat across millions of events.
#[derive(Default)]
pub struct Interner {
    ids: FxHashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

pub type Sym = u32;

impl Interner {
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as Sym;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    pub fn get(&self, s: &str) -> Option<Sym> {
        self.ids.get(s).copied()
    }

    pub fn name(&self, id: Sym) -> &str {
        &self.names[id as usize]
    }
}

/// Which kind of workload credentials were issued to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Workload {
    Ec2,
    Lambda,
    Ecs,
    Other,
}

impl Workload {
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::Ec2 => "ec2",
            Workload::Lambda => "lambda",
            Workload::Ecs => "ecs",
            Workload::Other => "other",
        }
    }
}

/// A credential delivery record (EC2 instance profile, Lambda, ECS task role).
#[derive(Clone, Debug)]
pub struct Delivery {
    pub workload: Workload,
    pub session: Sym,
    pub role_arn: Sym,
    pub role_id: Sym,
    pub time_ms: Option<i64>,
    pub event_id: Sym,
}

pub const MAX_EVENT_IDS: usize = 8;
pub const MAX_SMALL: usize = 8;

/// Use of one key from one origin.
#[derive(Clone, Debug)]
pub struct OriginUse {
    /// Interned `source_ip` (plus `|vpce-...` when through a VPC endpoint).
    pub origin: Sym,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub count: u64,
    pub errors: u64,
    pub writes: u64,
    /// Client families (interned), at most [`MAX_SMALL`].
    pub clients: Vec<Sym>,
    pub imds_v1: bool,
    pub imds_v2: bool,
    pub ssm_agent: bool,
    /// Regions of regional API calls from this origin, at most [`MAX_SMALL`].
    pub api_regions: Vec<Sym>,
    /// The first events, for the finding's evidence.
    pub event_ids: Vec<Box<str>>,
    /// Events with the Lambda or ECS execution environment in the user agent.
    pub exec_env: u64,
}

/// Everything known about one temporary key.
#[derive(Clone, Debug, Default)]
pub struct KeyState {
    pub account: Sym,
    pub role_arn: Sym,
    pub role_id: Sym,
    pub session: Sym,
    pub issued_ms: Option<i64>,
    pub delivery: Option<Delivery>,
    /// Evidence of the workload from the identity itself (when the delivery is outside the window).
    pub ec2_delivery_field: bool,
    pub lambda_env: bool,
    pub ecs_env: bool,
    pub events: u64,
    pub service_events: u64,
    pub origins: Vec<OriginUse>,
    /// Sessions this key minted (role chaining), at most [`MAX_SMALL`] * 2.
    pub minted: Vec<MintedSession>,
    /// The previous event's origin, client and region: a key's events mostly repeat them, and a
    /// comparison is cheaper than three hash lookups.
    pub last: Option<Box<LastSeen>>,
}

#[derive(Clone, Debug, Default)]
pub struct LastSeen {
    /// [`crate::event::Event::use_hash`] of the event these were computed for.
    pub hash: u64,
    /// Lambda and ECS execution environments named in the user agent.
    pub exec_env: (bool, bool),
    pub origin_idx: usize,
    pub family: Sym,
    pub region_sym: Option<Sym>,
}

/// A session minted by a key (an `AssumeRole` made with it): revoking the key's role is not enough.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MintedSession {
    pub access_key_id: String,
    pub role_arn: String,
    pub role_id: String,
    pub session_name: String,
    pub event_time: Option<String>,
}

pub fn push_small(v: &mut Vec<Sym>, s: Sym) {
    if v.len() < MAX_SMALL && !v.contains(&s) {
        v.push(s);
    }
}

pub fn earlier(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

pub fn later(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl OriginUse {
    pub fn new(origin: Sym) -> Self {
        OriginUse {
            origin,
            first_ms: None,
            last_ms: None,
            count: 0,
            errors: 0,
            writes: 0,
            clients: Vec::new(),
            imds_v1: false,
            imds_v2: false,
            ssm_agent: false,
            api_regions: Vec::new(),
            event_ids: Vec::new(),
            exec_env: 0,
        }
    }

    pub fn touch(&mut self, t: Option<i64>) {
        self.first_ms = earlier(self.first_ms, t);
        self.last_ms = later(self.last_ms, t);
        self.count += 1;
    }
}
