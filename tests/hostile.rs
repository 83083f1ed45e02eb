//! Hostile and odd inputs from the security review: decompression bombs, lying gzip trailers and zip
//! headers, concatenated gzip members, FIFOs and devices in a walked folder, impossible dates, global
//! events copied across region folders, and non-CloudTrail files beside the logs. Every bomb is built
//! here at run time, in milliseconds (see [`gzip_repeat`]). Peak memory is measured with wait4, which
//! is why this file needs Linux (the project's CI platform).
#![cfg(target_os = "linux")]

mod common;
/// Crafted Parquet files.
#[path = "hostile/parquet_files.rs"]
mod parquet_files;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// One CloudTrail event as a JSON line.
fn event(id: &str, time: &str, region: &str) -> String {
    serde_json::json!({
        "eventVersion": "1.08", "eventTime": time, "eventSource": "iam.amazonaws.com",
        "eventName": "ListRoles", "awsRegion": region, "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.13.5", "eventID": id, "readOnly": true, "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/bob",
            "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEKEY000001", "userName": "bob"}
    })
    .to_string()
}

fn uuid(i: u32) -> String {
    format!("{i:08x}-1111-4222-8333-444444444444")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Raw deflate blocks for `data`, ending on a full flush: byte-aligned and referring to nothing
/// before them, so copies of them can be concatenated into one valid stream.
fn deflate_blocks(data: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() + 1024);
    c.compress_vec(data, &mut out, flate2::FlushCompress::Full).unwrap();
    assert_eq!(c.total_in(), data.len() as u64);
    out
}

/// The deflate stream of `prefix` then `unit` repeated `times` times: a bomb of any size, built
/// without compressing it. Ends with an empty final block.
fn deflate_repeat(prefix: &[u8], unit: &[u8], times: usize) -> Vec<u8> {
    let block = deflate_blocks(unit);
    let mut out = deflate_blocks(prefix);
    for _ in 0..times {
        out.extend_from_slice(&block);
    }
    out.extend_from_slice(&[0x03, 0x00]);
    out
}

/// A gzip file of `prefix` + `unit` x `times`. Its trailer gives the true size (mod 2^32) and a
/// checksum that is not computed (a bomb's maker need not bother; a reader must stop long before).
fn gzip_repeat(prefix: &[u8], unit: &[u8], times: usize) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend(deflate_repeat(prefix, unit, times));
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&((prefix.len() + unit.len() * times) as u32).to_le_bytes());
    out
}

/// A zip archive with one deflated member whose headers claim `claimed` bytes, whatever it holds.
fn zip_with(name: &str, data: &[u8], claimed: u32) -> Vec<u8> {
    zip_sharing(name, data, claimed, 1)
}

