//! Feeding the detector: events one at a time (the scan's hot path) and grouped facts
//! ([`super::facts`]), both through the same functions, so an event and a group of one are the same
//! input. Every choice of what to keep (event ids, clients, people, addresses) depends on values,
//! never on arrival order: findings are the same whatever the order or split of the input.

use super::delivery::{DeliveryView, learn_role};
use super::facts::Facts;
use super::origin::{self, Redemption, client_family, is_service_call, is_ssm_channel, parse_addr};
use super::state::{self, EvId, KeyId, MAX_MINTED, Origin, OriginUse, Workload, flag};
use super::{Detector, MAX_UNPARSABLE_NAMES, MintedSession, ORIGINS_SCANNED, UA_CACHE_BYTES, UA_CACHE_ENTRIES};
use crate::event::Event;

/// Calls whose keys [`Detector::observe_events`] looks up ahead of observing them.
const LOOK_AHEAD: usize = 16;

/// The calls that say where an instance is (its Elastic IPs) or that it is gone.
pub(super) fn is_placing_call(event_name: &str) -> bool {
    matches!(event_name, "AssociateAddress" | "AllocateAddress" | "TerminateInstances")
}

/// People: a workload key used where a person works is a strong signal.
pub(super) fn is_human(principal_type: &str, role_arn: &str, principal_arn: &str) -> bool {
    match principal_type {
        "IAMUser" | "Root" | "IdentityCenterUser" | "FederatedUser" => true,
        "AssumedRole" => names_sso_role(role_arn.as_bytes()) || names_sso_role(principal_arn.as_bytes()),
        _ => false,
    }
}

/// Whether `h` holds `/AWSReservedSSO_` (an IAM Identity Center role). Every call made with an
/// assumed role asks this twice; most ARNs hold no `_` at all, which one `memchr` finds at once,
/// where a substring searcher's set-up cost more than the search.
fn names_sso_role(h: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"/AWSReservedSSO_";
    memchr::memchr_iter(b'_', h).any(|i| i + 1 >= NEEDLE.len() && &h[i + 1 - NEEDLE.len()..=i] == NEEDLE)
}

/// Calls made with one temporary key that share every value detection reads: one event, or a
/// group of them ([`super::facts::UseFact`]).
pub(super) struct UseView<'a> {
    pub key: &'a str,
    pub account: &'a str,
    pub role_arn: &'a str,
    pub role_id: &'a str,
    pub session: &'a str,
    pub issued_ms: Option<i64>,
    pub source_ip: &'a str,
    pub invoked_by: &'a str,
    pub vpc_endpoint_id: &'a str,
    pub vpc_endpoint_account_id: &'a str,
    pub user_agent: &'a str,
    pub ec2_role_delivery: &'a str,
    pub region: &'a str,
    pub event_source: &'a str,
    pub count: u64,
    pub errors: u64,
    pub writes: u64,
    pub heartbeats: u64,
    /// Calls whose signature others may redeem ([`origin::redemption`]).
    pub replayed: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// The last call signed by whoever made it (not redeemed).
    pub last_signed_ms: Option<i64>,
    /// [`Event::use_hash`] for the one-event shortcut; 0 for groups.
    pub hash: u64,
}

fn sat32(n: u64) -> u32 {
    n.min(u32::MAX as u64) as u32
}

impl Detector {
    fn origin_of(&mut self, source_ip: &str, vpce: &str, vpce_owner: &str, count: u64) -> Origin {
        if !vpce.is_empty() {
            return Origin::Endpoint { id: self.syms.intern(vpce), owner: self.syms.intern(vpce_owner) };
        }
        if let Some(a) = parse_addr(source_ip) {
            return Origin::Ip(a);
        }
        if let Some(a) = origin::repair_addr(source_ip) {
            let r = &mut self.repaired;
            r.events += count;
            r.note_example(source_ip);
            return Origin::Ip(a);
        }
        let u = &mut self.unparsable;
        u.events += count;
        u.note_example(source_ip);
        let name = if self.syms.get(source_ip).is_some() {
            source_ip
        } else if u.distinct < MAX_UNPARSABLE_NAMES {
            u.distinct += 1;
            source_ip
        } else {
            "(other unparsable addresses)"
        };
        Origin::Unparsable(self.syms.intern(name))
    }

