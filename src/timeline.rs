//! The affected role's timeline: sessions issued, uses by key and origin, flagged keys, revocations
//! seen in the logs and the calls they denied.

use crate::event::Event;
use crate::scan::EventSink;
use crate::time::format_ms;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// What the timeline is about: any combination narrows it.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    /// Role name (an ARN is reduced to its name).
    pub role: Option<String>,
    /// Session name, matched exactly (the last part of the assumed-role ARN).
    pub session: Option<String>,
    /// Access key id (`ASIA...`), matched exactly.
    pub key: Option<String>,
}

fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

impl Selector {
    fn matches(&self, role_arn: &str, session: &str, key: &str) -> bool {
        self.role.as_deref().is_none_or(|r| !role_arn.is_empty() && role_name(role_arn) == r)
            && self.session.as_deref().is_none_or(|s| s == session)
            && self.key.as_deref().is_none_or(|k| k == key)
    }
}

/// A session the selection issued (a credential delivery or a minting call).
#[derive(Serialize, Clone, Debug)]
pub struct Issued {
    /// When the session was issued (`YYYY-MM-DDTHH:MM:SSZ`, UTC); `None` when the event had no readable time.
    pub time: Option<String>,
    /// The minted key (`responseElements.credentials.accessKeyId`).
    pub access_key_id: String,
    /// The session name asked for (`requestParameters.roleSessionName`, else from `assumedRoleId`).
    pub session_name: String,
    /// The role assumed (`requestParameters.roleArn`).
    pub role_arn: String,
    /// Who delivered it: `ec2.amazonaws.com`, `lambda.amazonaws.com`, a principal's key...
    pub issued_by: String,
    /// `eventID` of the issuing call, to find it in the raw logs.
    pub event_id: String,
}

/// Use of one key from one origin.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Use {
    /// The key used (`userIdentity.accessKeyId`).
    pub access_key_id: String,
    /// The session name of the caller (from `userIdentity.arn` or `principalId`).
    pub session_name: String,
    /// The origin (`sourceIPAddress`): an IP, or a service name for calls AWS made on the session's behalf.
    pub source_ip: String,
    /// First use from this origin (`YYYY-MM-DDTHH:MM:SSZ`, UTC).
    pub first: Option<String>,
    /// Last use from this origin (`YYYY-MM-DDTHH:MM:SSZ`, UTC).
    pub last: Option<String>,
    /// Calls made with this key from this origin.
    pub count: u64,
    /// Those of the calls that failed (non-empty `errorCode`).
    pub errors: u64,
    /// The first three distinct user agents seen (attacker-controlled; escape when rendering).
    pub user_agents: Vec<String>,
    /// Set when detection flagged this key from this origin.
    pub flagged: bool,
    #[serde(skip)]
    first_ms: Option<i64>,
    #[serde(skip)]
    last_ms: Option<i64>,
}

/// A session revocation seen in the logs.
#[derive(Serialize, Clone, Debug)]
pub struct Revocation {
    /// When the revocation call was made (`YYYY-MM-DDTHH:MM:SSZ`, UTC).
    pub time: Option<String>,
    /// `PutRolePolicy` (revocation applied) or `DeleteRolePolicy` (revocation removed).
    pub event_name: String,
    /// The role the revocation policy was put on (`requestParameters.roleName`).
    pub role_name: String,
    /// `AWSRevokeOlderSessions` (the console's "Revoke active sessions") or `TrailhoundRevokeSessions`.
    pub policy_name: String,
    /// ARN of the principal who made the call (`userIdentity.arn`).
    pub by: String,
    /// `eventID` of the revocation call.
    pub event_id: String,
    /// Epoch milliseconds of the call, for ordering and for the denied-after-revocation cut-off.
    #[serde(skip)]
    pub time_ms: Option<i64>,
}

/// A call denied after the first revocation.
#[derive(Serialize, Clone, Debug)]
pub struct Denied {
    /// When the call was denied (`YYYY-MM-DDTHH:MM:SSZ`, UTC).
    pub time: Option<String>,
    /// The key whose call was denied.
    pub access_key_id: String,
    /// The API action denied (`eventName`).
    pub event_name: String,
    /// Where the denied call came from (`sourceIPAddress`).
    pub source_ip: String,
    /// `errorCode`, containing `AccessDenied` or `UnauthorizedOperation`.
    pub error_code: String,
    #[serde(skip)]
    time_ms: Option<i64>,
}

