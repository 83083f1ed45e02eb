//! The detector's inputs as grouped facts: what Athena's aggregate queries return and what
//! `respond` keeps between objects.
//!
//! A fact is a group of events that share every value detection reads (the key, its role and
//! session, the address and endpoint, the client, the IMDS version, the region, the service), with
//! the group's counts, times and earliest event ids. Rules stay in Rust: which principal delivers
//! to which workload, what is a service call, who is a person. Facts carry raw values and
//! [`super::Detector::absorb`] decides, so absorbing the facts of some events gives the same findings as
//! observing the events, in any order and in any split.

use super::state::{MAX_EVENT_IDS, earlier, later};
use crate::hashing::KeyedMap;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::hash::{BuildHasher, Hash};

mod sink;
pub use sink::FactSink;

/// The detector's inputs, grouped. Absorbing facts is the same as observing the events behind them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Facts {
    /// Accounts the trail names (`recipientAccountId`): the organization's, for endpoint ownership.
    pub accounts: Vec<String>,
    /// Records that mint a key (`AssumeRole`, `AssumeRoleWithWebIdentity`, no error): the Rust side
    /// decides which are deliveries to a workload.
    pub deliveries: Vec<DeliveryFact>,
    /// Calls made with temporary (`ASIA`) keys, grouped.
    pub uses: Vec<UseFact>,
    /// Calls by people (IAM users, root, Identity Center, federated users, SSO roles), grouped.
    pub humans: Vec<HumanFact>,
    /// `AssociateAddress`, `AllocateAddress` and `TerminateInstances` calls that succeeded.
    pub addresses: Vec<AddressFact>,
    /// Keys minted with a temporary key (role chaining).
    pub minted: Vec<MintFact>,
}

/// A record that minted a key: raw values, empty when absent.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeliveryFact {
    /// `eventName`.
    pub event_name: String,
    /// The minted key.
    pub minted_key: String,
    /// The role assumed.
    pub minted_role_arn: String,
    /// Its id (`AROA...`).
    pub minted_role_id: String,
    /// The session name.
    pub minted_session_name: String,
    /// `userIdentity.invokedBy`.
    pub invoked_by: String,
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// `userIdentity.identityProvider`.
    pub identity_provider: String,
    /// `userIdentity.principalId`.
    pub principal_id: String,
    /// The account.
    pub account_id: String,
    /// `awsRegion`.
    pub region: String,
    /// `eventID`.
    pub event_id: String,
    /// `eventTime` (epoch ms).
    pub time_ms: Option<i64>,
}

/// A group of calls made with one temporary key that share every value detection reads.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct UseFact {
    /// `userIdentity.accessKeyId`.
    pub access_key_id: String,
    /// The account.
    pub account_id: String,
    /// `sessionContext.sessionIssuer.arn`.
    pub role_arn: String,
    /// `sessionContext.sessionIssuer.principalId`.
    pub role_id: String,
    /// The session name.
    pub session_name: String,
    /// `sessionContext.attributes.creationDate` (epoch ms).
    pub issued_ms: Option<i64>,
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// `userIdentity.invokedBy`.
    pub invoked_by: String,
    /// `vpcEndpointId`.
    pub vpc_endpoint_id: String,
    /// `vpcEndpointAccountId`.
    pub vpc_endpoint_account_id: String,
    /// `userAgent`.
    pub user_agent: String,
    /// `sessionContext.ec2RoleDelivery`.
    pub ec2_role_delivery: String,
    /// `awsRegion`.
    pub region: String,
    /// `eventSource`.
    pub event_source: String,
    /// Calls in the group.
    pub count: u64,
    /// Calls with an `errorCode`.
    pub errors: u64,
    /// Calls with `readOnly` false and no error.
    pub writes: u64,
    /// `UpdateInstanceInformation` calls.
    pub heartbeats: u64,
    /// Calls whose signature others redeem (presigned S3 URLs, `GetCallerIdentity`).
    #[serde(default)]
    pub replayed: u64,
    /// First call (epoch ms).
    pub first_ms: Option<i64>,
    /// Last call (epoch ms).
    pub last_ms: Option<i64>,
    /// Last call signed by whoever made it (not a redeemed signature), epoch ms. Facts stored before
    /// it was kept have none: their `last_ms` stands in when any call was signed so.
    #[serde(default)]
    pub last_signed_ms: Option<i64>,
    /// The group's earliest events by (time, id), at most [`MAX_EVENT_IDS`].
    pub event_ids: Vec<EventRef>,
}

