//! `trailhound export`: Parquet read by DuckDB and by the parquet crate, read back by `scan`, the same
//! bytes whatever the thread count; findings as OCSF (validated by py-ocsf-models) and ASFF.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Python with duckdb, py_ocsf_models: see `common::test_python`.
fn python() -> PathBuf {
    test_python("duckdb, py_ocsf_models")
}

fn trailhound(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_trailhound")).args(args).output().expect("run trailhound");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary: serde_json::Value::Null,
    }
}

/// `trailhound export INPUTS --to DIR -q --summary S`; returns the run with its summary.
fn export(inputs: &[String], to: &Path, extra: &[&str]) -> Run {
    let summary = to.with_extension("summary.json");
    let mut args: Vec<&str> = vec!["export"];
    args.extend(inputs.iter().map(String::as_str));
    let to_s = path_str(to);
    let sum_s = path_str(&summary);
    args.extend(["--to", &to_s, "-q", "--summary", &sum_s]);
    args.extend(extra);
    let mut r = trailhound(&args);
    r.summary = std::fs::read_to_string(&summary).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    r
}

/// Every row of an export as DuckDB reads it.
fn duckdb_rows(dir: &Path) -> Vec<serde_json::Value> {
    let out =
        Command::new(python()).arg(root().join("tests/export/duckdb_rows.py")).arg(dir).output().expect("run python");
    assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
    lines(&String::from_utf8_lossy(&out.stdout))
}

/// A DuckDB row in `--dump-events` form (times formatted as trailhound does, nulls left out), with
/// the partition columns checked against the row's own values.
fn dump_form(row: &serde_json::Value) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    let obj = row.as_object().expect("row object");
    let part = |k: &str| obj[k].as_str().unwrap_or_default().to_owned();
    let default = "__HIVE_DEFAULT_PARTITION__";
    let account = obj.get("account_id").and_then(|v| v.as_str()).unwrap_or(default);
    assert_eq!(part("account"), account, "account partition of {row}");
    let region = obj.get("aws_region").and_then(|v| v.as_str()).unwrap_or(default);
    assert_eq!(part("region"), region, "region partition of {row}");
    if let Some(t) = obj["event_time_ms"].as_i64() {
        m.insert("event_time".into(), trailhound::time::format_ms(t).into());
        assert_eq!(part("date"), trailhound::time::format_ms(t)[..10], "date partition of {row}");
    } else {
        assert_eq!(part("date"), default);
    }
    for &f in trailhound::event::Field::ALL {
        let column = trailhound::export::schema::column_name(f);
        if let Some(v) = obj.get(column).and_then(|v| v.as_str()) {
            m.insert(f.name().into(), v.into());
        }
    }
    if let Some(t) = obj["session_issued_ms"].as_i64() {
        m.insert("session_issued_at".into(), trailhound::time::format_ms(t).into());
    }
    if let Some(b) = obj["read_only"].as_bool() {
        m.insert("read_only".into(), b.into());
    }
    if let Some(list) = obj["resources"].as_array() {
        // Empty strings are nulls in the export; the dump writes a resource's empty parts as "".
        let list: Vec<serde_json::Value> = list
            .iter()
            .map(|r| {
                let mut r = r.clone();
                for k in ["arn", "type", "account_id"] {
                    if r[k].is_null() {
                        r[k] = "".into();
                    }
                }
                r
            })
            .collect();
        m.insert("resources".into(), list.into());
    }
    m.into()
}

fn canonical(mut v: Vec<serde_json::Value>) -> Vec<String> {
    let mut out: Vec<String> = v.drain(..).map(|x| serde_json::to_string(&x).unwrap()).collect();
    out.sort();
    out
}

/// The inputs every acceptance check runs on: the committed corpora, the scenarios, and the shared
/// corpora when present (required under CI=true).
fn corpora() -> Vec<String> {
    let mut v = vec![
        path_str(&fixture("corpora")),
        path_str(&fixture("scenarios/chain")),
        path_str(&fixture("scenarios/redeemed")),
        path_str(&fixture("scenarios/terminated")),
    ];
    for name in
        ["invictus-ir-aws-dataset", "otrf-security-datasets", "stratus-red-team-detonation-logs", "traildiscover"]
    {
        if let Some(d) = shared_corpus(name) {
            v.push(path_str(&d));
        }
    }
    v
}

