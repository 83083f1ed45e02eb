//! Whose a key is: the records that deliver a key to a workload (EC2, Lambda, ECS, EKS) or show
//! a principal minting it, and what a record says of a key's role and account.

use super::Detector;
use super::origin::is_service_call;
use super::state::{Delivery, EvId, Interner, KeyId, KeyState, Workload};
use crate::event::Event;

/// A record that may deliver a key to a workload.
pub(super) struct DeliveryView<'a> {
    pub event_name: &'a str,
    pub minted_key: &'a str,
    pub role_arn: &'a str,
    pub role_id: &'a str,
    pub session: &'a str,
    pub invoked_by: &'a str,
    pub source_ip: &'a str,
    pub identity_provider: &'a str,
    pub principal_id: &'a str,
    pub account_id: &'a str,
    pub region: &'a str,
    pub event_id: &'a str,
    /// `event_id`'s bits when the decoder found it a lower-case UUID ([`Event::lower_uuid`]).
    pub event_uuid: Option<u128>,
    pub failed: bool,
    pub time_ms: Option<i64>,
}

impl<'a> DeliveryView<'a> {
    pub fn of(ev: &Event<'a>) -> Self {
        DeliveryView {
            event_name: ev.event_name(),
            minted_key: ev.minted_key(),
            role_arn: ev.minted_role_arn(),
            role_id: ev.minted_role_id(),
            session: ev.minted_session_name(),
            invoked_by: ev.invoked_by(),
            source_ip: ev.source_ip(),
            identity_provider: ev.identity_provider(),
            principal_id: ev.principal_id(),
            account_id: ev.account_id(),
            region: ev.region(),
            event_id: ev.event_id(),
            event_uuid: ev.lower_uuid(),
            failed: !ev.error_code().is_empty(),
            time_ms: ev.time_ms(),
        }
    }

    /// The workload this record delivers to, when it is one.
    pub fn workload(&self) -> Option<Workload> {
        if self.minted_key.is_empty() || self.failed {
            return None;
        }
        match self.event_name {
            "AssumeRole" => {
                let by = if self.invoked_by.is_empty() { self.source_ip } else { self.invoked_by };
                Workload::delivered_by(by)
            }
            // A pod exchanges its service account token; only EKS's OIDC issuers make it a workload
            // (GitHub Actions and other federations run outside AWS by design).
            "AssumeRoleWithWebIdentity" if self.eks_oidc_region().is_some() => Some(Workload::EksWebIdentity),
            _ => None,
        }
    }

    /// The region in an EKS OIDC issuer (`oidc.eks.<region>.amazonaws.com/id/...`): where the
    /// cluster runs, whatever STS endpoint the pod called.
    fn eks_oidc_region(&self) -> Option<&'a str> {
        let p = if self.identity_provider.is_empty() { self.principal_id } else { self.identity_provider };
        let rest = &p[p.find("oidc.eks.")? + "oidc.eks.".len()..];
        let region = rest.split('.').next()?;
        (!region.is_empty()).then_some(region)
    }
}

/// The account of an ARN (its fifth field), when it names one. A key belongs to its role's account:
/// the record's own (`recipientAccountId`) is where it was delivered, and a cross-account call is
/// delivered to both accounts (an S3 data event to the bucket's owner too): taking the first copy
/// read made the key's group, and so its findings, depend on the order of the input.
fn arn_account(arn: &str) -> Option<&str> {
    // By bytes, in one loop: `split(':')` compared each byte through memcmp, and a `memchr`
    // iterator's set-up cost more than the ARN's first few bytes take to read. Every delivery asks
    // (a Lambda-heavy trail delivers a key every few calls).
    let b = arn.as_bytes();
    let mut colons = 0;
    let start = b.iter().position(|&c| {
        colons += (c == b':') as u32;
        colons == 4
    })? + 1;
    let a = b.get(start..start + 12)?;
    let ends = b.get(start + 12).is_none_or(|&c| c == b':');
    (ends && a.iter().all(u8::is_ascii_digit)).then(|| &arn[start..start + 12])
}

/// Sets what a record says of a key's role where nothing was known. The role's ARN, once known,
/// names the account even where a copy without it (a record whose session issuer was left out) came
/// first: otherwise the key's group would depend on the order of the input.
pub(super) fn learn_role(
    st: &mut KeyState,
    syms: &mut Interner,
    role_arn: &str,
    role_id: &str,
    session: &str,
    account: &str,
) {
    if st.role_arn == 0 && !role_arn.is_empty() {
        st.role_arn = syms.intern(role_arn);
        if let Some(a) = arn_account(role_arn) {
            st.account = syms.intern(a);
        }
    }
    if st.account == 0 {
        st.account = syms.intern(account);
    }
    if st.role_id == 0 {
        st.role_id = syms.intern(role_id);
    }
    if st.session == 0 {
        st.session = syms.intern(session);
    }
}

