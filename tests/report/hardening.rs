//! Regressions from the hostile review of the outputs: every output inert to what the logs contain,
//! secrets never printed, and reports on long-term keys and user-minted sessions (created keys
//! followed, provenance upstream and downstream, remediation by identity type). Fixture:
//! `fixtures/scenarios/userkey` (written by `make_userkey.py`).

use super::{chain_dir, run};
use crate::common::*;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;

const BOB: &str = "AKIABOBLEAKED0000001";
const CREATED: &str = "AKIABOBCREATED000001";
const BOB_SESSION: &str = "ASIABOBSESSION000001";
const GET_SESSION: &str = "ASIABOBGETSESS000001";
const INSTANCE_KEY: &str = "ASIAINSTANCE00000001";
const ATTACKER: &str = "203.0.113.66";
const EVIL_UA: &str = "aws-cli/2.15.0\x1b]0;pwned\x07 \u{9b}31m\u{61c}\u{202e} Python/3.11.6";
const EVIL_ROLE: &str = "arn:aws:iam::111122223333:role/batch\u{85}role\u{202e}";

fn userkey_dir() -> String {
    path_str(&fixture("scenarios/userkey"))
}

fn report_on(key: &str, format: &str) -> String {
    let r = run(&["report", &userkey_dir(), "--key", key, "--format", format, "-q"]);
    assert_eq!(r.code, 0, "report --key {key} --format {format}: {}", r.stderr);
    r.stdout
}

fn report_json(key: &str) -> Value {
    serde_json::from_str(&report_on(key, "json")).expect("report JSON")
}

