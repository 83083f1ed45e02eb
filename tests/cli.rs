//! The `scan` command end to end: every export shape, bad input, accounting, filters, exit codes,
//! determinism, escaping. Runs the real binary on committed fixtures.

mod common;

use common::*;
use std::collections::BTreeMap;

fn tsv(path: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(fixture(path))
        .expect("EXPECTED.tsv")
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[test]
fn every_export_shape_is_read_by_content() {
    let mut total = 0;
    for row in tsv("formats/EXPECTED.tsv") {
        if row[0] == "TOTAL" {
            assert_eq!(row[1].parse::<usize>().unwrap(), total);
            continue;
        }
        let expected: usize = row[1].parse().unwrap();
        total += expected;
        let file = fixture(&format!("formats/{}", row[0]));
        let r = scan(&[&path_str(&file), "--dump-events", "-q"]);
        let events = lines(&r.stdout);
        assert_eq!(events.len(), expected, "{}: events", row[0]);
        assert_eq!(r.summary["inputs_read"], 1, "{}: {}", row[0], r.summary);
        assert_eq!(r.summary["records"], expected as u64, "{}", row[0]);
        assert_eq!(r.code, 0, "{}: exit status; stderr {}", row[0], r.stderr);
        for e in &events {
            assert!(e["event_time"].as_str().is_some_and(|t| t.ends_with('Z')), "{}: no time in {e}", row[0]);
            assert!(e["event_name"].is_string() && e["event_source"].is_string(), "{}: {e}", row[0]);
        }
    }
}

#[test]
fn logstash_time_and_lookup_events_unwrap() {
    let r = scan(&[&path_str(&fixture("formats/logstash.jsonl.gz")), "--dump-events", "-q"]);
    let events = lines(&r.stdout);
    assert_eq!(events[0]["event_time"], "2020-09-14T00:44:23Z");
    let minted: Vec<_> = events.iter().filter_map(|e| e["minted_access_key_id"].as_str()).collect();
    assert_eq!(minted, ["ASIA5FLZVX4OPVKKVBMX"]);

    let r = scan(&[&path_str(&fixture("formats/lookup_events.json")), "--dump-events", "-q"]);
    let keys: Vec<_> = lines(&r.stdout).iter().map(|e| e["access_key_id"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(keys.iter().filter(|k| *k == "ASIATFQR7NSC36DZQP7P").count(), 2);
    assert_eq!(r.summary["formats"]["lookup-events"], 1);
}

#[test]
fn normalized_fields_of_a_delivery_and_a_use() {
    let r = scan(&[&path_str(&fixture("formats/records.json.gz")), "--dump-events", "-q"]);
    let events = lines(&r.stdout);
    let delivery = events.iter().find(|e| e["minted_access_key_id"] == "ASIATFQR7NSC36DZQP7P").expect("delivery");
    assert_eq!(delivery["event_name"], "AssumeRole");
    assert_eq!(delivery["invoked_by"], "ec2.amazonaws.com");
    assert_eq!(delivery["minted_session_name"], "i-0dbc91f429e48eeed");
    // The delivery's session token is secret material: it never reaches any output.
    assert!(!r.stdout.contains("IQoJb3JpZ2lu"), "session token leaked");
    let used = events.iter().find(|e| e["access_key_id"] == "ASIATFQR7NSCSHSEVYP5").expect("use");
    assert_eq!(used["ec2_role_delivery"], "2.0");
    assert_eq!(used["session_name"], "i-0dbc91f429e48eeed");
    assert!(used["role_arn"].as_str().unwrap().ends_with(":role/stratus-red-team-ec2-steal-credentials-role"));
    assert!(used["role_id"].as_str().unwrap().starts_with("AROA"));
    assert!(used["session_issued_at"].is_string());
    assert_eq!(used["source_ip"], "3.225.16.109");
}

/// `inputs_skipped` or `inputs_ignored` as file name -> reason.
fn named(list: &serde_json::Value) -> BTreeMap<String, String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["input"].as_str().unwrap().rsplit('/').next().unwrap().to_owned(),
                k["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn bad_inputs_are_named_and_good_ones_read_in_full() {
    let r = scan(&[&path_str(&fixture("bad")), "--dump-events"]);
    assert_eq!(r.code, 3, "partial run exit status; stderr {}", r.stderr);
    let s = &r.summary;
    let skipped = named(&s["inputs_skipped"]);
    let ignored = named(&s["inputs_ignored"]);
    let partial: BTreeMap<String, u64> = s["inputs_partial"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["input"].as_str().unwrap().rsplit('/').next().unwrap().to_owned(), k["records"].as_u64().unwrap()))
        .collect();
    let mut records = 0;
    let mut read = 0;
    for row in tsv("bad/EXPECTED.tsv") {
        let (name, outcome, n) = (&row[0], row[1].as_str(), row[2].parse::<u64>().unwrap());
        records += n;
        match outcome {
            "skipped" => assert!(skipped.contains_key(name), "{name} should be skipped: {s}"),
            "ignored" => assert!(ignored.contains_key(name), "{name} should be ignored: {s}"),
            "partial" => assert_eq!(partial.get(name), Some(&n), "{name} partial records: {s}"),
            "read" => {
                read += 1;
                let elsewhere = skipped.contains_key(name) || partial.contains_key(name) || ignored.contains_key(name);
                assert!(!elsewhere, "{name} should be read: {s}");
            }
            _ => panic!("bad EXPECTED.tsv outcome {outcome}"),
        }
    }
    // EXPECTED.tsv itself sits in the folder: it is text, ignored and named like any other input.
    assert!(ignored["EXPECTED.tsv"].contains("not CloudTrail"));
    assert_eq!(skipped.len() + partial.len() + ignored.len() + read as usize, 17, "every input in one list: {s}");
    assert_eq!(s["inputs_read"], read);
    assert_eq!(s["records"], records);
    assert_eq!(lines(&r.stdout).len() as u64, records);
    assert_eq!(s["inputs_total"], 17);
    assert!(ignored["digest.json.gz"].contains("digest"));
    assert!(skipped["empty.json"].contains("empty"));
    assert!(ignored["page.html"].contains("HTML"));
    assert!(ignored["junk.bin"].contains("binary"));
    assert!(skipped["garbage.gz"].contains("binary"));
    // Every problem is explained to a human as well.
    for name in skipped.keys().chain(partial.keys()) {
        assert!(r.stderr.contains(name.as_str()), "stderr does not name {name}: {}", r.stderr);
    }
    let warnings = s["warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w["input"].as_str().unwrap().ends_with("non_utf8.jsonl")), "{s}");
}

#[test]
fn odd_records_survive() {
    let r = scan(&[&path_str(&fixture("bad/invalid_ip.json")), "--dump-events", "-q"]);
    let ips: Vec<_> = lines(&r.stdout).iter().map(|e| e["source_ip"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(ips, ["035.249.253.232", "not-an-ip", "2600:1f18:zzzz::1"]);
    let r = scan(&[&path_str(&fixture("bad/huge_record.json.gz")), "--dump-events", "-q"]);
    assert_eq!(lines(&r.stdout).len(), 2);
    assert!(r.summary["bytes_decompressed"].as_u64().unwrap() > 3_000_000);
    let r = scan(&[&path_str(&fixture("bad/non_utf8.jsonl")), "--dump-events", "-q"]);
    let events = lines(&r.stdout);
    assert_eq!(events.len(), 3);
    assert!(events[1]["user_agent"].as_str().unwrap().contains('\u{fffd}'));
}

#[test]
fn summary_has_the_documented_fields() {
    let r = scan(&[&path_str(&fixture("formats")), "-q", "--no-detect"]);
    for f in [
        "inputs_read",
        "inputs_skipped",
        "inputs_partial",
        "inputs_ignored",
        "records",
        "duplicates",
        "bytes_compressed",
        "bytes_decompressed",
        "elapsed_ms",
    ] {
        assert!(!r.summary[f].is_null(), "summary lacks {f}: {}", r.summary);
    }
    assert!(r.summary["bytes_decompressed"].as_u64() > r.summary["bytes_compressed"].as_u64());
}

#[test]
fn duplicates_count_once() {
    let dir = path_str(&fixture("formats"));
    let r = scan(&[&dir, &dir, "-q", "--no-detect"]);
    assert_eq!(r.summary["records"], 28);
    assert_eq!(r.summary["duplicates"], 28);
}

#[test]
fn filters_keep_the_right_records() {
    let dir = path_str(&fixture("formats"));
    let all = lines(&scan(&[&dir, "--dump-events", "-q"]).stdout);
    let (since, until) = ("2023-07-10T11:57:00Z", "2023-07-10T12:05:00Z");
    let want = all
        .iter()
        .filter(|e| {
            e["event_time"].as_str().is_some_and(|t| t >= since && t < until) && e["account_id"] == "123837392027"
        })
        .count();
    assert!(want > 0 && want < all.len());
    let r = scan(&[&dir, "--dump-events", "-q", "--since", since, "--until", until, "--account", "123837392027"]);
    assert_eq!(lines(&r.stdout).len(), want);
    assert_eq!(r.summary["records_filtered"].as_u64().unwrap() as usize, all.len() - want);

    let r = scan(&[&dir, "--dump-events", "-q", "--region", "eu-west-3"]);
    assert_eq!(lines(&r.stdout).len(), 0);
    let r = scan(&[&dir, "--dump-events", "-q", "--since", "2020-09-15"]);
    assert!(lines(&r.stdout).iter().all(|e| e["event_time"].as_str().unwrap() >= "2020-09-15"));
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let inputs = [path_str(&fixture("formats")), path_str(&fixture("corpora")), path_str(&fixture("bad"))];
    let mut base: Option<(String, String)> = None;
    for j in ["1", "2", "5"] {
        let mut args: Vec<&str> = inputs.iter().map(String::as_str).collect();
        args.extend(["-q", "-j", j, "--dump-events"]);
        let events = scan(&args).stdout;
        args.pop();
        args.extend(["--format", "json"]);
        let findings = scan(&args).stdout;
        match &base {
            None => base = Some((events, findings)),
            Some((e, f)) => {
                assert!(*e == events, "events differ with -j {j}");
                assert!(*f == findings, "findings differ with -j {j}");
            }
        }
    }
}

#[test]
fn exit_statuses() {
    let good = path_str(&fixture("bad/good_a.json.gz"));
    assert_eq!(scan(&[&good, "-q"]).code, 0);
    let theft = path_str(&fixture("corpora/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json"));
    let r = scan(&[&theft, "-q"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let bad = path_str(&fixture("bad/garbage.gz"));
    assert_eq!(scan(&[&good, &bad, "-q"]).code, 3);
    assert_eq!(scan(&[&theft, &bad, "-q"]).code, 4);
    // Files that are not CloudTrail are ignored: they change nothing.
    let junk = path_str(&fixture("bad/junk.bin"));
    let notes = path_str(&fixture("bad/notes.txt"));
    assert_eq!(scan(&[&good, &junk, &notes, "-q"]).code, 0);
    assert_eq!(scan(&[&theft, &junk, &notes, "-q"]).code, 1);
    let r = scan(&["/nonexistent/trail", "-q"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/trail"), "{}", r.stderr);
    let r = scan(&[&good, "--since", "last tuesday"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--since"), "{}", r.stderr);
}

fn write_event(dir: &std::path::Path, name: &str, ua: &str, session: &str) -> String {
    let ev = serde_json::json!({
        "eventVersion": "1.08", "eventTime": "2026-11-01T10:00:00Z", "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances", "awsRegion": "us-east-1", "sourceIPAddress": "45.33.32.156",
        "userAgent": ua, "eventID": "11111111-2222-3333-4444-555555555555", "readOnly": true,
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": "AssumedRole", "principalId": format!("AROAEXAMPLEROLEID:{session}"),
            "arn": format!("arn:aws:sts::111122223333:assumed-role/app/{session}"), "accountId": "111122223333",
            "accessKeyId": "ASIAEXAMPLEESCAPE001",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID",
                "arn": "arn:aws:iam::111122223333:role/app"}, "ec2RoleDelivery": "1.0",
                "attributes": {"creationDate": "2026-11-01T09:00:00Z"}}}
    });
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(&ev).unwrap()).unwrap();
    path_str(&path)
}

#[test]
fn attacker_strings_are_inert_in_table_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_event(dir.path(), "evil.json", "evil/1.0 (Linux)", "i-0abc\u{1b}[2J\u{1b}]0;pwned\u{7}\r");
    let r = scan(&[&f, "-q", "--format", "table"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stdout.contains('\u{1b}') && !r.stdout.contains('\r') && !r.stdout.contains('\u{7}'), "{:?}", r.stdout);
    assert!(r.stdout.contains("i-0abc\\u{1b}[2J"), "{}", r.stdout);
    let f = write_event(dir.path(), "formula.json", "=HYPERLINK(\"http://x\")", "=cmd|' /C calc'!A0");
    let r = scan(&[&f, "-q", "--format", "csv"]);
    let mut rdr = csv::Reader::from_reader(r.stdout.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let col = headers.iter().position(|h| h == "session_name").unwrap();
    for rec in rdr.records() {
        for cell in rec.unwrap().iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@']), "formula cell {cell:?}");
        }
    }
    let mut rdr = csv::Reader::from_reader(r.stdout.as_bytes());
    let row = rdr.records().next().unwrap().unwrap();
    assert_eq!(&row[col], "'=cmd|' /C calc'!A0");
}

#[test]
fn json_and_ndjson_findings_have_the_documented_fields() {
    let r = scan(&[&path_str(&fixture("corpora/otrf")), "-q", "--format", "json"]);
    let findings: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let fields = [
        "kind",
        "severity",
        "confidence",
        "access_key_id",
        "account_id",
        "role_arn",
        "role_id",
        "session_name",
        "workload",
        "source_ips",
        "expected_origins",
        "first_seen",
        "last_seen",
        "event_count",
        "session_issued_at",
        "reasons",
    ];
    for f in fields {
        assert!(findings[0].get(f).is_some(), "finding lacks {f}");
    }
    let nd = lines(&scan(&[&path_str(&fixture("corpora/otrf")), "-q", "--format", "ndjson"]).stdout);
    assert_eq!(nd, findings);
}

#[test]
fn trusted_cidr_and_config_file() {
    let otrf = path_str(&fixture("corpora/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json"));
    assert_eq!(scan(&[&otrf, "-q", "--trusted-cidr", "1.2.3.0/24"]).code, 0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("trailhound.toml");
    std::fs::write(&cfg, "trusted_cidrs = [\"1.2.3.4/32\"]\n").unwrap();
    assert_eq!(scan(&[&otrf, "-q", "--config", &path_str(&cfg)]).code, 0);
    std::fs::write(&cfg, "trusted_cidrs = [\"not a cidr\"]\n").unwrap();
    let r = scan(&[&otrf, "-q", "--config", &path_str(&cfg)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a cidr"), "{}", r.stderr);
}

/// The merge is taken in turn by the workers: with many small inputs and more workers than cores,
/// every input must still be merged exactly once and in input order, with duplicates across inputs
/// recognized whoever merged the first copy.
#[test]
fn many_small_inputs_merge_once_in_order_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let record = |i: usize, k: usize| {
        serde_json::json!({
            "eventVersion": "1.08", "eventTime": format!("2024-01-01T{:02}:{:02}:{:02}Z", i / 3600 % 24, i / 60 % 60, i % 60),
            "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15.0",
            "eventID": format!("{:08x}-0000-4000-8000-{:012x}", i, k), "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE"}
        })
    };
    let n = 300;
    for i in 0..n {
        let mut records = vec![record(i, 0), record(i, 1)];
        if i > 0 {
            // The previous input's first record again: a duplicate across inputs.
            records.push(record(i - 1, 0));
        }
        let doc = serde_json::json!({ "Records": records });
        std::fs::write(dir.path().join(format!("{i:04}.json")), doc.to_string()).unwrap();
    }
    let d = path_str(dir.path());
    let mut base: Option<String> = None;
    for j in ["1", "2", "7"] {
        let r = scan(&[&d, "-q", "-j", j, "--dump-events"]);
        assert_eq!(r.summary["inputs_read"], n as u64, "-j {j}: {}", r.summary);
        assert_eq!(r.summary["records"], 2 * n as u64, "-j {j}: {}", r.summary);
        assert_eq!(r.summary["duplicates"], n as u64 - 1, "-j {j}: {}", r.summary);
        let ids: Vec<String> =
            lines(&r.stdout).iter().map(|e| e["event_id"].as_str().unwrap_or_default().to_owned()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "-j {j}: events not in input order");
        match &base {
            None => base = Some(r.stdout),
            Some(b) => assert!(*b == r.stdout, "events differ with -j {j}"),
        }
    }
}

/// Short-lived instances of account 111122223333 reaching AWS only through the central interface
/// endpoints of the organization's network account 444455556666, under an organization trail's layout.
/// `flat`: every file in `root` itself, named in CloudTrail's way but outside the `AWSLogs/` layout
/// (how logs copied out of S3 by hand often sit).
fn org_trail_with_central_endpoints(root: &std::path::Path, network_folder: bool, flat: bool) {
    let (app, net) = ("111122223333", "444455556666");
    let folder = |acct: &str| match flat {
        true => root.to_path_buf(),
        false => root.join(format!("AWSLogs/o-exampleorg1/{acct}/CloudTrail/us-east-1/2026/11/20")),
    };
    let mut records = Vec::new();
    for i in 0..4 {
        let (key, inst, t) =
            (format!("ASIAEXAMPLECENTRAL0{i}"), format!("i-0c{i:015x}"), format!("2026-11-20T1{i}:00:00Z"));
        records.push(serde_json::json!({
            "eventVersion": "1.08", "eventTime": t, "eventID": format!("00000000-0000-4000-8000-00000000010{i}"),
            "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "awsRegion": "us-east-1",
            "sourceIPAddress": "ec2.amazonaws.com", "userAgent": "ec2.amazonaws.com", "recipientAccountId": app,
            "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
            "requestParameters": {"roleArn": format!("arn:aws:iam::{app}:role/worker"), "roleSessionName": inst},
            "responseElements": {"credentials": {"accessKeyId": key, "expiration": "x"},
                "assumedRoleUser": {"assumedRoleId": format!("AROAEXAMPLEWORKER001:{inst}"),
                    "arn": format!("arn:aws:sts::{app}:assumed-role/worker/{inst}")}}
        }));
        records.push(serde_json::json!({
            "eventVersion": "1.08", "eventTime": t, "eventID": format!("00000000-0000-4000-8000-00000000020{i}"),
            "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "us-east-1",
            "sourceIPAddress": format!("10.20.1.{}", 10 + i), "userAgent": "Boto3/1.34.0 md/Botocore#1.34.0",
            "vpcEndpointId": "vpce-0centralnetwork01", "vpcEndpointAccountId": net,
            "recipientAccountId": app, "readOnly": true,
            "userIdentity": {"type": "AssumedRole", "principalId": format!("AROAEXAMPLEWORKER001:{inst}"),
                "arn": format!("arn:aws:sts::{app}:assumed-role/worker/{inst}"), "accountId": app, "accessKeyId": key,
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEWORKER001",
                    "arn": format!("arn:aws:iam::{app}:role/worker"), "accountId": app, "userName": "worker"},
                    "attributes": {"creationDate": t}, "ec2RoleDelivery": "2.0"}}
        }));
    }
    let write = |acct: &str, records: &[serde_json::Value]| {
        std::fs::create_dir_all(folder(acct)).unwrap();
        let name = format!("{acct}_CloudTrail_us-east-1_20261120T1400Z_CentralEndpoints.json");
        std::fs::write(folder(acct).join(name), serde_json::json!({ "Records": records }).to_string()).unwrap();
    };
    write(app, &records);
    if network_folder {
        write(
            net,
            &[serde_json::json!({
                "eventVersion": "1.08", "eventTime": "2026-11-20T10:00:00Z", "eventID": "00000000-0000-4000-8000-000000000301",
                "eventSource": "ec2.amazonaws.com", "eventName": "DescribeVpcEndpoints", "awsRegion": "us-east-1",
                "sourceIPAddress": "AWS Internal", "userAgent": "AWS Internal", "recipientAccountId": net, "readOnly": true,
                "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
            })],
        );
    }
}

#[test]
fn an_organization_account_left_unread_by_account_stays_the_organizations() {
    // `--account` is how the README says to scan one account of an organization trail: the network
    // account's folder is pruned, but the layout still names it, so its endpoints are no thief's.
    // The same for files named in CloudTrail's way in one flat folder: the name holds the account.
    for flat in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        org_trail_with_central_endpoints(dir.path(), true, flat);
        let root = path_str(dir.path());
        let r = scan(&[&root, "--format", "json", "-q", "--account", "111122223333"]);
        assert_eq!(r.summary["inputs_pruned"], 1, "flat {flat}: {}", r.stderr);
        let findings: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(findings, serde_json::json!([]), "flat {flat}: {}", r.stdout);
        // The same trail without the network account's file: nothing names it, and its endpoint on
        // one-key instances is a foreign one.
        let dir = tempfile::tempdir().unwrap();
        org_trail_with_central_endpoints(dir.path(), false, flat);
        let r = scan(&[&path_str(dir.path()), "--format", "json", "-q", "--account", "111122223333"]);
        let findings: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(findings.len(), 4, "flat {flat}: {}", r.stdout);
        assert!(findings.iter().all(|f| f["signals"][0] == "foreign_vpc_endpoint"), "flat {flat}: {}", r.stdout);
    }
}

#[test]
fn presigned_links_and_identity_checks_are_not_the_keys_theft() {
    // Customers opening the instance's presigned links and verifiers checking its identity were
    // reported on every key at high confidence (critical for the uploads): `respond` would have
    // revoked the role. Only the thief's key stays high.
    let r = scan(&[&path_str(&fixture("scenarios/redeemed")), "--format", "json", "-q"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let findings: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let seen: Vec<(&str, &str, &str)> = findings
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("");
            (s("access_key_id"), s("confidence"), f["signals"][0].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ASIAPORTALKEY0000000", "low", "redeemed_signature"),
            ("ASIAPORTALKEY0000001", "low", "redeemed_signature"),
            ("ASIAPORTALKEY0000002", "high", "outside_aws"),
            ("ASIAPORTALKEY0000003", "low", "redeemed_signature"),
        ],
        "{}",
        r.stdout
    );
    // EKS's checks, from AWS addresses of the region, are not reported at all.
    assert!(!r.stdout.contains("3.225.16.200"), "{}", r.stdout);
}

#[test]
fn a_key_used_after_its_instance_was_terminated_is_high() {
    // A scale-in's TerminateInstances names two instances; a thief goes on using one's last key from
    // an EC2 host of the same region, with the instance's own SDK. It was low: the instance seemed to
    // have moved there. The other instance's shutdown and a link it handed out stay out of it.
    let r = scan(&[&path_str(&fixture("scenarios/terminated")), "--format", "json", "-q"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let findings: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let seen: Vec<(&str, &str, bool)> = findings
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("");
            let late = f["signals"].as_array().is_some_and(|v| v.iter().any(|s| s == "used_after_termination"));
            (s("access_key_id"), s("confidence"), late)
        })
        .collect();
    assert_eq!(seen, [("ASIAWEBASGKEY000002", "high", true), ("ASIAWEBASGKEY001002", "low", false)], "{}", r.stdout);
}
