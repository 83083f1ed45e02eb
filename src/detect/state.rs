//! Detection state, per key and per origin: memory grows with distinct sessions, not with events.
//!
//! A month of an organization trail holds millions of temporary keys, so the per-key state is kept
//! compact: keys packed into 16 bytes, addresses parsed instead of stored as text, event ids as bytes.

pub use super::evid::EvId;
use super::keep::insert_sorted;
pub use super::keep::{keep_smallest, keep_smallest_by};
pub use super::prefetch::{prefetch, prefetch_all};
use crate::hashing::KeyedMap;
use std::net::IpAddr;

pub use super::workload::Workload;
pub use crate::hashing::OriginMap;

/// Interned strings: roles, sessions, clients and endpoints repeat across millions of events.
#[derive(Default)]
pub struct Interner {
    ids: KeyedMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    /// Recently interned strings by a fingerprint of their length and ends: a delivery interns its
    /// role, session, account and region, which the ones before it mostly share, and comparing one
    /// string is cheaper than hashing it and probing the table (the Lambda-heavy week's deliveries
    /// took a fifth fewer instructions). A fingerprint is only a guess, checked against the whole
    /// string.
    recent: [(u64, Sym); RECENT],
}

const RECENT: usize = 32;

/// Length and first and last 8 bytes, mixed; for a slot of [`Interner::recent`], not for safety.
fn fingerprint(b: &[u8]) -> u64 {
    let word = |x: &[u8]| x.iter().rev().fold(0u64, |w, &c| w << 8 | u64::from(c));
    let n = b.len();
    let (head, tail) = if n >= 8 { (word(&b[..8]), word(&b[n - 8..])) } else { (word(b), 0) };
    (head ^ tail.rotate_left(23) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

/// An interned string; 0 is the empty string ("not known").
pub type Sym = u32;

impl Interner {
    /// The symbol for `s`, adding it when new.
    pub fn intern(&mut self, s: &str) -> Sym {
        let fp = fingerprint(s.as_bytes());
        let slot = (fp >> 59) as usize % RECENT;
        let (seen, id) = self.recent[slot];
        if seen == fp && self.names.get(id as usize).is_some_and(|n| **n == *s) {
            return id;
        }
        let id = match self.ids.get(s) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as Sym;
                self.names.push(s.into());
                self.ids.insert(s.into(), id);
                id
            }
        };
        self.recent[slot] = (fp, id);
        id
    }

    /// The symbol for `s` when it was interned before.
    pub fn get(&self, s: &str) -> Option<Sym> {
        self.ids.get(s).copied()
    }

    /// The string behind a symbol.
    pub fn name(&self, id: Sym) -> &str {
        &self.names[id as usize]
    }
}

/// An access key id packed into 16 bytes: each half of 10 characters of `[0-9A-Z]` in base 36 (every
/// real AWS key id), so order is text order; anything else as an interned string with the top bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(u64, u64);

const FALLBACK: u64 = 1 << 63;

/// Base-36 digit values of `[0-9A-Z]`; 0x80 marks every other byte.
const DIGITS: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

impl KeyId {
    /// Packs `key`, interning it when it is not a plain 20-character key id.
    pub fn new(key: &str, syms: &mut Interner) -> KeyId {
        Self::packed(key).unwrap_or_else(|| KeyId(FALLBACK, syms.intern(key) as u64))
    }

    /// The id of `key` if it was seen, without adding anything.
    pub fn lookup(key: &str, syms: &Interner) -> Option<KeyId> {
        Self::packed(key).or_else(|| syms.get(key).map(|s| KeyId(FALLBACK, s as u64)))
    }

    // Every event of a scan packs its key: two independent 64-bit halves, no branch per character.
    fn packed(key: &str) -> Option<KeyId> {
        let b: &[u8; 20] = key.as_bytes().try_into().ok()?;
        let (mut hi, mut lo, mut bad) = (0u64, 0u64, 0u8);
        for i in 0..10 {
            let (h, l) = (DIGITS[b[i] as usize], DIGITS[b[i + 10] as usize]);
            bad |= h | l;
            hi = hi * 36 + h as u64;
            lo = lo * 36 + l as u64;
        }
        (bad & 0x80 == 0).then_some(KeyId(hi, lo))
    }