fn remediation(v: &Value) -> String {
    v["remediation"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

/// Characters that act on a terminal or reorder text: none may reach an output raw.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn assert_inert(name: &str, out: &str) {
    if let Some(c) = out.chars().find(|&c| unsafe_char(c)) {
        panic!("{name}: raw U+{:04X} in the output", c as u32);
    }
}

const REPORT_HEADINGS: [&str; 6] =
    ["Blast radius", "What outlives the session", "Remediation checklist", "Credential chain", "Calls", "Origins"];

#[test]
fn markdown_report_injection_renders_no_image_link_html_or_heading_from_logs() {
    for key in [BOB, BOB_SESSION] {
        let md = report_on(key, "md");
        assert_inert("markdown", &md);
        let v = report_json(key);
        let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_MATH | Options::ENABLE_GFM;
        let mut headings = Vec::new();
        let mut heading: Option<String> = None;
        let mut tables: Vec<Vec<usize>> = Vec::new();
        let mut text = String::new();
        for ev in Parser::new_ext(&md, opts) {
            match ev {
                Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
                Event::End(TagEnd::Heading(_)) => headings.push(heading.take().unwrap_or_default()),
                Event::Text(t) => {
                    if let Some(h) = heading.as_mut() {
                        h.push_str(&t);
                    }
                    text.push_str(&t);
                }
                Event::Start(Tag::Table(_)) => tables.push(Vec::new()),
                // The header is a `TableHead` of cells, without a `TableRow`.
                Event::Start(Tag::TableHead | Tag::TableRow) => tables.last_mut().expect("a row in a table").push(0),
                Event::Start(Tag::TableCell) => {
                    if let Some(n) = tables.last_mut().and_then(|t| t.last_mut()) {
                        *n += 1;
                    }
                }
                Event::Start(
                    t @ (Tag::Image { .. }
                    | Tag::Link { .. }
                    | Tag::HtmlBlock
                    | Tag::Emphasis
                    | Tag::Strong
                    | Tag::Strikethrough
                    | Tag::BlockQuote(_)
                    | Tag::CodeBlock(_)),
                ) => panic!("{key}: log data made a {t:?}:\n{md}"),
                Event::Html(h) | Event::InlineHtml(h) => panic!("{key}: log data made HTML {h:?}"),
                Event::Code(c) | Event::InlineMath(c) | Event::DisplayMath(c) => {
                    panic!("{key}: log data made code or math {c:?}")
                }
                _ => {}
            }
        }
        assert_eq!(headings, REPORT_HEADINGS, "{key}: headings other than the report's own");
        // Every table keeps all its rows (header included) and each row its cells.
        let impact = v["impact"].as_array().unwrap().len();
        let chain = v["keys"].as_array().unwrap().len() + v["upstream"].as_array().unwrap().len();
        let counts: Vec<usize> = tables.iter().map(Vec::len).collect();
        assert_eq!(counts[0], impact + 1, "{key}: rows lost from 'What outlives the session'");
        assert_eq!(counts[1], chain + 1, "{key}: rows lost from the credential chain");
        for (t, width) in tables.iter().zip([6, 9, 4, 3]) {
            assert!(t.iter().all(|&cells| cells == width), "{key}: a row with cells of another row: {t:?}");
        }
        if key == BOB {
            // The attacker's S3 key is shown as text, whole, on its own row.
            assert!(impact >= 5);
            for shown in
                ["![t](https://evil.example/p.png)", "<img src=x onerror=alert(1)>", "# Injected heading", "| x | y |"]
            {
                assert!(text.contains(shown), "{shown:?} not shown as text");
            }
        }
    }
}

#[test]
fn timeline_flagged_keys_line_and_table_outputs_are_terminal_safe() {
    let text = run(&["timeline", &userkey_dir(), "--key", INSTANCE_KEY, "-q"]).stdout;
    assert_inert("timeline", &text);
    assert!(text.contains("Flagged keys: ASIAINSTANCE00000001"), "{text}");
    assert!(text.contains("\\u{9b}31m\\u{61c}\\u{202e}"), "user agent not shown escaped: {text}");
    let table = scan(&[&userkey_dir(), "-q", "--format", "table"]).stdout;
    assert_inert("findings table", &table);
    assert!(table.contains("batch\\u{85}role\\u{202e}"), "{table}");
}

#[test]
fn json_outputs_escape_c1_and_bidi_and_parse_back() {
    let dir = tempfile::tempdir().unwrap();
    let summary_path = dir.path().join("summary.json");
    let dump = scan(&[&userkey_dir(), "--dump-events", "-q"]).stdout;
    let ndjson = scan(&[&userkey_dir(), "-q", "--format", "ndjson"]).stdout;
    let json = run(&["scan", &userkey_dir(), "-q", "--format", "json", "--summary", &path_str(&summary_path)]);
    assert_eq!(json.code, 1, "the instance key's theft is found: {}", json.stderr);
    let summary = std::fs::read_to_string(&summary_path).unwrap();
    let report = report_on(INSTANCE_KEY, "json");
    let timeline = run(&["timeline", &userkey_dir(), "--key", INSTANCE_KEY, "--format", "json", "-q"]).stdout;
    for (name, out) in [
        ("dump", &dump),
        ("ndjson", &ndjson),
        ("json", &json.stdout),
        ("summary", &summary),
        ("report", &report),
        ("timeline", &timeline),
    ] {
        assert_inert(name, out);
    }
    assert!(ndjson.contains(r"batch\u0085role\u202e"), "{ndjson}");
    // Escaped, the JSON still parses back to the logs' strings.
    let findings: Vec<Value> = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(findings[0]["role_arn"], EVIL_ROLE);
    assert_eq!(lines(&ndjson)[0]["role_arn"], EVIL_ROLE);
    assert!(lines(&dump).iter().any(|e| e["user_agent"] == EVIL_UA), "dump lost the user agent");
    let r: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(r["keys"][0]["role_arn"], EVIL_ROLE);
    assert!(r["events"].as_array().unwrap().iter().any(|e| e["user_agent"] == EVIL_UA));
    let t: Value = serde_json::from_str(&timeline).unwrap();
    assert!(t["uses"].as_array().unwrap().iter().any(|u| u["user_agents"][0] == EVIL_UA));
    let s: Value = serde_json::from_str(&summary).unwrap();
    assert!(s.is_object());
}

#[test]
fn secret_redaction_matches_names_in_any_case_and_token_shapes() {
    let raw = std::fs::read_to_string(
        fixture("scenarios/userkey/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/21")
            .join("111122223333_CloudTrail_us-east-1_20261121T1200Z_UserKeyFixture0001.json"),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&raw).unwrap();
    let token = v["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r["responseElements"]["debugEcho"].as_str())
        .expect("the fixture's unnamed token")
        .to_owned();
    assert!(token.len() >= 100);
    let mut outputs = Vec::new();
    for key in [BOB, BOB_SESSION] {
        for format in ["json", "md", "html", "csv"] {
            outputs.push((format!("{key} {format}"), report_on(key, format)));
        }
    }
    outputs.push(("dump".into(), scan(&[&userkey_dir(), "--dump-events", "-q"]).stdout));
    outputs.push(("timeline".into(), run(&["timeline", &userkey_dir(), "--format", "json", "-q"]).stdout));
    for (name, out) in &outputs {
        for secret in [
            "SECRETACCESSKEYCAPITAL",
            "SECRETKEYLOWER",
            "SECRETPASSWORD",
            "SECRETSESSIONTOKEN",
            &token[..40],
            &token[token.len() - 40..],
        ] {
            assert!(!out.contains(secret), "{name} prints secret material {secret:?}");
        }
    }
    // Redacted, not dropped: the fields are there with the marker.
    let r = report_json(BOB);
    let created = r["events"].as_array().unwrap().iter().find(|e| e["event_name"] == "CreateAccessKey").unwrap();
    assert_eq!(created["response_elements"]["accessKey"]["SecretAccessKey"], "(redacted by trailhound)");
    assert_eq!(created["response_elements"]["accessKey"]["secretKey"], "(redacted by trailhound)");
    let login = r["events"].as_array().unwrap().iter().find(|e| e["event_name"] == "CreateLoginProfile").unwrap();
    assert_eq!(login["request_parameters"]["password"], "(redacted by trailhound)");
}

#[test]
fn report_on_user_key_follows_the_access_key_it_created_and_its_use() {
    let v = report_json(BOB);
    let keys: Vec<(&str, Option<&str>, Option<&str>)> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["access_key_id"].as_str().unwrap(), k["minted_by"].as_str(), k["via"].as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            (BOB, None, None),
            (CREATED, Some(BOB), Some("CreateAccessKey")),
            (BOB_SESSION, Some(BOB), Some("AssumeRole")),
            (GET_SESSION, Some(CREATED), Some("GetSessionToken")),
        ]
    );
    assert_eq!(v["keys"][0]["kind"], "long_term");
    let created = &v["keys"][1]["provenance"];
    assert_eq!(created["principal_arn"], "arn:aws:iam::111122223333:user/dev-bob");
    assert_eq!(created["source_ip"], ATTACKER);
    // The created key's calls, four days later too (a created key's window has no end).
    let calls: Vec<(&str, &str)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["access_key_id"] == CREATED || e["access_key_id"] == GET_SESSION)
        .map(|e| (e["event_name"].as_str().unwrap(), e["event_time"].as_str().unwrap()))
        .collect();
    assert_eq!(
        calls,
        [
            ("ListUsers", "2026-11-21T10:10:00Z"),
            ("GetSessionToken", "2026-11-21T10:11:00Z"),
            ("CreateLoginProfile", "2026-11-21T10:12:00Z"),
            ("ListBuckets", "2026-11-25T09:00:00Z"),
        ]
    );
    assert!(v["events"].as_array().unwrap().iter().all(|e| e["access_key_id"] != INSTANCE_KEY));
}