impl Detector {
    pub(super) fn observe_delivery(&mut self, d: &DeliveryView<'_>, workload: Workload) {
        let session = self.syms.intern(d.session);
        let role_arn = self.syms.intern(d.role_arn);
        let role_id = self.syms.intern(d.role_id);
        let named = arn_account(d.role_arn);
        let account = self.syms.intern(named.unwrap_or(d.account_id));
        let event_id = EvId::of(d.event_id, d.event_uuid, &mut self.syms);
        let region = match workload {
            Workload::EksWebIdentity => d.eks_oidc_region().unwrap_or(d.region),
            _ => d.region,
        };
        let region = self.syms.intern(region);
        let role = if role_id != 0 { role_id } else { role_arn };
        // Only sessions named by the service (an instance id, a function name): a web identity's
        // session name is the caller's choice and must not make other keys judged.
        if workload != Workload::EksWebIdentity {
            self.delivered_sessions.insert((account, role, session), workload);
        }
        let id = KeyId::new(d.minted_key, &mut self.syms);
        let st = self.keys.entry(id);
        // A key is delivered once; should a trail hold two records, the earliest counts.
        let earlier =
            st.delivery.as_ref().is_none_or(|old| d.time_ms.unwrap_or(i64::MAX) < old.time_ms.unwrap_or(i64::MAX));
        if earlier {
            st.delivery = Some(Delivery { workload, region, time_ms: d.time_ms, event_id });
        }
        // As learn_role, with the values interned above: a Lambda-heavy trail delivers a key per few
        // calls, and interning each twice showed in its profile.
        if st.role_arn == 0 && role_arn != 0 {
            st.role_arn = role_arn;
            if named.is_some() {
                st.account = account;
            }
        }
        for (field, v) in [(&mut st.account, account), (&mut st.role_id, role_id), (&mut st.session, session)] {
            if *field == 0 {
                *field = v;
            }
        }
    }

    /// A key minted by a principal (a person, a program with its own credentials), not delivered by
    /// a service: its session name is the caller's choice, and naming it after an instance or a
    /// function must not make it judged, nor revoked, as that workload's.
    pub(super) fn observe_principal_mint(&mut self, d: &DeliveryView<'_>) {
        if d.failed || d.minted_key.is_empty() || !matches!(d.event_name, "AssumeRole" | "AssumeRoleWithWebIdentity") {
            return;
        }
        // A service assuming a role for a workload trailhound does not judge as such (SSM's Default
        // Host Management names the session after the instance, as EC2 does).
        if is_service_call(d.source_ip, d.invoked_by) {
            return;
        }
        let id = KeyId::new(d.minted_key, &mut self.syms);
        self.keys.entry(id).minted_by_principal = true;
    }
}

/// The key that minted this one, when the trail shows it.
pub(super) fn minter<'d>(st: &KeyState, d: &'d Detector) -> Option<&'d KeyState> {
    st.minter.checked_sub(1).map(|slot| d.keys.at(slot))
}

/// Whether AWS's own records put the key with a workload: its delivery, `ec2RoleDelivery`, or a
/// mint by such a key (`depth` mints down a chain). Never a user agent or a session name: a person
/// writing `exec-env/AWS_Lambda_...` once, then naming a session after a production instance, must
/// not have it judged, nor revoked, as the instance's.
pub(super) fn placed_by_aws(st: &KeyState, d: &Detector, depth: u32) -> bool {
    st.delivery.is_some()
        || st.ec2_field
        || (depth < 4 && st.minted_by_principal && minter(st, d).is_some_and(|m| placed_by_aws(m, d, depth + 1)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_account_is_the_fifth_field_of_twelve_digits() {
        let cases = [
            ("arn:aws:iam::111122223333:role/app", Some("111122223333")),
            ("arn:aws-us-gov:iam::111122223333:role/a:b", Some("111122223333")),
            ("a:b:c:d:111122223333", Some("111122223333")),
            ("arn:aws:iam::11112222333:role/app", None),
            ("arn:aws:iam::1111222233x3:role/app", None),
            ("arn:aws:iam:111122223333:role/app", None),
            ("", None),
        ];
        for (arn, want) in cases {
            assert_eq!(super::arn_account(arn), want, "{arn}");
        }
    }
}