    /// The key id as text.
    pub fn text(self, syms: &Interner) -> String {
        if self.0 & FALLBACK != 0 {
            return syms.name(self.1 as Sym).to_owned();
        }
        let mut out = [0u8; 20];
        for (half, mut v) in out.chunks_mut(10).zip([self.0, self.1]) {
            for slot in half.iter_mut().rev() {
                let d = (v % 36) as u8;
                v /= 36;
                *slot = if d < 10 { b'0' + d } else { b'A' + d - 10 };
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Where a call came from, as detection compares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// A parsed address; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is folded into its IPv4 address.
    Ip(IpAddr),
    /// Through a VPC endpoint: the network path is the endpoint, not the private address behind it.
    /// `owner` is `vpcEndpointAccountId` (0 when the record does not say).
    Endpoint {
        /// The endpoint id (`vpce-...`), interned.
        id: Sym,
        /// The account that owns the endpoint, interned.
        owner: Sym,
    },
    /// An address that does not parse (`fe80::1%eth0`, `1.2.3.4:443`): counted and warned about,
    /// never judged.
    Unparsable(Sym),
}

impl Origin {
    /// How findings and reports name the origin.
    pub fn label(&self, syms: &Interner) -> String {
        match *self {
            Origin::Ip(a) => a.to_string(),
            Origin::Endpoint { id, .. } => syms.name(id).to_owned(),
            Origin::Unparsable(s) => syms.name(s).to_owned(),
        }
    }
}

/// A credential delivery record (an `AssumeRole` by a service principal, or a pod's web identity).
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Who the credentials were delivered to.
    pub workload: Workload,
    /// The region of the delivery record: where the workload runs.
    pub region: Sym,
    /// When the credentials were delivered.
    pub time_ms: Option<i64>,
    /// The delivery record's `eventID`.
    pub event_id: EvId,
}

/// Event ids kept per origin as evidence: memory must not follow the event count.
pub const MAX_EVENT_IDS: usize = 3;
/// Client families kept per origin.
pub const MAX_CLIENTS: usize = 4;
/// Sessions minted by one key that are kept.
pub const MAX_MINTED: usize = 16;

/// Flags on an origin's use.
pub mod flag {
    /// Credentials delivered through IMDSv1 (`ec2RoleDelivery` 1.0).
    pub const IMDS_V1: u16 = 1;
    /// Credentials delivered through IMDSv2 (`ec2RoleDelivery` 2.0).
    pub const IMDS_V2: u16 = 2;
    /// SSM's control channels (`ec2messages`, `ssmmessages`) were called from here.
    pub const SSM_CHANNEL: u16 = 4;
    /// The Lambda or ECS execution environment was named in a user agent from here.
    pub const EXEC_ENV: u16 = 8;
    /// Some calls from here carried no execution environment in the user agent.
    pub const NO_EXEC_ENV: u16 = 16;
    /// More client families were seen than are kept.
    pub const MORE_CLIENTS: u16 = 32;
    /// The SSM agent's heartbeat (`UpdateInstanceInformation` with its user agent) came from here.
    /// Anyone can send it: it only breaks ties between rivals, where the keys are reported anyway.
    pub const SSM_HEARTBEAT: u16 = 64;
    /// Some call from here was signed by whoever made it: not only signatures others redeem
    /// ([`super::super::origin::redemption`]: presigned links, `GetCallerIdentity`).
    pub const SIGNED_HERE: u16 = 128;
    /// Some call from here opened a presigned S3 URL.
    pub const LINK_OPENED: u16 = 256;
    /// Some call from here was a signed `GetCallerIdentity` sent on by someone (a verifier), or not.
    pub const IDENTITY_CHECKED: u16 = 512;
    /// ECS's control plane (`ecs.amazonaws.com`) was called from here: from an instance, its ECS agent.
    pub const ECS_AGENT: u16 = 1024;
}

/// Use of one key from one origin.
#[derive(Clone, Debug)]
pub struct OriginUse {
    /// Where the calls came from.
    pub origin: Origin,
    /// First and last call (epoch ms).
    pub first_ms: Option<i64>,
    /// See `first_ms`.
    pub last_ms: Option<i64>,
    /// Calls.
    pub count: u32,
    /// Calls that failed.
    pub errors: u32,
    /// Successful calls that change something.
    pub writes: u32,
    /// Client families (interned); 0 marks an empty slot.
    pub clients: [Sym; MAX_CLIENTS],
    /// [`flag`] bits.
    pub flags: u16,
    /// The last call from here signed by whoever made it, not a signature others redeemed (epoch ms;
    /// `i64::MIN` when none).
    pub last_signed_ms: i64,
    /// Regions of regional calls from here (interned, 0 = empty slot): the workload's region stands
    /// in for them only when no delivery record names it.
    pub call_regions: [Sym; 2],
    /// The earliest events by (time, id), for the finding's evidence, sorted.
    pub event_ids: [Option<EvId>; MAX_EVENT_IDS],
    /// Their times (`i64::MAX` when unknown or empty).
    pub event_times: [i64; MAX_EVENT_IDS],
}

/// Everything known about one temporary key.
#[derive(Clone, Debug, Default)]
pub struct KeyState {
    /// Account, role (ARN and id) and session name, interned.
    pub account: Sym,
    /// See `account`.
    pub role_arn: Sym,
    /// See `account`.
    pub role_id: Sym,
    /// See `account`.
    pub session: Sym,
    /// `sessionContext.attributes.creationDate`, or the delivery time.
    pub issued_ms: Option<i64>,
    /// The delivery record, when it is in the scanned logs.
    pub delivery: Option<Delivery>,
    /// `ec2RoleDelivery` was present: AWS says these are instance credentials.
    pub ec2_field: bool,
    /// The trail holds the `AssumeRole` that minted the key, made by a principal rather than a
    /// service: the key is that principal's session, whatever name it chose for it, unless that
    /// principal is itself a workload's key ([`KeyState::minter`]).
    pub minted_by_principal: bool,
    /// The temporary key that minted this one (role chaining), as its slot in the key table plus one;
    /// 0 when none is known.
    pub minter: u32,
    /// The Lambda or ECS execution environment was named in a user agent (caller-controlled: it only
    /// makes a key judged, never trusted).
    pub lambda_env: bool,
    /// See `lambda_env`.
    pub ecs_env: bool,
    /// Calls made with the key.
    pub events: u32,
    /// Calls a service made for the key's holder (`invokedBy`, service hosts): not origins.
    pub service_events: u32,
    /// Use by origin.
    pub origins: Vec<OriginUse>,
    /// Sessions this key minted (role chaining); boxed, as few keys mint.
    pub minted: Option<Box<Minted>>,
    /// The previous event's [`crate::event::Event::use_hash`] and what it resolved to: a key's
    /// events mostly repeat them, and one comparison is cheaper than three hash lookups.
    pub last_hash: u64,
    /// See `last_hash`.
    pub last_origin: u16,
    /// See `last_hash`.
    pub last_family: Sym,
    /// See `last_hash`: (Lambda, ECS) execution environment named.
    pub last_env: (bool, bool),
}

/// Every key's state, stored densely in fixed chunks: a hash table of large values sits half empty
/// after it grows, and a growing vector copies itself with both copies alive, which at millions of
/// keys costs more than the states themselves.
#[derive(Default)]
pub struct KeyTable {
    // Buckets of 8 bytes: a slot and 32 bits of its key's hash. Buckets holding the 16-byte key
    // (24 bytes with the slot) made the index of a Lambda-heavy trail's 75,000 keys three times the
    // size of a core's cache, so every new key's insert waited on memory; now the index stays in
    // cache, the key is compared where its state is (read next anyway), and growing the index
    // rehashes from the buckets alone.
    index: hashbrown::HashTable<(u32, u32)>,
    hasher: foldhash::fast::RandomState,
    // Each state beside its id, so judging walks the table in memory order instead of the index's
    // hash order, which jumps to a random state at every step.
    chunks: Vec<Vec<(KeyId, KeyState)>>,
    len: u32,
    /// Tests keep 4 bits of each hash, so that different keys share them.
    #[cfg(test)]
    narrow: bool,
}

/// The index's hash from its 32 bits: the same bits give the bucket (low) and hashbrown's tag (top),
/// so a bucket's stored bits are enough to place it again.
fn spread(h: u32) -> u64 {
    (h as u64) << 32 | h as u64
}

const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// The chunk of slot `i`, and its place in the chunk.
fn place(i: u32) -> (usize, usize) {
    ((i >> CHUNK_BITS) as usize, i as usize & (CHUNK - 1))
}

impl KeyTable {
    /// The state of `id`, created empty when new.
    pub fn entry(&mut self, id: KeyId) -> &mut KeyState {
        let i = self.slot(id);
        self.at_mut(i)
    }

    /// Where the state of `id` is held (created empty when new), to reach it again without hashing.
    pub fn slot(&mut self, id: KeyId) -> u32 {
        let h = self.hash(&id);
        if let Some(i) = self.lookup(h, &id) {
            return i;
        }
        let i = self.len;
        self.index.insert_unique(spread(h), (i, h), |&(_, h)| spread(h));
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        if let Some(c) = self.chunks.last_mut() {
            c.push((id, KeyState::default()));
        }
        self.len += 1;
        i
    }

    fn hash(&self, id: &KeyId) -> u32 {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(id) as u32;
        #[cfg(test)]
        if self.narrow {
            return h & 0xF;
        }
        h
    }

    fn lookup(&self, h: u32, id: &KeyId) -> Option<u32> {
        self.index.find(spread(h), |&(i, bits)| bits == h && self.key_at(i) == *id).map(|&(i, _)| i)
    }

    /// The slot of a plain 20-character key id already seen; nothing is added.
    pub fn find(&self, key: &str) -> Option<u32> {
        let id = KeyId::packed(key)?;
        self.lookup(self.hash(&id), &id)
    }

    /// Asks for the state in slot `i` to be brought into the cache, without waiting for it.
    pub fn prefetch(&self, i: u32) {
        let (chunk, at) = place(i);
        if let Some((_, st)) = self.chunks.get(chunk).and_then(|c| c.get(at)) {
            prefetch_all(st);
        }
    }

    /// The state in slot `i` (from [`KeyTable::slot`]), mutably.
    pub fn at_mut(&mut self, i: u32) -> &mut KeyState {
        let (chunk, at) = place(i);
        &mut self.chunks[chunk][at].1
    }

    /// The key in slot `i` (from [`KeyTable::slot`]).
    pub fn key_at(&self, i: u32) -> KeyId {
        let (chunk, at) = place(i);
        self.chunks[chunk][at].0
    }

    /// The state in slot `i` (from [`KeyTable::slot`]).
    pub fn at(&self, i: u32) -> &KeyState {
        let (chunk, at) = place(i);
        &self.chunks[chunk][at].1
    }

    /// The state of `id`, when seen.
    pub fn get(&self, id: &KeyId) -> Option<&KeyState> {
        self.lookup(self.hash(id), id).map(|i| self.at(i))
    }

    /// Every key and its state, in the order keys were first seen (which depends on the input's
    /// order: callers that need a stable order sort).
    pub fn iter(&self) -> impl Iterator<Item = (KeyId, &KeyState)> {
        self.chunks.iter().flatten().map(|(k, st)| (*k, st))
    }

    /// [`KeyTable::iter`] on every core, in the same order.
    pub fn par_iter(&self) -> impl rayon::iter::IndexedParallelIterator<Item = (KeyId, &KeyState)> {
        use rayon::prelude::*;
        (0..self.len).into_par_iter().map(|i| (self.key_at(i), self.at(i)))
    }

    /// Every key's state, mutably, on every core (in no particular order).
    pub fn par_states_mut(&mut self) -> impl rayon::iter::ParallelIterator<Item = &mut KeyState> {
        use rayon::prelude::*;
        self.chunks.par_iter_mut().flat_map(|c| c.par_iter_mut().map(|(_, st)| st))
    }

    /// Keys seen.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True before any key is seen.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The sessions one key minted: the earliest [`MAX_MINTED`], and whether there were more (a thief can
/// mint hundreds to push the one he uses out of the list, so a cut list must say so).
#[derive(Clone, Debug, Default)]
pub struct Minted {
    /// The earliest, by time, then the rest of the session.
    pub kept: Vec<MintedSession>,
    /// More distinct sessions were minted than are kept.
    pub more: bool,
}

/// A session minted by a key (an `AssumeRole` made with it): revoking the key's role is not enough.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MintedSession {
    /// The minted key.
    pub access_key_id: String,
    /// The role assumed.
    pub role_arn: String,
    /// Its id (`AROA...`).
    pub role_id: String,
    /// The session name chosen by the caller.
    pub session_name: String,
    /// When it was minted.
    pub event_time: Option<String>,
}

/// Keeps the earlier of two optional times.
pub fn earlier(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Keeps the later of two optional times.
pub fn later(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl OriginUse {
    /// A new, unused origin.
    pub fn new(origin: Origin) -> Self {
        OriginUse {
            origin,
            first_ms: None,
            last_ms: None,
            count: 0,
            errors: 0,
            writes: 0,
            clients: [0; MAX_CLIENTS],
            flags: 0,
            last_signed_ms: i64::MIN,
            call_regions: [0; 2],
            event_ids: [None; MAX_EVENT_IDS],
            event_times: [i64::MAX; MAX_EVENT_IDS],
        }
    }

    /// Counts one call at time `t`.
    pub fn touch(&mut self, t: Option<i64>) {
        self.first_ms = earlier(self.first_ms, t);
        self.last_ms = later(self.last_ms, t);
        self.count = self.count.saturating_add(1);
    }

    /// Records a client family (interned, non-zero). The alphabetically first ones are kept,
    /// sorted, so what is kept does not depend on the order calls are read in.
    pub fn add_client(&mut self, family: Sym, syms: &Interner) {
        if self.clients.contains(&family) {
            return;
        }
        let n = self.clients.iter().take_while(|&&c| c != 0).count();
        if n == MAX_CLIENTS {
            self.flags |= flag::MORE_CLIENTS;
        }
        insert_sorted(&mut self.clients[..], n, family, |a, b| syms.name(*a).cmp(syms.name(*b)));
    }

    /// Records the region of a regional call (the alphabetically first two are kept).
    pub fn add_call_region(&mut self, region: Sym, syms: &Interner) {
        if region == 0 || self.call_regions.contains(&region) {
            return;
        }
        let n = self.call_regions.iter().take_while(|&&c| c != 0).count();
        insert_sorted(&mut self.call_regions[..], n, region, |a, b| syms.name(*a).cmp(syms.name(*b)));
    }

    /// The client families seen.
    pub fn clients(&self) -> impl Iterator<Item = Sym> + '_ {
        self.clients.iter().copied().filter(|&c| c != 0)
    }

    /// True when an event at time `t` may be among the earliest kept: cheap, so the hot path asks
    /// before packing the id.
    pub fn wants_event_id(&self, t: Option<i64>) -> bool {
        t.unwrap_or(i64::MAX) <= self.event_times[MAX_EVENT_IDS - 1]
    }

    /// Keeps an event id as evidence when it is among the [`MAX_EVENT_IDS`] earliest by (time, id).
    pub fn add_event_id(&mut self, t: Option<i64>, id: EvId, syms: &Interner) {
        if self.event_ids.contains(&Some(id)) {
            return;
        }
        let t = t.unwrap_or(i64::MAX);
        let before = |i: usize| match self.event_ids[i] {
            None => false,
            Some(e) => self.event_times[i].cmp(&t).then_with(|| e.cmp_text(&id, syms)).is_le(),
        };
        let pos = (0..MAX_EVENT_IDS).take_while(|&i| before(i)).count();
        if pos == MAX_EVENT_IDS {
            return;
        }
        for i in (pos + 1..MAX_EVENT_IDS).rev() {
            self.event_ids[i] = self.event_ids[i - 1];
            self.event_times[i] = self.event_times[i - 1];
        }
        self.event_ids[pos] = Some(id);
        self.event_times[pos] = t;
    }

    /// True when this [`flag`] is set.
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