/// The `timeline` document. Field names are stable.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Timeline {
    /// Sessions issued to the selection, by time.
    pub issued: Vec<Issued>,
    /// Uses of the selected keys, one per key and origin, by first use.
    pub uses: Vec<Use>,
    /// Keys of the selection that detection flagged as used off their workload.
    pub flagged_keys: Vec<String>,
    /// Revocations of the selected role seen in the logs, by time.
    pub revocations: Vec<Revocation>,
    /// Calls by the selected sessions denied after the first revocation seen in the logs.
    pub denied_after_revocation: Vec<Denied>,
}

/// Collects the timeline while the scan streams events.
pub struct TimelineSink {
    sel: Selector,
    issued: Vec<Issued>,
    uses: BTreeMap<(String, String), Use>,
    revocations: Vec<Revocation>,
    denied: Vec<Denied>,
}

impl TimelineSink {
    /// A sink collecting events that match `sel`.
    pub fn new(sel: Selector) -> Self {
        TimelineSink { sel, issued: Vec::new(), uses: BTreeMap::new(), revocations: Vec::new(), denied: Vec::new() }
    }

    /// The timeline, with the keys and origins detection flagged.
    pub fn finish(self, findings: &[crate::detect::Finding]) -> Timeline {
        // Sets, not a search per use: a role with thousands of sessions and findings stays linear.
        let flagged_uses: HashSet<(&str, &str)> =
            findings.iter().flat_map(|f| f.origins().map(|ip| (f.access_key_id.as_str(), ip))).collect();
        let mut uses: Vec<Use> = self.uses.into_values().collect();
        for u in &mut uses {
            u.first = u.first_ms.map(format_ms);
            u.last = u.last_ms.map(format_ms);
            u.flagged = flagged_uses.contains(&(u.access_key_id.as_str(), u.source_ip.as_str()));
        }
        uses.sort_by(|a, b| {
            (a.first_ms, &a.access_key_id, &a.source_ip).cmp(&(b.first_ms, &b.access_key_id, &b.source_ip))
        });
        let mut issued = self.issued;
        issued.sort_by(|a, b| (&a.time, &a.access_key_id).cmp(&(&b.time, &b.access_key_id)));
        let mut revocations = self.revocations;
        revocations.sort_by_key(|r| r.time_ms);
        let first_rev = revocations.first().and_then(|r| r.time_ms);
        let mut denied: Vec<Denied> = self
            .denied
            .into_iter()
            .filter(|d| matches!((first_rev, d.time_ms), (Some(r), Some(t)) if t >= r))
            .collect();
        denied.sort_by_key(|d| d.time_ms);
        let used: HashSet<&str> = uses.iter().map(|u| u.access_key_id.as_str()).collect();
        let mut listed = HashSet::new();
        let flagged_keys: Vec<String> = findings
            .iter()
            .map(|f| f.access_key_id.as_str())
            .filter(|k| used.contains(k) && listed.insert(*k))
            .map(str::to_owned)
            .collect();
        Timeline { issued, uses, flagged_keys, revocations, denied_after_revocation: denied }
    }
}

