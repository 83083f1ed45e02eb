//! A minimal S3-compatible endpoint for `benches/s3.sh`: serves a folder as one bucket (ListObjectsV2
//! with prefix, delimiter and continuation; GetObject), adding a fixed latency to every request to stand
//! in for the round trip to S3. Also slows an S3 scan down enough for the Ctrl-C test (tests/aws_s3.rs).
//! Not for production: no auth, no writes.
//!
//! Usage: s3_endpoint DIR BUCKET PORT LATENCY_MS   (S3_ENDPOINT_LOG=1 prints `GET key` per object served)

use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn list(keys: &BTreeMap<String, u64>, bucket: &str, q: &BTreeMap<String, String>) -> String {
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let delim = q.get("delimiter").cloned().unwrap_or_default();
    let start = q.get("continuation-token").or(q.get("start-after")).cloned().unwrap_or_default();
    let (mut contents, mut prefixes): (Vec<(&String, u64)>, Vec<String>) = (Vec::new(), Vec::new());
    // Each page starts where the last ended instead of skipping the keys before it one by one.
    let from =
        if start > prefix { std::ops::Bound::Excluded(start) } else { std::ops::Bound::Included(prefix.clone()) };
    for (k, &size) in keys.range((from, std::ops::Bound::Unbounded)) {
        if !k.starts_with(&prefix) {
            break;
        }
        let rest = &k[prefix.len()..];
        if !delim.is_empty() {
            if let Some(pos) = rest.find(&delim) {
                let p = format!("{prefix}{}{delim}", &rest[..pos]);
                if prefixes.last() != Some(&p) {
                    prefixes.push(p);
                }
                continue;
            }
        }
        contents.push((k, size));
        if contents.len() >= 1000 {
            break;
        }
    }
    let truncated = contents.len() >= 1000;
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>{bucket}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        xml(&prefix),
        contents.len() + prefixes.len()
    );
    if truncated {
        s += &format!("<NextContinuationToken>{}</NextContinuationToken>", xml(contents[contents.len() - 1].0));
    }
    for (k, size) in &contents {
        s += &format!(
            "<Contents><Key>{}</Key><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            xml(k)
        );
    }
    for p in &prefixes {
        s += &format!("<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>", xml(p));
    }
    s + "</ListBucketResult>"
}

async fn serve(
    mut sock: tokio::net::TcpStream,
    root: Arc<std::path::PathBuf>,
    bucket: Arc<String>,
    keys: Arc<BTreeMap<String, u64>>,
    latency: u64,
    log: bool,
) {
    let mut buf = Vec::with_capacity(8192);
    loop {
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let mut chunk = [0u8; 8192];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let q: BTreeMap<String, String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                let dec = |s: &str| {
                    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
                };
                (dec(k), dec(v))
            })
            .collect();
        let path = percent_encoding::percent_decode_str(path.trim_start_matches('/')).decode_utf8_lossy().into_owned();
        let (b, key) = path.split_once('/').unwrap_or((&path, ""));
        let (status, ctype, body) = if b != bucket.as_str() {
            ("404 Not Found", "application/xml", b"<Error><Code>NoSuchBucket</Code></Error>".to_vec())
        } else if key.is_empty() {
            ("200 OK", "application/xml", list(&keys, &bucket, &q).into_bytes())
        } else {
            // Only listed keys: a key with `..` in it never reaches outside the folder.
            match keys.contains_key(key).then(|| std::fs::read(root.join(key)).ok()).flatten() {
                Some(data) => ("200 OK", "application/octet-stream", data),
                None => ("404 Not Found", "application/xml", b"<Error><Code>NoSuchKey</Code></Error>".to_vec()),
            }
        };
        // One write per response: a header and a body written apart meet Nagle's algorithm and the
        // client's delayed ACK, a 40 ms stall per request that real S3 does not have.
        let mut out = format!("HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n", body.len())
            .into_bytes();
        out.extend_from_slice(&body);
        if sock.write_all(&out).await.is_err() {
            return;
        }
        if log && !key.is_empty() {
            println!("GET {key}");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: s3_endpoint DIR BUCKET PORT LATENCY_MS");
        std::process::exit(2);
    }
    let root = std::path::PathBuf::from(&args[1]);
    let mut keys = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(&root) {
                keys.insert(rel.to_string_lossy().replace('\\', "/"), e.metadata().map(|m| m.len()).unwrap_or(0));
            }
        }
    }
    let (bucket, port, latency) =
        (Arc::new(args[2].clone()), args[3].parse::<u16>().expect("port"), args[4].parse::<u64>().expect("latency"));
    let (root, keys) = (Arc::new(root), Arc::new(keys));
    // One line per object served, for the Ctrl-C test to interrupt a scan that is under way.
    let log = std::env::var_os("S3_ENDPOINT_LOG").is_some();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        loop {
            let Ok((sock, _)) = listener.accept().await else { continue };
            let _ = sock.set_nodelay(true);
            tokio::spawn(serve(sock, root.clone(), bucket.clone(), keys.clone(), latency, log));
        }
    });
}