#[test]
fn duckdb_reads_every_event_of_the_corpora_with_equal_values() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("export");
    let inputs = corpora();
    let r = export(&inputs, &out, &[]);
    assert!(r.code == 0 || r.code == 3, "export failed: {}", r.stderr);
    let mut dump_args: Vec<&str> = inputs.iter().map(String::as_str).collect();
    dump_args.extend(["--dump-events", "-q"]);
    let dump = scan(&dump_args);
    let expected = lines(&dump.stdout);
    let records = r.summary["records"].as_u64().expect("records in the summary");
    assert_eq!(records, expected.len() as u64);
    assert_eq!(r.summary["export"]["rows"].as_u64(), Some(records));

    let rows = duckdb_rows(&out);
    assert_eq!(rows.len() as u64, records, "DuckDB row count");
    // The dump leaves out request parameters and response elements (only reports keep them).
    let got: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let mut v = dump_form(row);
            let m = v.as_object_mut().unwrap();
            m.shift_remove("request_parameters");
            m.shift_remove("response_elements");
            v
        })
        .collect();
    let (got, expected) = (canonical(got), canonical(expected));
    let only_got: Vec<&String> = got.iter().filter(|g| !expected.contains(g)).take(3).collect();
    let only_expected: Vec<&String> = expected.iter().filter(|e| !got.contains(e)).take(3).collect();
    assert!(got == expected, "exported but not dumped: {only_got:#?}\ndumped but not exported: {only_expected:#?}");

    // Request parameters and response elements are there, as JSON, with their secrets redacted.
    let with_request = rows.iter().filter(|r| r["request_parameters"].is_string()).count();
    assert!(with_request * 2 > rows.len(), "{with_request} of {} rows have request parameters", rows.len());
    let minted: Vec<&serde_json::Value> = rows.iter().filter(|r| r["minted_access_key_id"].is_string()).collect();
    assert!(!minted.is_empty());
    for row in minted {
        let resp = row["response_elements"].as_str().expect("response of a minting call");
        let v: serde_json::Value = serde_json::from_str(resp).expect("response elements are JSON");
        let token = &v["credentials"]["sessionToken"];
        assert!(token.is_null() || token == "(redacted by trailhound)", "session token kept: {resp}");
    }
}

#[test]
fn scan_over_the_export_finds_what_scan_over_the_logs_finds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("export");
    let inputs = corpora();
    let r = export(&inputs, &out, &[]);
    assert!(r.code == 0 || r.code == 3, "{}", r.stderr);
    let mut a: Vec<&str> = inputs.iter().map(String::as_str).collect();
    a.extend(["-q", "--format", "json"]);
    let original = scan(&a);
    let back = scan(&[&path_str(&out), "-q", "--format", "json"]);
    let f1: serde_json::Value = serde_json::from_str(&original.stdout).unwrap();
    let f2: serde_json::Value = serde_json::from_str(&back.stdout).unwrap();
    assert!(f1.as_array().is_some_and(|f| f.len() >= 3), "{}", original.stdout);
    assert_eq!(f2, f1, "findings differ between the export and the logs");
    assert_eq!(back.code, 1, "{}", back.stderr);
    assert_eq!(back.summary["records"], original.summary["records"]);
    assert_eq!(
        back.summary["formats"]["parquet"].as_u64(),
        Some(r.summary["export"]["files"].as_array().unwrap().len() as u64)
    );
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            m.insert(rel, std::fs::read(e.path()).unwrap());
        }
    }
    m
}

#[test]
fn export_is_byte_identical_whatever_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = corpora();
    let (a, b) = (tmp.path().join("j1"), tmp.path().join("j4"));
    // Few open files force early finishes and several files per partition: still deterministic.
    assert!(export(&inputs, &a, &["-j", "1", "--max-open-files", "3"]).code <= 3);
    assert!(export(&inputs, &b, &["-j", "4", "--max-open-files", "3"]).code <= 3);
    let (fa, fb) = (files(&a), files(&b));
    assert!(fa.len() > 3, "{:?}", fa.keys());
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (k, v) in &fa {
        assert!(v == &fb[k], "{k} differs between -j 1 and -j 4");
        assert!(k.ends_with(".parquet") && !k.contains("/."), "unexpected file {k}");
    }
}