impl EventSink for TimelineSink {
    fn observe(&mut self, ev: &Event<'_>) {
        if !ev.minted_key().is_empty()
            && self.sel.matches(ev.minted_role_arn(), ev.minted_session_name(), ev.minted_key())
        {
            let by = if !ev.invoked_by().is_empty() {
                ev.invoked_by()
            } else if !ev.access_key_id().is_empty() {
                ev.access_key_id()
            } else {
                ev.source_ip()
            };
            self.issued.push(Issued {
                time: ev.time_ms().map(format_ms),
                access_key_id: ev.minted_key().to_owned(),
                session_name: ev.minted_session_name().to_owned(),
                role_arn: ev.minted_role_arn().to_owned(),
                issued_by: by.to_owned(),
                event_id: ev.event_id().to_owned(),
            });
        }
        if matches!(ev.event_name(), "PutRolePolicy" | "DeleteRolePolicy")
            && ev.error_code().is_empty()
            && self.sel.role.as_deref().is_some_and(|r| r == ev.target_role_name())
            && matches!(ev.target_policy_name(), "AWSRevokeOlderSessions" | "TrailhoundRevokeSessions")
        {
            self.revocations.push(Revocation {
                time: ev.time_ms().map(format_ms),
                event_name: ev.event_name().to_owned(),
                role_name: ev.target_role_name().to_owned(),
                policy_name: ev.target_policy_name().to_owned(),
                by: ev.principal_arn().to_owned(),
                event_id: ev.event_id().to_owned(),
                time_ms: ev.time_ms(),
            });
        }
        let key = ev.access_key_id();
        if key.is_empty() || !self.sel.matches(ev.role_arn(), ev.session_name(), key) {
            return;
        }
        if ev.error_code().contains("AccessDenied") || ev.error_code().contains("UnauthorizedOperation") {
            self.denied.push(Denied {
                time: ev.time_ms().map(format_ms),
                access_key_id: key.to_owned(),
                event_name: ev.event_name().to_owned(),
                source_ip: ev.source_ip().to_owned(),
                error_code: ev.error_code().to_owned(),
                time_ms: ev.time_ms(),
            });
        }
        let u = self.uses.entry((key.to_owned(), ev.source_ip().to_owned())).or_insert_with(|| Use {
            access_key_id: key.to_owned(),
            session_name: ev.session_name().to_owned(),
            source_ip: ev.source_ip().to_owned(),
            ..Use::default()
        });
        u.count += 1;
        if !ev.error_code().is_empty() {
            u.errors += 1;
        }
        if let Some(t) = ev.time_ms() {
            u.first_ms = Some(u.first_ms.map_or(t, |f| f.min(t)));
            u.last_ms = Some(u.last_ms.map_or(t, |l| l.max(t)));
        }
        if u.user_agents.len() < 3 && !u.user_agents.iter().any(|a| a == ev.user_agent()) {
            u.user_agents.push(ev.user_agent().to_owned());
        }
    }
}

/// The timeline for a terminal (log-derived text escaped).
pub fn render_text(t: &Timeline) -> String {
    use crate::report::escape::term;
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "Sessions issued ({}):", t.issued.len());
    for i in &t.issued {
        let _ = writeln!(
            s,
            "  {}  {}  session {}  by {}",
            i.time.as_deref().unwrap_or("-"),
            term(&i.access_key_id),
            term(&i.session_name),
            term(&i.issued_by)
        );
    }
    let _ = writeln!(s, "\nUse by key and origin ({}):", t.uses.len());
    for u in &t.uses {
        let _ = writeln!(
            s,
            "  {} {}  from {:<16} {} .. {}  {} calls, {} errors  {}",
            if u.flagged { "!!" } else { "  " },
            term(&u.access_key_id),
            term(&u.source_ip),
            u.first.as_deref().unwrap_or("-"),
            u.last.as_deref().unwrap_or("-"),
            u.count,
            u.errors,
            term(&u.user_agents.join(" | "))
        );
    }
    let _ = writeln!(
        s,
        "\nFlagged keys: {}",
        if t.flagged_keys.is_empty() { "none".into() } else { term(&t.flagged_keys.join(", ")).into_owned() }
    );
    let _ = writeln!(s, "\nRevocations seen in the logs ({}):", t.revocations.len());
    for r in &t.revocations {
        let _ = writeln!(
            s,
            "  {}  {} {} on {} by {}",
            r.time.as_deref().unwrap_or("-"),
            term(&r.event_name),
            term(&r.policy_name),
            term(&r.role_name),
            term(&r.by)
        );
    }
    let _ = writeln!(s, "\nCalls denied after the first revocation ({}):", t.denied_after_revocation.len());
    for d in t.denied_after_revocation.iter().take(50) {
        let _ = writeln!(
            s,
            "  {}  {}  {} from {}  {}",
            d.time.as_deref().unwrap_or("-"),
            term(&d.access_key_id),
            term(&d.event_name),
            term(&d.source_ip),
            term(&d.error_code)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_flagged_keys_line_is_escaped() {
        let t = Timeline {
            flagged_keys: vec!["ASIA\x1b]0;pwned\x07".into(), "ASIA\u{202e}X".into()],
            ..Timeline::default()
        };
        let text = render_text(&t);
        assert!(text.contains("Flagged keys: ASIA\\u{1b}]0;pwned\\u{7}, ASIA\\u{202e}X"), "{text}");
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
    }
}