/// An event named as evidence.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventRef {
    /// `eventTime` (epoch ms).
    pub time_ms: Option<i64>,
    /// `eventID`.
    pub event_id: String,
}

/// Calls by a person from one address.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HumanFact {
    /// `userIdentity.type`.
    pub principal_type: String,
    /// `userIdentity.arn`.
    pub principal_arn: String,
    /// `userIdentity.userName`.
    pub user_name: String,
    /// `sessionContext.sessionIssuer.arn`.
    pub role_arn: String,
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// `userIdentity.invokedBy`.
    pub invoked_by: String,
    /// `vpcEndpointId`.
    pub vpc_endpoint_id: String,
    /// The calls were `GetCallerIdentity` (apart from the person's other calls from here).
    #[serde(default)]
    pub checks_only: bool,
    /// Last call (epoch ms), for expiry.
    #[serde(default)]
    pub last_ms: Option<i64>,
}

/// An `AssociateAddress`, `AllocateAddress` or `TerminateInstances` that succeeded.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AddressFact {
    /// `eventName`.
    pub event_name: String,
    /// `requestParameters.instanceId`; for `TerminateInstances`, every instance it names,
    /// space-separated.
    pub target_instance_id: String,
    /// The Elastic IP.
    pub target_public_ip: String,
    /// The allocation id.
    pub allocation_id: String,
    /// Last such call (epoch ms), for expiry; for `TerminateInstances`, the first: the instance
    /// ended then.
    #[serde(default)]
    pub last_ms: Option<i64>,
}

/// A key minted with a temporary key (an `AssumeRole` made with it, no error).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MintFact {
    /// The minting key.
    pub access_key_id: String,
    /// The minted key.
    pub minted_key: String,
    /// The role assumed.
    pub minted_role_arn: String,
    /// Its id.
    pub minted_role_id: String,
    /// The session name chosen by the caller.
    pub minted_session_name: String,
    /// When (epoch ms).
    pub time_ms: Option<i64>,
}

impl UseFact {
    fn group_parts(&self) -> [&str; 13] {
        [
            &self.access_key_id,
            &self.account_id,
            &self.role_arn,
            &self.role_id,
            &self.session_name,
            &self.source_ip,
            &self.invoked_by,
            &self.vpc_endpoint_id,
            &self.vpc_endpoint_account_id,
            &self.user_agent,
            &self.ec2_role_delivery,
            &self.region,
            &self.event_source,
        ]
    }

    /// The group's key: [`Self::group_parts`] with the user agent read as detection reads it
    /// ([`client_signature`]) instead of whole.
    fn group_key(&self) -> ([&str; 13], String) {
        let mut parts = self.group_parts();
        parts[9] = "";
        (parts, client_signature(&self.user_agent))
    }

    fn same_group(&self, o: &UseFact) -> bool {
        self.issued_ms == o.issued_ms && self.group_key() == o.group_key()
    }

    /// Adds another group's calls to this one (same group; their agents are left as they are).
    fn add(&mut self, o: &UseFact) {
        self.count = self.count.saturating_add(o.count);
        self.errors = self.errors.saturating_add(o.errors);
        self.writes = self.writes.saturating_add(o.writes);
        self.heartbeats = self.heartbeats.saturating_add(o.heartbeats);
        self.replayed = self.replayed.saturating_add(o.replayed);
        self.first_ms = earlier(self.first_ms, o.first_ms);
        self.last_ms = later(self.last_ms, o.last_ms);
        self.last_signed_ms = later(self.last_signed_ms, o.last_signed_ms);
        for r in &o.event_ids {
            keep_earliest(&mut self.event_ids, r);
        }
    }
}