    pub(super) fn note_account(&mut self, account: &str) {
        if account.is_empty() || *self.last_account.0 == *account {
            return;
        }
        let s = self.syms.intern(account);
        self.accounts.insert(s);
        self.last_account = (account.into(), s);
    }

    /// A successful call that places an instance (`AssociateAddress`, `AllocateAddress`) or ends it
    /// (`TerminateInstances`, whose `instance` lists every instance it names, space-separated).
    pub(super) fn observe_address(
        &mut self,
        event_name: &str,
        instance: &str,
        public_ip: &str,
        allocation: &str,
        time_ms: Option<i64>,
    ) {
        let ip = parse_addr(public_ip);
        match event_name {
            "TerminateInstances" => {
                let Some(t) = time_ms else { return };
                for id in instance.split(' ').filter(|id| !id.is_empty()) {
                    let id = self.syms.intern(id);
                    // The first: the instance ended then, and a later call on it (a retry, or a
                    // thief's) must not move its end.
                    let at = self.terminated.entry(id).or_insert(t);
                    *at = (*at).min(t);
                }
            }
            "AssociateAddress" if !instance.is_empty() => {
                let inst = self.syms.intern(instance);
                if let Some(ip) = ip {
                    let v = self.associated.entry(inst).or_default();
                    state::keep_smallest(v, ip, super::MAX_ASSOCIATED);
                } else if !allocation.is_empty() {
                    self.pending_assoc.push((inst, allocation.into()));
                }
            }
            "AllocateAddress" if !allocation.is_empty() => {
                if let Some(ip) = ip {
                    self.allocations.insert(allocation.into(), ip);
                }
            }
            _ => {}
        }
    }

    /// `check`: the call was a `GetCallerIdentity`, which a person's tools send from where they work,
    /// but which EKS also sends on from its own AWS addresses for every `kubectl` token it checks.
    pub(super) fn observe_human(&mut self, source_ip: &str, invoked_by: &str, vpce: &str, who: &str, check: bool) {
        if is_service_call(source_ip, invoked_by) || source_ip.is_empty() {
            return;
        }
        // A VPC endpoint is shared network infrastructure (a VPN's users, every instance of a VPC):
        // people working through it say nothing about the keys that use it.
        if !vpce.is_empty() {
            return;
        }
        // Read like a key's origin, but not counted in the warnings, which speak of keys' calls.
        let Some(a) = parse_addr(source_ip).or_else(|| origin::repair_addr(source_ip)) else {
            return;
        };
        if check && matches!(self.cfg.classifier.classify(&Origin::Ip(a)), origin::OriginClass::Aws(_)) {
            return;
        }
        let who = self.syms.intern(who);
        let h = self.humans.entry(Origin::Ip(a)).or_default();
        if !h.principals.contains(&who) {
            let syms = &self.syms;
            state::keep_smallest_by(&mut h.principals, who, 8, |a, b| syms.name(*a).cmp(syms.name(*b)));
        }
    }