#[test]
fn parquet_crate_reads_back_zstd_dictionary_encoded_columns() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("export");
    let r = export(&[path_str(&fixture("corpora"))], &out, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut rows = 0i64;
    for (rel, _) in files(&out) {
        let reader = SerializedFileReader::new(std::fs::File::open(out.join(&rel)).unwrap()).unwrap();
        let meta = reader.metadata();
        let schema = meta.file_metadata().schema_descr();
        rows += meta.file_metadata().num_rows();
        for rg in meta.row_groups() {
            for (i, col) in rg.columns().iter().enumerate() {
                assert_eq!(col.compression(), parquet::basic::Compression::ZSTD(Default::default()), "{rel}");
                let name = schema.column(i).path().string();
                if name == "event_name" {
                    let encodings = format!("{:?}", col.encodings().collect::<Vec<_>>());
                    assert!(encodings.contains("RLE_DICTIONARY"), "{rel} {name}: {encodings}");
                    assert!(col.dictionary_page_offset().is_some(), "{rel} {name}");
                }
            }
        }
        let batches = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(out.join(&rel)).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        let n: usize = batches.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(n as i64, meta.file_metadata().num_rows());
    }
    assert_eq!(Some(rows as u64), r.summary["records"].as_u64());
}

fn event(account: &str, region: &str, id: &str) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.08", "eventTime": "2026-03-01T10:00:00Z", "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject", "awsRegion": region, "recipientAccountId": account, "eventID": id,
        "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "AssumedRole", "accessKeyId": "ASIAEXAMPLE000000001", "accountId": account},
        "resources": [{"ARN": "arn:aws:s3:::b/k", "type": "AWS::S3::Object", "accountId": account}]
    })
}

/// Exports `records` (one input file in `dir`) into `dir/export`: the folder and its file names.
fn export_records(dir: &Path, records: &[serde_json::Value]) -> (PathBuf, Vec<String>) {
    let input = dir.join("in.json");
    std::fs::write(&input, serde_json::json!({ "Records": records }).to_string()).unwrap();
    let out = dir.join("export");
    let r = export(&[path_str(&input)], &out, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names: Vec<String> = files(&out).into_keys().collect();
    (out, names)
}

/// Events that cycle through more partitions than files may be open (a CloudTrail Lake or
/// lookup-events dump mixing accounts) wait in their partition's rows: one file per partition, not one
/// per event, and every event is in the export.
#[test]
fn events_cycling_through_more_partitions_than_open_files_write_one_file_per_partition() {
    let tmp = tempfile::tempdir().unwrap();
    // `events` events cycling through `accounts` accounts, exported with 8 files open at most.
    let cycle = |accounts: u64, events: u64, tag: &str| {
        let input = tmp.path().join(format!("{tag}.json"));
        let records: Vec<serde_json::Value> = (0..events)
            .map(|i| event(&format!("{:012}", 100_000_000_000 + i % accounts), "us-east-1", &format!("{tag}{i}")))
            .collect();
        std::fs::write(&input, serde_json::json!({ "Records": records }).to_string()).unwrap();
        let out = tmp.path().join(tag);
        let r = export(&[path_str(&input)], &out, &["--max-open-files", "8"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        files(&out)
    };
    let written = cycle(40, 4000, "e");
    assert_eq!(written.len(), 40, "{:?}", written.keys());
    assert!(written.keys().all(|n| n.ends_with("/part-00000.parquet")), "{:?}", written.keys());
    let rows: i64 = written
        .into_values()
        .map(|b| {
            use parquet::file::reader::{FileReader, SerializedFileReader};
            SerializedFileReader::new(bytes::Bytes::from(b)).unwrap().metadata().file_metadata().num_rows()
        })
        .sum();
    assert_eq!(rows, 4000);
    // More partitions than any count limit would hold (4,500, each named twice, far apart): still one
    // file each, since only bytes bound what is gathered.
    assert_eq!(cycle(4500, 9000, "f").len(), 4500);
}

#[test]
fn hostile_partition_values_stay_inside_the_target_and_zeros_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let records = vec![
        event("012345678901", "us-east-1", "00000000-0000-0000-0000-000000000001"),
        event("../../escape", "eu-west-1/../../x", "00000000-0000-0000-0000-000000000002"),
        event("", "\u{1b}[31mred", "00000000-0000-0000-0000-000000000003"),
    ];
    let (out, names) = export_records(tmp.path(), &records);
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"account=012345678901/region=us-east-1/date=2026-03-01/part-00000.parquet".to_owned()));
    assert!(
        names.iter().any(|n| n.starts_with("account=__HIVE_DEFAULT_PARTITION__/region=%1B%5B31mred/")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("account=%2E%2E%2F%2E%2E%2Fescape/region=eu-west-1%2F")), "{names:?}");
    assert!(!tmp.path().join("escape").exists() && !tmp.path().join("x").exists());
    let rows = duckdb_rows(&out);
    let zero = rows.iter().find(|r| r["account_id"] == "012345678901").expect("the zero-led account");
    assert_eq!(zero["account"], "012345678901");
    assert_eq!(zero["resources"][0]["type"], "AWS::S3::Object");
}