/// What detection reads of a user agent: its client family, the execution environments it names and
/// whether it is the SSM agent. Agents alike in it are one group: a key calling with a new agent each
/// time (free to its holder: a few bytes apart) must not grow the facts, nor `respond`'s stored state,
/// with every call.
fn client_signature(user_agent: &str) -> String {
    let named = |s: &str| if user_agent.contains(s) { '1' } else { '0' };
    let mut sig = super::origin::client_family(user_agent);
    sig.extend(['\n', named("exec-env/AWS_Lambda"), named("exec-env/AWS_ECS"), named(super::origin::SSM_AGENT)]);
    sig
}

/// Keeps the [`MAX_EVENT_IDS`] earliest references by (time, id), sorted; a missing time sorts last.
fn keep_earliest(list: &mut Vec<EventRef>, r: &EventRef) {
    if r.event_id.is_empty() || list.contains(r) {
        return;
    }
    let key = |e: &EventRef| (e.time_ms.unwrap_or(i64::MAX), e.event_id.clone());
    let pos = list.partition_point(|e| key(e) < key(r));
    if pos < MAX_EVENT_IDS {
        list.insert(pos, r.clone());
        list.truncate(MAX_EVENT_IDS);
    }
}

/// Groups with the same key merged: an index from group hash to positions. The parts hold user agents
/// and session names the caller chose, so they are hashed under a seed drawn for the run.
#[derive(Default)]
struct UseIndex {
    by_hash: FxHashMap<u64, Vec<u32>>,
    seed: foldhash::fast::RandomState,
}

impl UseIndex {
    fn hash(&self, key: &([&str; 13], String), issued: Option<i64>) -> u64 {
        self.seed.hash_one((key, issued))
    }

    fn find(&self, uses: &[UseFact], h: u64, same: impl Fn(&UseFact) -> bool) -> Option<usize> {
        self.by_hash.get(&h)?.iter().map(|&i| i as usize).find(|&i| same(&uses[i]))
    }

    fn insert(&mut self, h: u64, i: usize) {
        self.by_hash.entry(h).or_default().push(i as u32);
    }
}

/// One item per value apart from its time, keeping the latest time: people repeat their address on
/// every call, and Elastic IP calls repeat too.
fn fold_timed<T: Eq + Hash + Clone>(
    items: Vec<T>,
    time: impl Fn(&mut T) -> &mut Option<i64>,
    keep: impl Fn(&T, Option<i64>, Option<i64>) -> Option<i64>,
) -> Vec<T> {
    let mut at: KeyedMap<T, usize> = KeyedMap::default();
    let mut out: Vec<T> = Vec::new();
    for mut item in items {
        let t = time(&mut item).take();
        match at.get(&item) {
            Some(&i) => {
                let kept = *time(&mut out[i]);
                let kept = keep(&out[i], kept, t);
                *time(&mut out[i]) = kept;
            }
            None => {
                at.insert(item.clone(), out.len());
                *time(&mut item) = t;
                out.push(item);
            }
        }
    }
    out
}

