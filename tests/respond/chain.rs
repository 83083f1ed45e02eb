//! A stolen key's `AssumeRole` delivered in a later object than the theft: the key is already revoked,
//! and the session it chained into is named for a person instead of being revoked on its own.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_delivered_after_the_revocation_is_named_not_acted_on() {
    let env = Env::new("th-late-chain").await;
    env.notify_queue().await;
    let iam = aws_sdk_iam::Client::new(&env.cfg);
    let role = uniq("th-late-chain-role");
    make_role(&iam, &role).await;
    let adm = format!("{role}-adm");
    let recs = chain_n(&role, 0);
    let is_chain = |r: &Value| r["eventName"] == "AssumeRole" && r["userIdentity"]["accessKeyId"].is_string();
    let (late, rest): (Vec<Value>, Vec<Value>) = recs.into_iter().partition(is_chain);
    assert_eq!(late.len(), 1, "the fixture's one AssumeRole made with the stolen key");
    // Everything but the AssumeRole: the theft is revoked, on the key's own role only.
    let first = trail_key("20261120T1030Z", "L0");
    env.put(&first, gz(&rest)).await;
    let r = env.respond(&["--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(decisions(&r.stdout, "ASIAVICTIM0000000001", "act"), 1, "{}\n{}", r.stdout, r.stderr);
    let targets: Vec<String> = audit_records(&env.audit())
        .into_iter()
        .filter(|r| r["phase"] == "applied")
        .map(|r| r["target"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(targets, [role.clone()], "the chain is not known yet");
    // The AssumeRole, in a file delivered later: held for a person, naming the session and the command.
    env.put(&trail_key("20261120T1105Z", "L1"), gz(&late)).await;
    let r = env.respond(&["--apply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let held: Vec<Value> = lines(&r.stdout).into_iter().filter(|d| d["rule"] == "chain_not_covered").collect();
    assert_eq!(held.len(), 1, "{}\n{}", r.stdout, r.stderr);
    let why = held[0]["why"].as_str().unwrap();
    assert!(why.contains("ASIACHAINE0000000001"), "{why}");
    assert!(
        why.contains(&format!("trailhound revoke --role arn:aws:iam::123456789012:role/{adm} --session ")),
        "{why}"
    );
    assert_eq!(decisions(&r.stdout, "ASIAVICTIM0000000001", "act"), 0, "{}", r.stdout);
    assert!(policy_doc(&iam, &adm).await.is_none(), "the chained role is left to a person");
    assert_eq!(audit_records(&env.audit()).iter().filter(|r| r["phase"] == "applied").count(), 1);
}
