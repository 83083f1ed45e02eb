//! After a decision: the session a revoked key chained into, seen later; holds that repeat; the audit
//! log's lines echoed to the function's log (Lambda), which rebuild it for a rollback.

use super::*;
use trailhound::detect::MintedSession;
use trailhound::respond::decide::{Acted, already, session_id};

/// A session `key` minted into `role_arn` under `session` (the thief's choice of name).
fn chained(key: &str, role_arn: &str, session: &str) -> MintedSession {
    MintedSession {
        access_key_id: key.into(),
        role_arn: role_arn.into(),
        role_id: "AROACHAINEDROLE".into(),
        session_name: session.into(),
        event_time: Some("2026-12-06T10:00:00Z".into()),
    }
}

/// Lambda's /tmp goes with the instance: the lines echoed to the function's log rebuild the audit log,
/// chain and all, and a change is rolled back from the rebuilt file.
#[tokio::test]
async fn the_echoed_audit_lines_rebuild_a_log_that_rolls_back() {
    let iam = iam().await;
    let role = &uniq("th-rg-echo");
    let role_id = make_role(&iam, role).await;
    let mut s = responder(Policy::default(), true).await;
    let echo = Out::default();
    s.responder.echo_audit_to(Box::new(echo.clone()));
    let mut ledger = MemoryLedger::default();
    let mut f = stolen(role, &role_id, "i-0echo", "ASIARGECHO0000000001");
    // Log text that would act on a terminal reading the function's log.
    f.reasons.push("client aws-cli\u{202e}\u{9b}31m".into());
    let d = s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await.remove(0);
    assert_eq!(d.outcome, Some(Outcome::Applied), "{d:?}");
    let echoed = String::from_utf8(echo.0.lock().unwrap().clone()).unwrap();
    let rebuilt: String = echoed
        .lines()
        .map(|l| l.strip_prefix(trailhound::revoke::audit::ECHO_PREFIX).expect("every echoed line is prefixed"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(rebuilt, std::fs::read_to_string(&s.audit).unwrap(), "the same lines, in order");
    assert!(!echoed.contains(['\u{202e}', '\u{9b}']) && echoed.contains("\\u202e\\u009b"), "{echoed}");
    assert!(rebuilt.lines().count() >= 3, "decided, intent, applied: {rebuilt}");
    let Setup { responder, _dir, .. } = s;
    drop(responder);
    let copy = tempfile::tempdir().unwrap();
    let path = path_str(&copy.path().join("from-the-function-log.jsonl"));
    std::fs::write(&path, &rebuilt).unwrap();
    let r = revoke(&["--rollback", &d.audit_ids[0], "--yes", "--audit-log", &path]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(policy(&iam, role, "TrailhoundRevokeSessions").await.is_none(), "rolled back");
}

#[tokio::test]
async fn a_chained_session_seen_after_the_revocation_is_named_for_a_person_not_revoked_again() {
    let iam = iam().await;
    let role = &uniq("th-rg-chain");
    let role_id = make_role(&iam, role).await;
    let other = &uniq("th-rg-chained");
    let other_id = make_role(&iam, other).await;
    let mut s = responder(Policy::default(), true).await;
    let mut ledger = MemoryLedger::default();
    let f = stolen(role, &role_id, "i-0chain", "ASIARGCHAIN000000001");
    let first = s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await;
    assert_eq!(first[0].outcome, Some(Outcome::Applied), "{:?}", first[0]);
    assert_eq!(first[0].summary().unwrap().role_wide_before_ms, None, "a surgical deny covers only what it names");
    let doc = policy(&iam, role, "TrailhoundRevokeSessions").await.unwrap();
    // The AssumeRole the stolen key made comes in a later file: the finding now names the session it
    // chained into, under a name the thief chose.
    let mut later = f.clone();
    let arn = format!("arn:aws:iam::123456789012:role/{other}");
    // The chained role's real id: the finding that names the chain from the start revokes it below.
    later
        .minted_sessions
        .push(MintedSession { role_id: other_id, ..chained("ASIARGCHAINED0000001", &arn, "x'; rm -rf ~") });
    let again = &s.responder.handle(std::slice::from_ref(&later), &mut ledger, Utc::now()).await[0];
    assert_eq!(held_by(again), "chain_not_covered");
    let Verdict::Held { why, .. } = &again.verdict else { unreachable!() };
    for part in [
        first[0].id.as_str(),
        "ASIARGCHAINED0000001",
        &format!("trailhound revoke --role arn:aws:iam::123456789012:role/{other} --session 'x'\\''; rm -rf ~'"),
    ] {
        assert!(why.contains(part), "{part:?} not in {why}");
    }
    assert!(policy(&iam, other, "TrailhoundRevokeSessions").await.is_none(), "the chained role is not touched");
    assert_eq!(policy(&iam, role, "TrailhoundRevokeSessions").await.unwrap(), doc, "nor the first deny");
    assert_eq!(records_with_phase(&s.audit, "intent").len(), 1, "one change in all");
    assert_eq!(s.out.lines().last().unwrap()["rule"], "chain_not_covered", "announced");
    // Without the later session the key is simply done; a finding that named the chain from the start
    // covers it.
    let same = s.responder.handle(std::slice::from_ref(&f), &mut ledger, Utc::now()).await;
    assert_eq!(held_by(&same[0]), "already_acted");
    let mut covered = later.clone();
    covered.access_key_id = "ASIARGCHAIN000000002".into();
    covered.session_name = "i-0chain2".into();
    let d = &s.responder.handle(std::slice::from_ref(&covered), &mut ledger, Utc::now()).await[0];
    assert_eq!(d.outcome, Some(Outcome::Applied), "{d:?}");
    let again = s.responder.handle(std::slice::from_ref(&covered), &mut ledger, Utc::now()).await;
    assert_eq!(held_by(&again[0]), "already_acted");
}

#[test]
fn a_ledger_entry_from_before_chained_sessions_were_kept_compares_by_role() {
    let mut f = stolen("web", "AROAWEB", "i-0old", "ASIARGOLD00000000001");
    f.minted_sessions.push(chained("ASIARGOLDCHAINED0001", "arn:aws:iam::123456789012:role/adm", "s"));
    // As a ledger written before `chained` existed reads back.
    let entry = |roles: &[&str], dry_run: bool| -> Acted {
        serde_json::from_value(serde_json::json!({
            "decision_id": "rd-old", "access_key_id": f.access_key_id, "at_ms": 0, "dry_run": dry_run,
            "outcome": if dry_run { Value::Null } else { "applied".into() },
            "roles": roles.iter().map(|r| format!("arn:aws:iam::123456789012:role/{r}")).collect::<Vec<_>>(),
        }))
        .unwrap()
    };
    let rule = |h: Option<(String, String)>| h.map(|(rule, _)| rule);
    assert_eq!(rule(already(Some(&entry(&["web", "adm"], false)), &f, true)), Some("already_acted".into()));
    // Its list of chained sessions now cut short: the earlier revocation cannot be shown to cover them.
    let cut = Finding { minted_sessions_truncated: true, ..f.clone() };
    assert_eq!(rule(already(Some(&entry(&["web", "adm"], false)), &cut, true)), Some("chain_truncated".into()));
    assert_eq!(rule(already(Some(&entry(&["web", "adm"], true)), &cut, false)), Some("chain_truncated".into()));
    assert_eq!(rule(already(Some(&entry(&["web"], false)), &f, true)), Some("chain_not_covered".into()));
    assert_eq!(rule(already(Some(&entry(&["web"], true)), &f, false)), Some("chain_not_covered".into()));
    // A dry run's decision does not stop `--apply` from acting on the whole finding.
    assert_eq!(rule(already(Some(&entry(&["web"], true)), &f, true)), None);
    // The key's own role under a new session name is not covered by the role's presence.
    let web = "arn:aws:iam::123456789012:role/web";
    let mut own = stolen("web", "AROAWEB", "i-0old", "ASIARGOLD00000000001");
    own.minted_sessions.push(chained("ASIARGOLDCHAINED0002", web, "another"));
    assert_eq!(rule(already(Some(&entry(&["web"], false)), &own, true)), Some("chain_not_covered".into()));
    // Since sessions are kept, one is named by its role and session name, whatever key it holds.
    let mut named = entry(&["web"], false);
    named.chained = Some(vec![session_id(&chained("ASIARGOTHERKEY000001", web, "another"))]);
    assert_eq!(rule(already(Some(&named), &own, true)), Some("already_acted".into()));
    // A role-wide deny covers every session of the key's own role issued before its cutoff, whatever
    // its name (the session above was minted at 10:00)...
    let mut wide = entry(&["web"], false);
    wide.chained = Some(Vec::new());
    wide.role_wide_before_ms = trailhound::time::parse_ms("2026-12-06T10:05:00Z");
    assert_eq!(rule(already(Some(&wide), &own, true)), Some("already_acted".into()));
    // ...not one issued after it or in its last second, nor one whose mint time the trail does not
    // give, nor under a change not verified to be in place...
    for late in ["2026-12-06T10:00:00Z", "2026-12-06T10:00:00.999Z"] {
        wide.role_wide_before_ms = trailhound::time::parse_ms(late);
        assert_eq!(rule(already(Some(&wide), &own, true)), Some("chain_not_covered".into()), "{late}");
    }
    wide.role_wide_before_ms = trailhound::time::parse_ms("2026-12-06T10:00:01Z");
    assert_eq!(rule(already(Some(&wide), &own, true)), Some("already_acted".into()));
    wide.outcome = Some(Outcome::Unverified);
    assert_eq!(rule(already(Some(&wide), &own, true)), Some("chain_not_covered".into()));
    wide.outcome = Some(Outcome::Applied);
    let mut unknown = own.clone();
    unknown.minted_sessions[0].event_time = None;
    assert_eq!(rule(already(Some(&wide), &unknown, true)), Some("chain_not_covered".into()));
    // ...nor a session of a role it chained into, even one the decision touched: those stay surgical.
    let mut both = entry(&["web", "adm"], false);
    both.chained = Some(Vec::new());
    both.role_wide_before_ms = wide.role_wide_before_ms;
    assert_eq!(rule(already(Some(&both), &f, true)), Some("chain_not_covered".into()));
}

/// A revoked key the thief keeps trying changes its finding at every batch: the same hold is announced
/// once an hour, not at every batch, and a new reason is announced at once.
#[tokio::test]
async fn a_hold_repeated_within_the_hour_is_counted_not_announced_again() {
    let iam = iam().await;
    let role = &uniq("th-rg-repeat");
    let role_id = make_role(&iam, role).await;
    let mut s = responder(Policy::default(), true).await;
    let mut ledger = MemoryLedger::default();
    let mut f = stolen(role, &role_id, "i-0repeat", "ASIARGREPEAT00000001");
    let t0 = Utc::now();
    let first = s.responder.handle(std::slice::from_ref(&f), &mut ledger, t0).await;
    assert_eq!(first[0].outcome, Some(Outcome::Applied), "{:?}", first[0]);
    let decided = |s: &Setup| records_with_phase(&s.audit, "decided").len();
    let mut seen = Vec::new();
    for minutes in [1, 2, 30, 59, 62, 63] {
        f.event_count += 1;
        let ds = s.responder.handle(std::slice::from_ref(&f), &mut ledger, t0 + Duration::minutes(minutes)).await;
        seen.push(ds.iter().map(|d| held_by(d).to_owned()).collect::<Vec<_>>().join(","));
    }
    assert_eq!(seen, ["already_acted", "", "", "", "already_acted", ""], "announced at 1 and 62 minutes only");
    // A hold by the policy is on a finding not acted on: each change of it is announced.
    let mut low = stolen(role, &role_id, "i-0low", "ASIARGREPEATLOW00001");
    low.confidence = "low".into();
    for n in 0..2 {
        low.event_count += 1;
        let ds = s.responder.handle(std::slice::from_ref(&low), &mut ledger, t0 + Duration::minutes(2 + n)).await;
        assert_eq!(held_by(&ds[0]), "min_confidence");
    }
    assert_eq!(s.responder.holds_repeated(), 4);
    assert_eq!(s.out.lines().len(), 5, "the act, two repeated holds and two policy holds: {:?}", s.out.lines());
    assert_eq!(decided(&s), 6, "the act's two records and the four holds'");
    // A new reason is news: the trail now shows a session the key chained into.
    f.minted_sessions.push(chained("ASIARGREPEATCHAINED1", "arn:aws:iam::123456789012:role/elsewhere", "s"));
    let ds = s.responder.handle(std::slice::from_ref(&f), &mut ledger, t0 + Duration::minutes(64)).await;
    assert_eq!(held_by(&ds[0]), "chain_not_covered");
}

#[tokio::test]
async fn a_theft_whose_key_has_long_expired_is_held_not_revoked_today() {
    // An object delivered days late (a dead-letter queue redriven, a copy): its key and every session
    // it chained into are gone; a deny now would only reach the instance's sessions of today.
    let iam = iam().await;
    let role = &uniq("th-rg-old");
    let role_id = make_role(&iam, role).await;
    let mut s = responder(Policy::default(), true).await;
    let mut f = stolen(role, &role_id, "i-0old", "ASIARGOLD00000000001");
    let days_ago = (Utc::now() - Duration::hours(70)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    f.session_issued_at = Some(days_ago.clone());
    f.first_seen = Some(days_ago);
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await[0];
    match &d.verdict {
        Verdict::Held { rule, why } => assert!(rule == "expired" && why.contains("70 hours ago"), "{why}"),
        v => panic!("{v:?}"),
    }
    assert!(policy(&iam, role, "TrailhoundRevokeSessions").await.is_none(), "nothing changed");
    // Twelve hours on, a session it chained into may still live: acted on.
    let recent = (Utc::now() - Duration::hours(12)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    f.session_issued_at = Some(recent);
    let d = &s.responder.handle(std::slice::from_ref(&f), &mut MemoryLedger::default(), Utc::now()).await[0];
    assert_eq!(d.verdict, Verdict::Act, "{d:?}");
}

#[tokio::test]
async fn a_finding_held_by_the_hourly_limit_is_decided_again_when_it_lifts() {
    // A stolen session stays valid after the limit held its revocation; its thief may make no call
    // that changes the finding, so the consumer is told to offer it again, changed or not.
    let iam = iam().await;
    let (first, second) = (&uniq("th-rg-limit-a"), &uniq("th-rg-limit-b"));
    let (first_id, second_id) = (make_role(&iam, first).await, make_role(&iam, second).await);
    let mut s = responder(Policy { max_per_hour: 1, ..Policy::default() }, true).await;
    let mut ledger = MemoryLedger::default();
    let t0 = Utc::now();
    let a = stolen(first, &first_id, "i-0limita", "ASIARGLIMITA00000001");
    let b = stolen(second, &second_id, "i-0limitb", "ASIARGLIMITB00000001");
    let d = &s.responder.handle(std::slice::from_ref(&a), &mut ledger, t0).await[0];
    assert_eq!(d.outcome, Some(Outcome::Applied), "{d:?}");
    assert!(s.responder.take_unsettled().is_empty(), "settled");
    let d = &s.responder.handle(std::slice::from_ref(&b), &mut ledger, t0).await[0];
    assert_eq!(held_by(d), "max_per_hour");
    assert_eq!(s.responder.take_unsettled(), [b.access_key_id.clone()]);
    // Offered again two minutes on: put off to its retry time, still unsettled, nothing announced.
    let announced = s.out.lines().len();
    assert!(s.responder.handle(std::slice::from_ref(&b), &mut ledger, t0 + Duration::minutes(2)).await.is_empty());
    assert_eq!(s.responder.take_unsettled(), [b.access_key_id.clone()]);
    assert_eq!(s.out.lines().len(), announced);
    // Changed (the thief called again): decided at once, and held again within the hour.
    let mut called = b.clone();
    called.event_count += 1;
    let d = &s.responder.handle(std::slice::from_ref(&called), &mut ledger, t0 + Duration::minutes(3)).await[0];
    assert_eq!(held_by(d), "max_per_hour");
    assert_eq!(s.responder.take_unsettled(), [b.access_key_id.clone()]);
    // Its wait over, unchanged and held the same way: counted, not announced again, still owed.
    let (announced, repeated) = (s.out.lines().len(), s.responder.holds_repeated());
    assert!(s.responder.handle(std::slice::from_ref(&called), &mut ledger, t0 + Duration::minutes(9)).await.is_empty());
    assert_eq!((s.out.lines().len(), s.responder.holds_repeated()), (announced, repeated + 1));
    assert_eq!(s.responder.take_unsettled(), [b.access_key_id.clone()]);
    // Once the hour has passed, it is revoked.
    let d = &s.responder.handle(std::slice::from_ref(&called), &mut ledger, t0 + Duration::minutes(61)).await[0];
    assert_eq!(d.outcome, Some(Outcome::Applied), "{d:?}");
    assert!(s.responder.take_unsettled().is_empty());
    assert!(policy(&iam, second, "TrailhoundRevokeSessions").await.is_some());
}