impl Facts {
    /// True when there is nothing to absorb.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.deliveries.is_empty()
            && self.uses.is_empty()
            && self.humans.is_empty()
            && self.addresses.is_empty()
            && self.minted.is_empty()
    }

    /// Facts held: groups of uses, deliveries, people's addresses, addresses and minted keys.
    pub fn len(&self) -> usize {
        self.accounts.len()
            + self.deliveries.len()
            + self.uses.len()
            + self.humans.len()
            + self.addresses.len()
            + self.minted.len()
    }

    /// Adds `other`'s facts: groups with the same values are combined (counts added, times widened,
    /// the earliest event ids kept), so facts stay as many as distinct groups whatever the events.
    pub fn merge(&mut self, other: Facts) {
        let mut merged = std::mem::take(self);
        merged.append(other);
        *self = merged.normalized();
    }

    fn append(&mut self, other: Facts) {
        self.accounts.extend(other.accounts);
        self.deliveries.extend(other.deliveries);
        self.uses.extend(other.uses);
        self.humans.extend(other.humans);
        self.addresses.extend(other.addresses);
        self.minted.extend(other.minted);
    }

    /// One fact per group, in a canonical order (sorted), so equal inputs give equal facts.
    pub fn normalized(self) -> Facts {
        let mut out = Facts::default();
        let mut accounts: Vec<String> = self.accounts;
        accounts.sort();
        accounts.dedup();
        out.accounts = accounts;

        let mut idx = UseIndex::default();
        for u in self.uses {
            let h = idx.hash(&u.group_key(), u.issued_ms);
            match idx.find(&out.uses, h, |x| x.same_group(&u)) {
                Some(i) => {
                    // The group keeps the least of its agents, whatever order they came in.
                    if u.user_agent < out.uses[i].user_agent {
                        out.uses[i].user_agent.clone_from(&u.user_agent);
                    }
                    out.uses[i].add(&u)
                }
                None => {
                    let mut u = u;
                    let ids = std::mem::take(&mut u.event_ids);
                    for r in &ids {
                        keep_earliest(&mut u.event_ids, r);
                    }
                    idx.insert(h, out.uses.len());
                    out.uses.push(u);
                }
            }
        }
        out.uses.sort_by(|a, b| a.group_parts().cmp(&b.group_parts()).then(a.issued_ms.cmp(&b.issued_ms)));

        let mut d = self.deliveries;
        d.sort_by(|a, b| (&a.minted_key, a.time_ms, &a.event_id).cmp(&(&b.minted_key, b.time_ms, &b.event_id)));
        d.dedup();
        out.deliveries = d;

        out.humans = fold_timed(self.humans, |x| &mut x.last_ms, |_, a, b| later(a, b));
        out.humans.sort_by(|a, b| {
            (&a.source_ip, &a.principal_arn, &a.user_name, a.checks_only).cmp(&(
                &b.source_ip,
                &b.principal_arn,
                &b.user_name,
                b.checks_only,
            ))
        });

        // An instance ends at its first termination (a retry, a thief's call on it, moves nothing).
        out.addresses = fold_timed(
            self.addresses,
            |x| &mut x.last_ms,
            |a, x, y| if a.event_name == "TerminateInstances" { earlier(x, y) } else { later(x, y) },
        );
        out.addresses.sort_by(|a, b| {
            (&a.event_name, &a.target_instance_id, &a.allocation_id, &a.target_public_ip).cmp(&(
                &b.event_name,
                &b.target_instance_id,
                &b.allocation_id,
                &b.target_public_ip,
            ))
        });

        let mut m = self.minted;
        m.sort_by(|a, b| {
            (&a.access_key_id, a.time_ms, &a.minted_key).cmp(&(&b.access_key_id, b.time_ms, &b.minted_key))
        });
        m.dedup();
        out.minted = m;
        out
    }

    /// Forgets what ended before `before_ms` (epoch ms): a long-running consumer keeps what can
    /// still matter, the life of the longest session. Keys whose every use ended before it go, with
    /// their delivery; facts without a time are kept.
    pub fn expire(&mut self, before_ms: i64) {
        let old = |t: Option<i64>| t.is_some_and(|t| t < before_ms);
        let mut live_keys: FxHashSet<&str> = FxHashSet::default();
        for u in &self.uses {
            if !old(u.last_ms) {
                live_keys.insert(&u.access_key_id);
            }
        }
        let live_keys: FxHashSet<String> = live_keys.into_iter().map(str::to_owned).collect();
        self.uses.retain(|u| live_keys.contains(&u.access_key_id) || !old(u.last_ms));
        self.deliveries.retain(|d| !old(d.time_ms) || live_keys.contains(&d.minted_key));
        self.humans.retain(|h| !old(h.last_ms));
        self.addresses.retain(|a| !old(a.last_ms));
        self.minted.retain(|m| !old(m.time_ms) || live_keys.contains(&m.access_key_id));
    }
}