/// A zip archive whose central directory names `members` members (`name`, `name.1`, ...), every one
/// pointing at the same deflated data: nothing in the format forbids it.
fn zip_sharing(name: &str, data: &[u8], claimed: u32, members: u16) -> Vec<u8> {
    let mut z = Vec::new();
    // Local file header: version, flags, method 8 (deflate), time, date, crc, sizes, name length.
    z.extend_from_slice(b"PK\x03\x04");
    for v in [20u16, 0, 8, 0, 0] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    for v in [0u32, data.len() as u32, claimed] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&(name.len() as u16).to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(name.as_bytes());
    z.extend_from_slice(data);
    let cd = z.len() as u32;
    for m in 0..members {
        let this = if m == 0 { name.to_owned() } else { format!("{name}.{m}") };
        z.extend_from_slice(b"PK\x01\x02");
        for v in [20u16, 20, 0, 8, 0, 0] {
            z.extend_from_slice(&v.to_le_bytes());
        }
        for v in [0u32, data.len() as u32, claimed] {
            z.extend_from_slice(&v.to_le_bytes());
        }
        for v in [this.len() as u16, 0, 0, 0, 0] {
            z.extend_from_slice(&v.to_le_bytes());
        }
        z.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        z.extend_from_slice(&0u32.to_le_bytes()); // local header offset
        z.extend_from_slice(this.as_bytes());
    }
    let cd_len = z.len() as u32 - cd;
    z.extend_from_slice(b"PK\x05\x06");
    for v in [0u16, 0, members, members] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&cd_len.to_le_bytes());
    z.extend_from_slice(&cd.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

struct Measured {
    code: i32,
    /// Peak resident memory of the scan, in MB.
    peak_mb: u64,
    secs: f64,
    summary: serde_json::Value,
    stderr: String,
}

/// Runs `trailhound scan ARGS -q --no-detect` and measures the child's own peak RSS (wait4), with a
/// deadline: a scan that blocks (on a FIFO, say) is killed and the test fails.
fn scan_measured(args: &[&str], deadline_secs: u64) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let summary_path = dir.path().join("summary.json");
    let stderr_path = dir.path().join("stderr");
    let started = std::time::Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .arg("scan")
        .args(args)
        .args(["-q", "--no-detect", "--summary"])
        .arg(&summary_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: plain syscall on our own child, with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4 failed");
        if started.elapsed().as_secs() > deadline_secs {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!("scan {args:?} still running after {deadline_secs} s: it blocked");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let summary = std::fs::read_to_string(&summary_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    Measured {
        code: if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 },
        peak_mb: usage.ru_maxrss as u64 / 1024,
        secs: started.elapsed().as_secs_f64(),
        summary,
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    }
}

/// Reasons of one summary list, by file name.
fn reasons(s: &serde_json::Value, list: &str) -> Vec<(String, String)> {
    s[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {s}"))
        .iter()
        .map(|k| {
            let name = k["input"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
            (name, k["reason"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// Memory a scan of small inputs needs anyway (the binary, the allocator's arenas, the pools).
const BASELINE_MB: u64 = 150;

#[test]
fn decompression_bomb_of_zeros_is_skipped_in_bounded_memory() {
    // 2 GiB of zeros in 2 MB of gzip, twice: before the fix, 4.7 GB per worker (8.4 GB for two).
    let dir = tempfile::tempdir().unwrap();
    let bomb = gzip_repeat(b"", &vec![0u8; 1 << 20], 2048);
    assert!(bomb.len() < 3 << 20);
    std::fs::write(dir.path().join("a.json.gz"), &bomb).unwrap();
    std::fs::write(dir.path().join("b.json.gz"), &bomb).unwrap();
    let m = scan_measured(&[&path_str(dir.path()), "-j", "2"], 120);
    let skipped = reasons(&m.summary, "inputs_skipped");
    assert_eq!(skipped.len(), 2, "{}", m.summary);
    assert!(skipped.iter().all(|(_, why)| why.contains("binary")), "{skipped:?}");
    assert_eq!(m.code, 3, "{}", m.stderr);
    assert!(m.peak_mb < BASELINE_MB, "peak {} MB for two 2 GiB bombs", m.peak_mb);
    // Nothing beyond the first look was inflated.
    assert!(m.summary["bytes_decompressed"].as_u64().unwrap() < 8 << 20, "{}", m.summary);
}

#[test]
fn decompression_bomb_of_json_stops_at_the_max_input_size_cap() {
    let dir = tempfile::tempdir().unwrap();
    // Valid JSON Lines, 2 GiB of them: the first 4 MiB are read, the input is partial and says why.
    let mut unit = String::new();
    while unit.len() < 64 << 10 {
        unit += &event(&uuid(7), "2026-11-01T10:00:00Z", "us-east-1");
        unit.push('\n');
    }
    let times = (2usize << 30) / unit.len();
    std::fs::write(dir.path().join("lines.json.gz"), gzip_repeat(b"", unit.as_bytes(), times)).unwrap();
    // An array of nothing but white space: no record before the cap, so skipped.
    std::fs::write(dir.path().join("spaces.json.gz"), gzip_repeat(b"[", &vec![b' '; 1 << 20], 2048)).unwrap();
    let m = scan_measured(&[&path_str(dir.path()), "--max-input-size", "4MiB"], 300);
    let partial = reasons(&m.summary, "inputs_partial");
    assert_eq!(partial.len(), 1, "{}", m.summary);
    assert!(partial[0].1.contains("--max-input-size cap of 4 MiB"), "{partial:?}");
    assert!(!partial[0].1.contains("JSON"), "the line cut at the cap is no JSON error: {partial:?}");
    let skipped = reasons(&m.summary, "inputs_skipped");
    assert_eq!(skipped.len(), 1, "{}", m.summary);
    assert!(skipped[0].1.contains("--max-input-size cap of 4 MiB"), "{skipped:?}");
    let read = m.summary["inputs_partial"][0]["records"].as_u64().unwrap();
    let line = unit.find('\n').unwrap() as u64 + 1;
    assert_eq!(read, (4 << 20) / line, "whole lines up to the cap");
    assert!(m.summary["bytes_decompressed"].as_u64().unwrap() <= 8 << 20, "{}", m.summary);
    assert_eq!(m.code, 3, "{}", m.stderr);
    assert!(m.peak_mb < BASELINE_MB, "peak {} MB", m.peak_mb);
}

#[test]
fn lying_gzip_trailers_allocate_nothing() {
    // 200 small gzip files whose trailer claims 1 GiB: before the fix, 1 GiB allocated each.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..200 {
        let mut g =
            gzip(format!("{{\"Records\":[{}]}}", event(&uuid(i), "2026-11-01T10:00:00Z", "us-east-1")).as_bytes());
        let at = g.len() - 4;
        g[at..].copy_from_slice(&(1u32 << 30).to_le_bytes());
        std::fs::write(dir.path().join(format!("{i:03}.json.gz")), g).unwrap();
    }
    let m = scan_measured(&[&path_str(dir.path())], 60);
    assert!(m.peak_mb < BASELINE_MB, "peak {} MB", m.peak_mb);
    assert!(m.secs < 10.0, "{} s", m.secs);
    // The records are read; the trailer's lie is named.
    assert_eq!(m.summary["records"], 200, "{}", m.summary);
    let partial = reasons(&m.summary, "inputs_partial");
    assert_eq!(partial.len(), 200);
    assert!(partial[0].1.contains("gzip"), "{partial:?}");
}

#[test]
fn zip_bombs_are_bounded_whatever_their_headers_claim() {
    // Members that inflate to 2 GiB of JSON white space or of zeros, with true sizes in their headers,
    // and one whose header claims 1,000 bytes.
    let dir = tempfile::tempdir().unwrap();
    let spaces = deflate_repeat(b"[", &vec![b' '; 1 << 20], 2048);
    std::fs::write(dir.path().join("spaces.zip"), zip_with("x.json", &spaces, (1 << 31) + 1)).unwrap();
    let zeros = deflate_repeat(b"", &vec![0u8; 1 << 20], 2048);
    std::fs::write(dir.path().join("zeros.zip"), zip_with("y.json", &zeros, 1 << 31)).unwrap();
    std::fs::write(dir.path().join("liar.zip"), zip_with("z.json", &spaces, 1000)).unwrap();
    let m = scan_measured(&[&path_str(dir.path()), "--max-input-size", "4MiB"], 300);
    assert!(m.peak_mb < BASELINE_MB, "peak {} MB", m.peak_mb);
    assert!(m.summary["bytes_decompressed"].as_u64().unwrap() <= 12 << 20, "{}", m.summary);
    assert_eq!(m.summary["inputs_read"], 0, "{}", m.summary);
    let skipped: std::collections::BTreeMap<String, String> =
        reasons(&m.summary, "inputs_skipped").into_iter().collect();
    assert_eq!(skipped.len(), 3, "{}", m.summary);
    assert!(skipped["zeros.zip"].contains("binary"), "{skipped:?}");
    assert!(skipped["spaces.zip"].contains("--max-input-size cap of 4 MiB"), "{skipped:?}");
    assert!(skipped["liar.zip"].contains("x.json") || skipped["liar.zip"].contains("z.json"), "{skipped:?}");
    assert_eq!(m.code, 3, "{}", m.stderr);
}

#[test]
fn zip_members_sharing_a_run_that_inflates_to_nothing_count_toward_the_cap() {
    // 2 million empty stored blocks (10 MB that inflate to nothing), then the last block, named by 400
    // members: 4 GB to inflate in all, though no member holds a byte, unless what a member consumes
    // counts toward the cap as what it holds does. The same run ending in a block of the reserved
    // type fails each member at its end, which costs as much.
    let run = [0u8, 0, 0, 0xff, 0xff].repeat(2_000_000);
    let empty = [&run[..], &[1, 0, 0, 0xff, 0xff]].concat();
    let broken = [&run[..], &[0x07]].concat();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shared.zip"), zip_sharing("x.json", &empty, 0, 400)).unwrap();
    std::fs::write(dir.path().join("broken.zip"), zip_sharing("y.json", &broken, 0, 400)).unwrap();
    let m = scan_measured(&[&path_str(dir.path()), "--max-input-size", "64MiB"], 300);
    let skipped = reasons(&m.summary, "inputs_skipped");
    assert_eq!(skipped.len(), 2, "{}", m.summary);
    for (input, why) in &skipped {
        // Six members cost 60 MB; the seventh reaches the cap and the rest are never opened.
        assert!(
            why.ends_with(
                "members from #7 on not read: the archive's members exceed the --max-input-size cap of 64 MiB"
            ),
            "{input}: {why}"
        );
        assert!(!why.contains(".json.7:"), "{input}: {why}");
    }
    assert_eq!(m.code, 3, "{}", m.stderr);
}

#[test]
fn an_archive_of_many_failing_members_is_named_in_a_few_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("many.zip"), zip_sharing("x.json", &[1, 0, 0, 0xff, 0xff], 0, 5000)).unwrap();
    let m = scan_measured(&[&path_str(dir.path())], 300);
    let skipped = reasons(&m.summary, "inputs_skipped");
    assert_eq!(skipped.len(), 1, "{}", m.summary);
    let why = &skipped[0].1;
    assert!(why.starts_with("zip member x.json: empty file; zip member x.json.1: empty file;"), "{why}");
    assert!(why.ends_with("; zip member x.json.15: empty file; 4984 more members not named here"), "{why}");
    assert_eq!(m.code, 3, "{}", m.stderr);
}

#[test]
fn concatenated_gzip_members_are_all_read() {
    let dir = tempfile::tempdir().unwrap();
    let doc = |ids: std::ops::Range<u32>| {
        let evs: Vec<String> = ids.map(|i| event(&uuid(i), "2026-11-01T10:00:00Z", "us-east-1")).collect();
        format!("{{\"Records\":[{}]}}", evs.join(","))
    };
    // `cat a.json.gz b.json.gz c.json.gz`: three CloudTrail files in one.
    let mut cat = gzip(doc(0..5).as_bytes());
    cat.extend(gzip(doc(5..12).as_bytes()));
    cat.extend(gzip(doc(12..13).as_bytes()));
    let f = dir.path().join("cat.json.gz");
    std::fs::write(&f, &cat).unwrap();
    let r = scan(&[&path_str(&f), "-q", "--no-detect"]);
    assert_eq!(r.summary["records"], 13, "{}", r.summary);
    assert_eq!(r.summary["inputs_read"], 1, "{}", r.summary);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // One document split across members (block-gzip tools do that) reads the same.
    let text = doc(20..30);
    let (a, b) = text.split_at(text.len() / 2);
    let mut split = gzip(a.as_bytes());
    split.extend(gzip(b.as_bytes()));
    std::fs::write(&f, &split).unwrap();
    let r = scan(&[&path_str(&f), "-q", "--no-detect"]);
    assert_eq!(r.summary["records"], 10, "{}", r.summary);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn fifos_sockets_and_devices_are_accounted_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.json"), event(&uuid(1), "2026-11-01T10:00:00Z", "us-east-1")).unwrap();
    let fifo = std::ffi::CString::new(dir.path().join("pipe.json").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let _sock = std::os::unix::net::UnixListener::bind(dir.path().join("sock.json")).unwrap();
    std::os::unix::fs::symlink("/dev/null", dir.path().join("null.json")).unwrap();
    // Nobody ever writes to the FIFO: opening it for reading would block forever.
    let m = scan_measured(&[&path_str(dir.path())], 60);
    let skipped: std::collections::BTreeMap<String, String> =
        reasons(&m.summary, "inputs_skipped").into_iter().collect();
    assert!(skipped["pipe.json"].contains("FIFO"), "{skipped:?}");
    assert!(skipped["sock.json"].contains("socket"), "{skipped:?}");
    assert!(skipped["null.json"].contains("device"), "{skipped:?}");
    assert_eq!(m.summary["inputs_read"], 1);
    assert_eq!(m.summary["inputs_total"], 4);
    assert_eq!(m.code, 3, "{}", m.stderr);
    // Named on the command line, a FIFO is refused the same way.
    let m = scan_measured(&[&path_str(&dir.path().join("pipe.json"))], 60);
    assert!(reasons(&m.summary, "inputs_skipped")[0].1.contains("FIFO"), "{}", m.summary);
}

#[test]
fn impossible_date_is_no_time_and_named_in_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("feb31.jsonl");
    let events = [
        event(&uuid(1), "2026-02-31T00:00:00Z", "us-east-1"),
        event(&uuid(2), "2026-02-28T00:00:00Z", "us-east-1"),
        event(&uuid(3), "2026-04-31T12:00:00.000Z", "us-east-1"),
    ];
    std::fs::write(&f, events.join("\n")).unwrap();
    let r = scan(&[&path_str(&f), "--dump-events"]);
    assert_eq!(r.summary["records"], 3, "{}", r.summary);
    assert_eq!(r.summary["records_without_time"], 2, "{}", r.summary);
    let w = &r.summary["warnings"][0];
    assert!(w["input"].as_str().unwrap().ends_with("feb31.jsonl"), "{}", r.summary);
    assert!(w["warning"].as_str().unwrap().contains("2 records with an invalid time"), "{w}");
    assert!(w["warning"].as_str().unwrap().contains("2026-02-31T00:00:00Z"), "{w}");
    let times: Vec<serde_json::Value> = lines(&r.stdout).iter().map(|e| e["event_time"].clone()).collect();
    assert!(!times.iter().any(|t| t.as_str().is_some_and(|t| t.starts_with("2026-03"))), "{times:?}");
}

/// Writes `events` as a CloudTrail file at its S3 layout path under `root`.
fn layout_file(root: &Path, prefix: &str, region: &str, stamp: &str, events: &[String]) {
    let (y, m, d) = (&stamp[0..4], &stamp[4..6], &stamp[6..8]);
    let dir = root.join(format!("{prefix}111122223333/CloudTrail/{region}/{y}/{m}/{d}"));
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("111122223333_CloudTrail_{region}_{stamp}_AbCdEf0123456789.json.gz");
    let body = format!("{{\"Records\":[{}]}}", events.join(","));
    std::fs::write(dir.join(name), gzip(body.as_bytes())).unwrap();
}

#[test]
fn global_event_copies_in_other_region_folders_are_deduplicated_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("AWSLogs");
    let global = event(&uuid(1), "2026-11-01T10:00:00Z", "us-east-1");
    let busy: Vec<String> = (100..400).map(|i| event(&uuid(i), "2026-11-01T10:30:00Z", "eu-west-1")).collect();
    layout_file(&root, "", "us-east-1", "20261101T1005Z", std::slice::from_ref(&global));
    // The same global event in eu-west-1's folder, delivered the next day after a day of traffic.
    layout_file(&root, "", "eu-west-1", "20261101T1035Z", &busy);
    layout_file(
        &root,
        "",
        "eu-west-1",
        "20261102T1200Z",
        &[global.clone(), event(&uuid(2), "2026-11-02T11:58:00Z", "eu-west-1")],
    );
    // An organization trail beside the account trail: the same file under AWSLogs/o-.../, days later.
    layout_file(&root, "o-abc123/", "eu-west-1", "20261105T0000Z", &busy);
    let r = scan(&[&path_str(dir.path()), "-q", "--no-detect"]);
    assert_eq!(r.summary["records"], 302, "{}", r.summary);
    assert_eq!(r.summary["duplicates"], 301, "{}", r.summary);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn non_cloudtrail_files_are_ignored_and_broken_cloudtrail_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("good.json"), event(&uuid(1), "2026-11-01T10:00:00Z", "us-east-1")).unwrap();
    std::fs::write(p.join("README.md"), "# Lab trail\n\nTwo days of logs.\n").unwrap();
    std::fs::write(p.join("LICENSE"), "MIT License\n\nCopyright (c) 2026\n").unwrap();
    std::fs::write(p.join("truth.json"), r#"{"scenarios":[{"name":"theft","keys":["ASIA..."]}]}"#).unwrap();
    std::fs::write(p.join("truth.json.gz"), gzip(br#"[{"label":1},{"label":2}]"#)).unwrap();
    let r = scan(&[&path_str(p), "-q", "--no-detect"]);
    let ignored = reasons(&r.summary, "inputs_ignored");
    let names: Vec<&str> = ignored.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["LICENSE", "README.md", "truth.json", "truth.json.gz"], "{}", r.summary);
    assert!(ignored.iter().all(|(_, why)| why.contains("not CloudTrail")), "{ignored:?}");
    assert_eq!(r.code, 0, "ignored files leave the run complete: {}", r.stderr);
    assert_eq!(r.summary["inputs_total"], 5);

    // What claims to be CloudTrail and fails stays skipped or partial.
    let full = gzip(format!("{{\"Records\":[{}]}}", event(&uuid(2), "2026-11-01T10:00:00Z", "us-east-1")).as_bytes());
    std::fs::write(p.join("truncated.json.gz"), &full[..full.len() / 2]).unwrap();
    std::fs::write(p.join("garbage.json.gz"), gzip(&(0..4096u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>()))
        .unwrap();
    std::fs::write(
        p.join("mid.jsonl"),
        format!("{}\n{{\"eventName\": broken\n", event(&uuid(3), "2026-11-01T10:00:00Z", "us-east-1")),
    )
    .unwrap();
    std::fs::write(p.join("notjson.json"), "{\"a\": 1} trailing words\n").unwrap();
    std::fs::write(p.join("trail.json.bz2"), b"BZh91AY&SY\x00\x01\x02").unwrap();
    std::fs::write(p.join("notes.txt.gz"), gzip(b"exported by bob\n")).unwrap();
    let r = scan(&[&path_str(p), "-q", "--no-detect"]);
    let skipped: Vec<String> = reasons(&r.summary, "inputs_skipped").into_iter().map(|(n, _)| n).collect();
    let partial: Vec<String> = reasons(&r.summary, "inputs_partial").into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        skipped,
        ["garbage.json.gz", "notes.txt.gz", "notjson.json", "trail.json.bz2", "truncated.json.gz"],
        "{}",
        r.summary
    );
    assert_eq!(partial, ["mid.jsonl"], "{}", r.summary);
    assert_eq!(reasons(&r.summary, "inputs_ignored").len(), 4);
    assert_eq!(r.code, 3, "{}", r.stderr);
}

#[test]
fn plain_input_longer_than_the_cap_is_partial() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big.jsonl");
    let lines: Vec<String> = (0..100).map(|i| event(&uuid(i), "2026-11-01T10:00:00Z", "us-east-1")).collect();
    std::fs::write(&f, lines.join("\n")).unwrap();
    let r = scan(&[&path_str(&f), "-q", "--no-detect", "--max-input-size", "10KB"]);
    let partial = reasons(&r.summary, "inputs_partial");
    assert!(partial[0].1.contains("--max-input-size cap of 10000 bytes"), "{partial:?}");
    assert!(r.summary["records"].as_u64().unwrap() < 100);
    assert_eq!(r.code, 3);
    for bad in ["0", "lots", "5 parsecs"] {
        let r = scan(&[&path_str(&f), "-q", "--max-input-size", bad]);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("--max-input-size"), "{}", r.stderr);
    }
}