#[test]
fn partitions_whose_long_values_share_a_folder_do_not_overwrite_each_other() {
    // Folder names keep 64 bytes of a value: two forged accounts alike for their first 64 bytes land
    // in one folder, and both partitions' first file was part-00000, so the second replaced the first.
    let tmp = tempfile::tempdir().unwrap();
    let long = "7".repeat(70);
    let records = vec![
        event(&format!("{long}1"), "us-east-1", "00000000-0000-0000-0000-000000000011"),
        event(&format!("{long}2"), "us-east-1", "00000000-0000-0000-0000-000000000012"),
        event("", "us-east-1", "00000000-0000-0000-0000-000000000013"),
        event("__HIVE_DEFAULT_PARTITION__", "us-east-1", "00000000-0000-0000-0000-000000000014"),
    ];
    let (out, names) = export_records(tmp.path(), &records);
    assert_eq!(names.len(), 4, "{names:?}");
    let mut ids: Vec<String> = duckdb_rows(&out).iter().map(|r| r["event_id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "every event is in the export: {ids:?}");
}

#[test]
fn a_folder_that_is_not_empty_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("old.parquet"), b"x").unwrap();
    let r = export(&[path_str(&fixture("corpora"))], tmp.path(), &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not empty"), "{}", r.stderr);
}

#[test]
fn an_unfinished_export_leaves_only_temporary_names() {
    use trailhound::event::Batch;
    use trailhound::export::{ExportOptions, Exporter, dest};
    use trailhound::scan::EventSink;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("export");
    let d = dest::Dest::new(dest::Target::Dir(out.clone()), None).unwrap();
    let mut ex = Exporter::new(d, ExportOptions::default());
    let mut batch = Batch::default();
    let filter = trailhound::decode::normalize::Filter::default();
    // A batch of rows for each of two partitions: both files are opened and written to.
    let records: Vec<serde_json::Value> = (0..4096)
        .flat_map(|i| {
            [event("111122223333", "us-east-1", &format!("a{i}")), event("111122223333", "us-west-2", &format!("b{i}"))]
        })
        .collect();
    let text = serde_json::json!({ "Records": records }).to_string();
    trailhound::decode::Decoder::new().decode(text.as_bytes(), &mut |rec| {
        trailhound::decode::normalize::normalize(rec, &filter, &mut batch);
    });
    for ev in batch.iter() {
        ex.observe(&ev);
    }
    let during: Vec<String> = files(&out).into_keys().collect();
    assert_eq!(during.len(), 2, "{during:?}");
    assert!(
        during.iter().all(|n| n.rsplit('/').next().unwrap().starts_with(".part-") && n.ends_with(".tmp")),
        "{during:?}"
    );
    // Dropped without finish (an error or a stop): nothing under a final name, no temporary left.
    drop(ex);
    assert!(files(&out).is_empty(), "{:?}", files(&out).keys());
}

#[test]
fn temporary_file_of_an_interrupted_export_is_reported_by_scan_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("export");
    assert_eq!(export(&[path_str(&fixture("corpora"))], &out, &[]).code, 0);
    let (rel, bytes) = files(&out).into_iter().next().unwrap();
    let cut = out.join(rel).with_file_name(".part-00009.parquet.tmp");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let r = scan(&[&path_str(&out), "-q", "--format", "json"]);
    assert_eq!(r.code, 4, "findings, and one input skipped: {}", r.stderr);
    let skipped = r.summary["inputs_skipped"].to_string();
    assert!(
        skipped.contains(".part-00009.parquet.tmp") && skipped.contains("not a complete Parquet file"),
        "{skipped}"
    );
}