#[test]
fn report_on_user_minted_session_shows_where_it_came_from() {
    let v = report_json(BOB_SESSION);
    let p = &v["keys"][0]["provenance"];
    assert_eq!(v["keys"][0]["minted_by"], Value::Null, "the report's own key");
    assert_eq!(p["access_key_id"], BOB);
    assert_eq!(p["principal_arn"], "arn:aws:iam::111122223333:user/dev-bob");
    assert_eq!(p["event_name"], "AssumeRole");
    assert_eq!(p["source_ip"], ATTACKER);
    assert_eq!(p["event_time"], "2026-11-21T10:03:00Z");
    let upstream: Vec<&str> =
        v["upstream"].as_array().unwrap().iter().map(|k| k["access_key_id"].as_str().unwrap()).collect();
    assert_eq!(upstream, [BOB]);
    assert!(v["events"].as_array().unwrap().iter().all(|e| e["access_key_id"] == BOB_SESSION), "upstream calls");
    let rem = remediation(&v);
    assert!(rem.contains(&format!("minted by long-term key {BOB}")), "{rem}");
    assert!(rem.contains(&format!("trailhound report --key {BOB}")), "{rem}");
    let md = report_on(BOB_SESSION, "md");
    let html = report_on(BOB_SESSION, "html");
    for (name, doc) in [("md", &md), ("html", &html)] {
        for want in [BOB, "upstream", "arn:aws:iam::111122223333:user/dev-bob", ATTACKER, "AssumeRole"] {
            assert!(doc.contains(want), "{name} lacks {want}");
        }
    }
    assert!(md.contains(&format!("| {BOB} | long-term | upstream |")), "{md}");
}