    pub(super) fn observe_minted(&mut self, key: &str, m: MintedSession) {
        let id = KeyId::new(key, &mut self.syms);
        let minter = self.keys.slot(id);
        if !m.access_key_id.is_empty() {
            let chained = KeyId::new(&m.access_key_id, &mut self.syms);
            self.keys.entry(chained).minter = minter + 1;
        }
        let minted = self.keys.at_mut(minter).minted.get_or_insert_with(Default::default);
        if !minted.kept.contains(&m) {
            // The earliest sessions are kept, ordered by the whole session (on a forged trail two may
            // share a time and a key): those are the ones a revocation must reach first. Whatever the
            // arrival order, `more` ends up true exactly when more than MAX_MINTED were seen.
            fn at(x: &MintedSession) -> (&Option<String>, &str, &str, &str, &str) {
                (&x.event_time, &x.access_key_id, &x.role_arn, &x.session_name, &x.role_id)
            }
            let pos = minted.kept.partition_point(|x| at(x) <= at(&m));
            if pos < MAX_MINTED {
                minted.kept.insert(pos, m);
            }
            minted.more |= pos >= MAX_MINTED || minted.kept.len() > MAX_MINTED;
            minted.kept.truncate(MAX_MINTED);
        }
    }

    /// The hot path of detection: one key-state lookup, and strings interned only when the state
    /// lacks them (a key's role and session never change); client families cached by user agent.
    pub(super) fn observe_use<'e>(
        &mut self,
        u: &UseView<'_>,
        known: Option<u32>,
        ids: impl Iterator<Item = (Option<i64>, &'e str, Option<u128>)>,
    ) {
        let service = is_service_call(u.source_ip, u.invoked_by);
        // One lookup of the key for the whole call: the state is reached again by its slot.
        let slot = match known {
            Some(slot) => slot,
            None => self.keys.slot(KeyId::new(u.key, &mut self.syms)),
        };
        let cached = Some(self.keys.at(slot))
            .filter(|st| st.last_hash == u.hash && u.hash != 0 && !st.origins.is_empty())
            .map(|st| (st.last_origin as usize, st.last_family, st.last_env));
        let resolved = match cached {
            _ if service => None,
            Some((idx, family, env)) => Some((idx, family, env, None)),
            None => {
                let ua = u.user_agent;
                let origin = self.origin_of(u.source_ip, u.vpc_endpoint_id, u.vpc_endpoint_account_id, u.count);
                let (family, env) = match self.ua_families.get(ua) {
                    Some(&known) => known,
                    None => {
                        let env = (ua.contains("exec-env/AWS_Lambda"), ua.contains("exec-env/AWS_ECS"));
                        let f = (self.syms.intern(&client_family(ua)), env);
                        // Bounded in bytes as well as entries: a forged trail of distinct 1 MB agents
                        // would otherwise be kept whole.
                        if self.ua_families.len() < UA_CACHE_ENTRIES
                            && self.ua_cached_bytes + ua.len() <= UA_CACHE_BYTES
                        {
                            self.ua_cached_bytes += ua.len();
                            self.ua_families.insert(ua.into(), f);
                        }
                        f
                    }
                };
                let region = if origin::is_global_service(u.event_source) || u.region.is_empty() {
                    0
                } else {
                    self.syms.intern(u.region)
                };
                Some((usize::MAX, family, env, Some((origin, region))))
            }
        };
        if let Some((_, _, _, Some((Origin::Unparsable(_), _)))) = resolved {
            self.unparsable.keys.insert(self.keys.key_at(slot));
        }
        let syms = &mut self.syms;
        let st = self.keys.at_mut(slot);
        st.events = st.events.saturating_add(sat32(u.count));
        learn_role(st, syms, u.role_arn, u.role_id, u.session, u.account);
        st.issued_ms = state::earlier(st.issued_ms, u.issued_ms);
        st.ec2_field |= !u.ec2_role_delivery.is_empty();
        let Some((mut idx, family, env, origin)) = resolved else {
            st.service_events = st.service_events.saturating_add(sat32(u.count));
            return;
        };
        let mut call_region = 0;
        if let Some((origin, region)) = origin {
            call_region = region;
            let found = if st.origins.len() <= ORIGINS_SCANNED {
                st.origins.iter().position(|o| o.origin == origin)
            } else {
                self.many_origins.get(&(slot, origin)).map(|&i| i as usize)
            };
            idx = match found {
                Some(i) => i,
                None if st.origins.len() < u16::MAX as usize => {
                    // Most keys have one or two origins: a vector's first growth would reserve
                    // four. Past two it doubles, as one more at a time would copy every origin of a
                    // key used from thousands of addresses once per new address.
                    if st.origins.len() < 2 {
                        st.origins.reserve_exact(1);
                    }
                    st.origins.push(OriginUse::new(origin));
                    let n = st.origins.len();
                    if n > ORIGINS_SCANNED {
                        let from = if n == ORIGINS_SCANNED + 1 { 0 } else { n - 1 };
                        for (i, o) in st.origins.iter().enumerate().skip(from) {
                            self.many_origins.insert((slot, o.origin), i as u16);
                        }
                    }
                    n - 1
                }
                None => st.origins.len() - 1,
            };
            // A global call records no region: the next call, maybe regional, must not take the shortcut.
            st.last_hash = if region == 0 && !u.region.is_empty() { 0 } else { u.hash };
            st.last_origin = idx as u16;
            st.last_family = family;
            st.last_env = env;
        }
        let (lambda_env, ecs_env) = env;
        st.lambda_env |= lambda_env;
        st.ecs_env |= ecs_env;
        let o = &mut st.origins[idx];
        o.first_ms = state::earlier(o.first_ms, u.first_ms);
        o.last_ms = state::later(o.last_ms, u.last_ms);
        o.count = o.count.saturating_add(sat32(u.count));
        o.errors = o.errors.saturating_add(sat32(u.errors));
        o.writes = o.writes.saturating_add(sat32(u.writes));
        o.add_client(family, syms);
        o.add_call_region(call_region, syms);
        o.flags |= match u.ec2_role_delivery {
            "1.0" => flag::IMDS_V1,
            "2.0" => flag::IMDS_V2,
            _ => 0,
        };
        if is_ssm_channel(u.event_source) {
            o.flags |= flag::SSM_CHANNEL;
        }
        if u.event_source == "ecs.amazonaws.com" {
            o.flags |= flag::ECS_AGENT;
        }
        if u.heartbeats > 0 && u.user_agent.contains(origin::SSM_AGENT) {
            o.flags |= flag::SSM_HEARTBEAT;
        }
        if u.count > u.replayed {
            o.flags |= flag::SIGNED_HERE;
        }
        if let Some(t) = u.last_signed_ms {
            o.last_signed_ms = o.last_signed_ms.max(t);
        }
        // A group of calls shares its event source: S3's redeemed calls are presigned links, STS's
        // identity proofs.
        if u.replayed > 0 {
            if origin::is_link_source(u.event_source) {
                o.flags |= flag::LINK_OPENED;
            } else if !o.has(flag::IDENTITY_CHECKED) {
                o.flags |= flag::IDENTITY_CHECKED;
                self.checked.push(slot);
            }
        }
        o.flags |= if lambda_env || ecs_env { flag::EXEC_ENV } else { flag::NO_EXEC_ENV };
        for (t, ev_id, uuid) in ids {
            if !ev_id.is_empty() && o.wants_event_id(t) {
                o.add_event_id(t, EvId::of(ev_id, uuid, syms), syms);
            }
        }
    }

