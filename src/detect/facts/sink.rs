//! Facts collected from events as they come ([`FactSink`]): the scan's sink for `respond`, which
//! keeps facts between objects instead of events.

use super::{AddressFact, DeliveryFact, EventRef, Facts, HumanFact, MintFact, UseFact, UseIndex, client_signature};
use crate::detect::origin::{Redemption, redemption};
use crate::event::Event;
use crate::scan::EventSink;
use rustc_hash::FxHashSet;

/// Collects facts from events, grouped as they come: an [`EventSink`] like the detector.
#[derive(Default)]
pub struct FactSink {
    facts: Facts,
    uses: UseIndex,
    accounts: FxHashSet<String>,
    last_account: String,
}

impl FactSink {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// The facts collected, in canonical order.
    pub fn into_facts(mut self) -> Facts {
        self.facts.accounts = self.accounts.into_iter().collect();
        self.facts.normalized()
    }

    fn add_use(&mut self, ev: &Event<'_>, redeemed: bool) {
        let parts = [
            ev.access_key_id(),
            ev.account_id(),
            ev.role_arn(),
            ev.role_id(),
            ev.session_name(),
            ev.source_ip(),
            ev.invoked_by(),
            ev.vpc_endpoint_id(),
            ev.vpc_endpoint_account_id(),
            ev.user_agent(),
            ev.ec2_role_delivery(),
            ev.region(),
            ev.event_source(),
        ];
        let mut key = parts;
        key[9] = "";
        let key = (key, client_signature(ev.user_agent()));
        let h = self.uses.hash(&key, ev.issued_ms());
        let uses = &mut self.facts.uses;
        let i = match self.uses.find(uses, h, |u| u.issued_ms == ev.issued_ms() && u.group_key() == key) {
            Some(i) => {
                if ev.user_agent() < uses[i].user_agent.as_str() {
                    uses[i].user_agent = ev.user_agent().into();
                }
                i
            }
            None => {
                self.uses.insert(h, uses.len());
                uses.push(UseFact {
                    access_key_id: parts[0].into(),
                    account_id: parts[1].into(),
                    role_arn: parts[2].into(),
                    role_id: parts[3].into(),
                    session_name: parts[4].into(),
                    issued_ms: ev.issued_ms(),
                    source_ip: parts[5].into(),
                    invoked_by: parts[6].into(),
                    vpc_endpoint_id: parts[7].into(),
                    vpc_endpoint_account_id: parts[8].into(),
                    user_agent: parts[9].into(),
                    ec2_role_delivery: parts[10].into(),
                    region: parts[11].into(),
                    event_source: parts[12].into(),
                    ..UseFact::default()
                });
                uses.len() - 1
            }
        };
        let one = UseFact {
            count: 1,
            errors: !ev.error_code().is_empty() as u64,
            writes: (ev.read_only() == Some(false) && ev.error_code().is_empty()) as u64,
            heartbeats: (ev.event_name() == "UpdateInstanceInformation") as u64,
            replayed: redeemed as u64,
            first_ms: ev.time_ms(),
            last_ms: ev.time_ms(),
            last_signed_ms: if redeemed { None } else { ev.time_ms() },
            event_ids: vec![EventRef { time_ms: ev.time_ms(), event_id: ev.event_id().to_owned() }],
            ..UseFact::default()
        };
        uses[i].add(&one);
    }
}

impl EventSink for FactSink {
    fn observe(&mut self, ev: &Event<'_>) {
        let account = ev.account_id();
        if !account.is_empty() && account != self.last_account {
            self.last_account = account.to_owned();
            self.accounts.insert(account.to_owned());
        }
        let minting = !ev.minted_key().is_empty() && ev.error_code().is_empty();
        // As the detector reads it: a service's delivery record is nothing else.
        let delivery = crate::detect::delivery::DeliveryView::of(ev).workload();
        if minting && matches!(ev.event_name(), "AssumeRole" | "AssumeRoleWithWebIdentity") {
            self.facts.deliveries.push(DeliveryFact {
                event_name: ev.event_name().into(),
                minted_key: ev.minted_key().into(),
                minted_role_arn: ev.minted_role_arn().into(),
                minted_role_id: ev.minted_role_id().into(),
                minted_session_name: ev.minted_session_name().into(),
                invoked_by: ev.invoked_by().into(),
                source_ip: ev.source_ip().into(),
                identity_provider: ev.identity_provider().into(),
                principal_id: ev.principal_id().into(),
                account_id: ev.account_id().into(),
                region: ev.region().into(),
                event_id: ev.event_id().into(),
                time_ms: ev.time_ms(),
            });
        }
        if delivery.is_some_and(|w| w != crate::detect::state::Workload::EksWebIdentity) {
            return;
        }
        if crate::detect::observe::is_placing_call(ev.event_name()) && ev.error_code().is_empty() {
            self.facts.addresses.push(AddressFact {
                event_name: ev.event_name().into(),
                target_instance_id: ev.target_instance_id().into(),
                target_public_ip: ev.target_public_ip().into(),
                allocation_id: ev.allocation_id().into(),
                last_ms: ev.time_ms(),
            });
        }
        let redeemed = redemption(ev.event_source(), ev.event_name(), ev.auth_method(), ev.user_agent());
        if redeemed != Some(Redemption::Link)
            && crate::detect::observe::is_human(ev.principal_type(), ev.role_arn(), ev.principal_arn())
        {
            self.facts.humans.push(HumanFact {
                principal_type: ev.principal_type().into(),
                principal_arn: ev.principal_arn().into(),
                user_name: ev.user_name().into(),
                role_arn: ev.role_arn().into(),
                source_ip: ev.source_ip().into(),
                invoked_by: ev.invoked_by().into(),
                vpc_endpoint_id: ev.vpc_endpoint_id().into(),
                checks_only: redeemed == Some(Redemption::IdentityCheck),
                last_ms: ev.time_ms(),
            });
            // Humans repeat their address on every call: fold as they come.
            if self.facts.humans.len() >= 4096 {
                let f = std::mem::take(&mut self.facts.humans);
                self.facts.humans = Facts { humans: f, ..Facts::default() }.normalized().humans;
            }
        }
        if ev.is_temporary_key() {
            self.add_use(ev, redeemed.is_some());
            if minting {
                self.facts.minted.push(MintFact {
                    access_key_id: ev.access_key_id().into(),
                    minted_key: ev.minted_key().into(),
                    minted_role_arn: ev.minted_role_arn().into(),
                    minted_role_id: ev.minted_role_id().into(),
                    minted_session_name: ev.minted_session_name().into(),
                    time_ms: ev.time_ms(),
                });
            }
        }
    }
}