fn scenario_findings(format: &str) -> String {
    let r = scan(&[&path_str(&fixture("corpora")), &path_str(&fixture("scenarios/chain")), "-q", "--format", format]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.stdout
}

#[test]
fn ocsf_findings_validate_against_py_ocsf_models() {
    use std::io::Write;
    let text = scenario_findings("ocsf");
    let docs = lines(&text);
    assert!(docs.len() >= 3);
    for d in &docs {
        assert_eq!(d["class_uid"], 2004);
        assert!(d["finding_info"]["uid"].as_str().is_some_and(|u| u.starts_with("trailhound/")));
        assert!(d["evidences"].as_array().is_some_and(|e| !e.is_empty()), "{d}");
        assert!(d["confidence_id"].as_u64().is_some_and(|c| (1..=3).contains(&c)), "{d}");
        assert!(d["remediation"]["desc"].as_str().is_some_and(|s| s.contains("revoke")), "{d}");
    }
    let mut child = Command::new(python())
        .arg(root().join("tests/export/validate_ocsf.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let msg = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "OCSF validation failed:\n{msg}");
    assert!(msg.contains(&format!("{} findings checked, 0 problems", docs.len())), "{msg}");
}

#[test]
fn ocsf_validator_rejects_an_unknown_attribute() {
    // The validator itself must be able to fail: an attribute OCSF does not define is a problem.
    use std::io::Write;
    let mut doc = lines(&scenario_findings("ocsf")).remove(0);
    doc["finding_info"]["not_an_ocsf_attribute"] = 1.into();
    let mut child = Command::new(python())
        .arg(root().join("tests/export/validate_ocsf.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{doc}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("finding_info.not_an_ocsf_attribute"));
}

#[test]
fn asff_findings_have_every_required_field() {
    let text = scenario_findings("asff");
    let docs: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(docs.len() >= 3);
    let json = scenario_findings("json");
    let findings: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(docs.len(), findings.len());
    for (d, f) in docs.iter().zip(&findings) {
        assert_eq!(trailhound::report::asff::missing_fields(d), Vec::<&str>::new(), "{d}");
        assert_eq!(d["SchemaVersion"], "2018-10-08");
        assert_eq!(d["AwsAccountId"], f["account_id"]);
        let arn = d["ProductArn"].as_str().unwrap();
        assert_eq!(
            arn,
            format!("arn:aws:securityhub:us-east-1:{0}:product/{0}/default", f["account_id"].as_str().unwrap())
        );
        assert!(["CRITICAL", "HIGH", "MEDIUM", "LOW"].contains(&d["Severity"]["Label"].as_str().unwrap()), "{d}");
        assert!(d["Types"].as_array().unwrap().iter().all(|t| t.as_str().unwrap().split('/').count() >= 2));
        assert!(
            d["Resources"]
                .as_array()
                .is_some_and(|r| !r.is_empty() && r.iter().all(|x| x["Type"].is_string() && x["Id"].is_string()))
        );
        assert!(d["Description"].as_str().unwrap().chars().count() <= 1024);
        for t in ["CreatedAt", "UpdatedAt"] {
            assert!(trailhound::time::parse_ms(d[t].as_str().unwrap()).is_some(), "{t} of {d}");
        }
        assert_eq!(d["CreatedAt"], f["first_seen"]);
    }
}

#[test]
fn athena_ddl_declares_the_export_columns_in_order() {
    let ddl = std::fs::read_to_string(root().join("queries/create_table_export.sql")).unwrap();
    let body = &ddl[ddl.find("CREATE EXTERNAL TABLE").unwrap()..];
    let cols = &body[body.find('(').unwrap() + 1..body.find("\n)").unwrap()];
    let names: Vec<&str> = cols.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(names, trailhound::export::schema::columns());
    for p in ["account", "region", "date"] {
        assert!(!names.contains(&p), "partition column {p} clashes with a data column");
        assert!(ddl.contains(&format!("{p}=${{{p}}}")), "{p} missing from the location template");
    }
}

#[test]
fn partition_values_are_escaped_and_dates_are_utc_days() {
    use trailhound::export::partition::{DEFAULT_PARTITION, date, folder, value};
    assert_eq!(value("012345678901"), "012345678901");
    assert_eq!(value(".."), "%2E%2E");
    assert_eq!(value("a/../b"), "a%2F%2E%2E%2Fb");
    assert_eq!(value(""), DEFAULT_PARTITION);
    assert!(value(&"9".repeat(500)).len() <= 64);
    assert_eq!(date(Some(1_700_000_000_000)), "2023-11-14");
    assert_eq!(date(Some(-1)), "1969-12-31");
    assert_eq!(date(None), DEFAULT_PARTITION);
    assert_eq!(folder("1", "eu-west-1", Some(0)), "account=1/region=eu-west-1/date=1970-01-01");
}

#[test]
fn export_targets_parse() {
    use trailhound::export::dest::Target;
    assert_eq!(Target::parse("s3://b/p/q/").unwrap(), Target::S3 { bucket: "b".into(), prefix: "p/q".into() });
    assert_eq!(Target::parse("s3://b").unwrap(), Target::S3 { bucket: "b".into(), prefix: String::new() });
    assert!(Target::parse("s3:///x").is_err());
    assert_eq!(Target::parse("out").unwrap(), Target::Dir("out".into()));
    assert_eq!(Target::parse("s3://b/p").unwrap().display("account=1/x.parquet"), "s3://b/p/account=1/x.parquet");
}