#[test]
fn remediation_follows_the_identity_type() {
    let user = remediation(&report_json(BOB));
    assert!(!user.contains("IMDS"), "IMDSv2 advice for a user's key:\n{user}");
    for want in [
        format!("trailhound revoke --access-key {BOB} --apply"),
        format!("aws iam delete-access-key --user-name dev-bob --access-key-id {BOB}"),
        "aws iam list-access-keys --user-name dev-bob".to_owned(),
        "aws iam get-login-profile --user-name dev-bob".to_owned(),
        format!("aws iam delete-access-key --user-name dev-bob --access-key-id {CREATED}"),
        "trailhound revoke --role deploy-role --session bob-deploy --apply".to_owned(),
        format!("Session {GET_SESSION} acts as user dev-bob"),
    ] {
        assert!(user.contains(&want), "lacks {want:?}:\n{user}");
    }
    let session = remediation(&report_json(BOB_SESSION));
    assert!(!session.contains("IMDS"), "IMDSv2 advice for a session a user's key minted:\n{session}");
    let instance = remediation(&report_json(INSTANCE_KEY));
    assert!(
        instance.contains(
            "aws ec2 modify-instance-metadata-options --instance-id i-0c0ffee0c0ffee001 --http-tokens required"
        ),
        "{instance}"
    );
    assert!(instance.contains("data perimeter"), "{instance}");
    // A session chained from an instance's session: the instance is upstream, and so is its advice.
    let chained = run(&["report", &chain_dir(), "--key", super::CHAINED, "--format", "json", "-q"]);
    let chained: Value = serde_json::from_str(&chained.stdout).unwrap();
    assert_eq!(chained["upstream"][0]["access_key_id"], super::STOLEN);
    let rem = remediation(&chained);
    assert!(rem.contains("IMDSv2 on instance i-0a1b2c3d4e5f60718"), "{rem}");
    assert!(rem.contains("role web-app-role's credentials"), "{rem}");
    // Quotes stay readable in Markdown commands (the chain fixture's session name needs quoting).
    let md = run(&["report", &chain_dir(), "--key", super::STOLEN, "--format", "md", "-q"]).stdout;
    assert!(md.contains("--session '\"&gt;&lt;img src=x onerror=alert\\(1\\)&gt;' --apply"), "{md}");
}