    /// Observes consecutive events. The keys of up to [`LOOK_AHEAD`] calls are looked up first,
    /// together, so that the cache misses of those lookups overlap instead of following one
    /// another, and the states found are asked into the cache; then the events are observed in turn,
    /// exactly as one by one. Measured on the bench corpora: 3 to 7% less time on the mixed one,
    /// within noise on the Lambda-heavy one (whose calls of one key tend to follow each other).
    pub(super) fn observe_events(&mut self, evs: &[Event<'_>]) {
        for block in evs.chunks(LOOK_AHEAD) {
            let mut slots = [None; LOOK_AHEAD];
            for (slot, ev) in slots.iter_mut().zip(block) {
                if ev.is_temporary_key() {
                    *slot = self.keys.find(ev.access_key_id());
                }
            }
            for &slot in slots.iter().flatten() {
                self.keys.prefetch(slot);
            }
            for (ev, &slot) in block.iter().zip(&slots) {
                self.observe_event(ev, slot);
            }
        }
    }

    /// Observes one event: the scan's path ([`crate::scan::EventSink`]). `known` is the slot of its
    /// caller's key when it was found already (a slot never moves, and a key never leaves).
    pub(super) fn observe_event(&mut self, ev: &Event<'_>, known: Option<u32>) {
        self.note_account(ev.account_id());
        // Most calls mint nothing: gathering the delivery's fields for them would be wasted work.
        if !ev.minted_key().is_empty() {
            let delivery = DeliveryView::of(ev);
            if let Some(w) = delivery.workload() {
                self.observe_delivery(&delivery, w);
                // A pod's own exchange is a call too: where it came from is the pod.
                if w != Workload::EksWebIdentity {
                    return;
                }
            } else {
                self.observe_principal_mint(&delivery);
            }
        }
        if is_placing_call(ev.event_name()) && ev.error_code().is_empty() {
            let (name, time) = (ev.event_name(), ev.time_ms());
            self.observe_address(name, ev.target_instance_id(), ev.target_public_ip(), ev.allocation_id(), time);
        }
        let redeemed = origin::redemption(ev.event_source(), ev.event_name(), ev.auth_method(), ev.user_agent());
        // Where a person's presigned link was opened is not where they work.
        if redeemed != Some(Redemption::Link) && is_human(ev.principal_type(), ev.role_arn(), ev.principal_arn()) {
            let who = if ev.principal_arn().is_empty() { ev.user_name() } else { ev.principal_arn() };
            let check = redeemed == Some(Redemption::IdentityCheck);
            self.observe_human(ev.source_ip(), ev.invoked_by(), ev.vpc_endpoint_id(), who, check);
        }
        if !ev.is_temporary_key() {
            return;
        }
        let failed = !ev.error_code().is_empty();
        let view = UseView {
            key: ev.access_key_id(),
            account: ev.account_id(),
            role_arn: ev.role_arn(),
            role_id: ev.role_id(),
            session: ev.session_name(),
            issued_ms: ev.issued_ms(),
            source_ip: ev.source_ip(),
            invoked_by: ev.invoked_by(),
            vpc_endpoint_id: ev.vpc_endpoint_id(),
            vpc_endpoint_account_id: ev.vpc_endpoint_account_id(),
            user_agent: ev.user_agent(),
            ec2_role_delivery: ev.ec2_role_delivery(),
            region: ev.region(),
            event_source: ev.event_source(),
            count: 1,
            errors: failed as u64,
            writes: (ev.read_only() == Some(false) && !failed) as u64,
            heartbeats: (ev.event_name() == "UpdateInstanceInformation") as u64,
            replayed: redeemed.is_some() as u64,
            first_ms: ev.time_ms(),
            last_ms: ev.time_ms(),
            last_signed_ms: if redeemed.is_some() { None } else { ev.time_ms() },
            hash: ev.use_hash(),
        };
        self.observe_use(&view, known, std::iter::once((ev.time_ms(), ev.event_id(), ev.lower_uuid())));
        if !ev.minted_key().is_empty() && !failed {
            let m = MintedSession {
                access_key_id: ev.minted_key().to_owned(),
                role_arn: ev.minted_role_arn().to_owned(),
                role_id: ev.minted_role_id().to_owned(),
                session_name: ev.minted_session_name().to_owned(),
                event_time: ev.time_ms().map(crate::time::format_ms),
            };
            self.observe_minted(ev.access_key_id(), m);
        }
    }

    /// Takes in grouped facts ([`super::facts`]): the same as observing the events behind them,
    /// with the same rules. Facts from several sources (Athena's queries, objects read one by one)
    /// can be absorbed in any order.
    pub fn absorb(&mut self, facts: &Facts) {
        for a in &facts.accounts {
            self.note_account(a);
        }
        for d in &facts.deliveries {
            self.note_account(&d.account_id);
            let view = DeliveryView {
                event_name: &d.event_name,
                minted_key: &d.minted_key,
                role_arn: &d.minted_role_arn,
                role_id: &d.minted_role_id,
                session: &d.minted_session_name,
                invoked_by: &d.invoked_by,
                source_ip: &d.source_ip,
                identity_provider: &d.identity_provider,
                principal_id: &d.principal_id,
                account_id: &d.account_id,
                region: &d.region,
                event_id: &d.event_id,
                event_uuid: None,
                failed: false,
                time_ms: d.time_ms,
            };
            match view.workload() {
                Some(w) => self.observe_delivery(&view, w),
                None => self.observe_principal_mint(&view),
            }
        }
        for a in &facts.addresses {
            self.observe_address(
                &a.event_name,
                &a.target_instance_id,
                &a.target_public_ip,
                &a.allocation_id,
                a.last_ms,
            );
        }
        for h in &facts.humans {
            if is_human(&h.principal_type, &h.role_arn, &h.principal_arn) {
                let who = if h.principal_arn.is_empty() { &h.user_name } else { &h.principal_arn };
                self.observe_human(&h.source_ip, &h.invoked_by, &h.vpc_endpoint_id, who, h.checks_only);
            }
        }
        for u in &facts.uses {
            if !u.access_key_id.starts_with("ASIA") || u.count == 0 {
                continue;
            }
            self.note_account(&u.account_id);
            let view = UseView {
                key: &u.access_key_id,
                account: &u.account_id,
                role_arn: &u.role_arn,
                role_id: &u.role_id,
                session: &u.session_name,
                issued_ms: u.issued_ms,
                source_ip: &u.source_ip,
                invoked_by: &u.invoked_by,
                vpc_endpoint_id: &u.vpc_endpoint_id,
                vpc_endpoint_account_id: &u.vpc_endpoint_account_id,
                user_agent: &u.user_agent,
                ec2_role_delivery: &u.ec2_role_delivery,
                region: &u.region,
                event_source: &u.event_source,
                count: u.count,
                errors: u.errors,
                writes: u.writes,
                heartbeats: u.heartbeats,
                replayed: u.replayed,
                first_ms: u.first_ms,
                last_ms: u.last_ms,
                last_signed_ms: u.last_signed_ms.or(u.last_ms.filter(|_| u.count > u.replayed)),
                hash: 0,
            };
            self.observe_use(&view, None, u.event_ids.iter().map(|r| (r.time_ms, r.event_id.as_str(), None)));
        }
        for m in &facts.minted {
            if !m.access_key_id.starts_with("ASIA") {
                continue;
            }
            let s = MintedSession {
                access_key_id: m.minted_key.clone(),
                role_arn: m.minted_role_arn.clone(),
                role_id: m.minted_role_id.clone(),
                session_name: m.minted_session_name.clone(),
                event_time: m.time_ms.map(crate::time::format_ms),
            };
            self.observe_minted(&m.access_key_id, s);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sso_roles_are_found_anywhere_in_the_arn() {
        let yes = [
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com",
            "/AWSReservedSSO_",
        ];
        let no = [
            "arn:aws:iam::111122223333:role/app_role",
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO/x_y",
            "AWSReservedSSO_Admin",
            "arn:aws:iam::111122223333:role/awsreservedsso_admin",
            "_",
            "",
        ];
        for h in yes {
            assert!(super::names_sso_role(h.as_bytes()), "{h}");
        }
        for h in no {
            assert!(!super::names_sso_role(h.as_bytes()), "{h}");
        }
        assert!(super::is_human("AssumedRole", "", yes[1]));
        assert!(!super::is_human("AssumedRole", no[0], no[1]));
        assert!(super::is_human("IAMUser", "", ""));
    }
}
