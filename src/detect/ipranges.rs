//! AWS's published address ranges (`ip-ranges.json`), for "inside AWS" versus "outside AWS".
//!
//! A snapshot is built into the binary (`src/detect/ip-ranges.json.gz`); `--ip-ranges FILE` uses another
//! copy. To refresh the snapshot, download the current list from AWS
//! (`https://ip-ranges.amazonaws.com/ip-ranges.json`) and `gzip -9` it over the built-in file.

use ipnet::{Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use serde::Deserialize;
use std::borrow::Cow;
use std::io::Read;
use std::net::IpAddr;

const SNAPSHOT: &[u8] = include_bytes!("ip-ranges.json.gz");

/// Where an AWS address belongs, from its most specific prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsRange {
    /// The prefix's `region` (e.g. `eu-west-1`, or `GLOBAL`).
    pub region: String,
    /// `EC2`, `S3`, ... or `AMAZON` when no narrower service claims the prefix.
    pub service: String,
}

/// AWS's address ranges, indexed for longest-prefix lookups of IPv4 and IPv6 addresses.
pub struct IpRanges {
    v4: PrefixMap<Ipv4Net, AwsRange>,
    v6: PrefixMap<Ipv6Net, AwsRange>,
    /// The list's `createDate` (`YYYY-MM-DD-hh-mm-ss`), shown so users know how old the snapshot is.
    pub create_date: String,
    /// IPv4 and IPv6 prefixes read (unparsable ones skipped), shown with `createDate`.
    pub prefixes: usize,
}

// Borrowed from the text: the list has tens of thousands of strings, and only the prefixes kept
// need their region and service copied. Every detecting run reads it before anything else.
#[derive(Deserialize)]
struct File<'a> {
    #[serde(rename = "createDate", default)]
    create_date: String,
    #[serde(default, borrow)]
    prefixes: Vec<V4<'a>>,
    #[serde(default, borrow)]
    ipv6_prefixes: Vec<V6<'a>>,
}

#[derive(Deserialize)]
struct V4<'a> {
    #[serde(borrow)]
    ip_prefix: Cow<'a, str>,
    #[serde(borrow)]
    region: Cow<'a, str>,
    #[serde(borrow)]
    service: Cow<'a, str>,
}

#[derive(Deserialize)]
struct V6<'a> {
    #[serde(borrow)]
    ipv6_prefix: Cow<'a, str>,
    #[serde(borrow)]
    region: Cow<'a, str>,
    #[serde(borrow)]
    service: Cow<'a, str>,
}

/// `AMAZON` lists every prefix; a named service on the same prefix says more.
fn better(new: &str, old: &str) -> bool {
    old == "AMAZON" && new != "AMAZON"
}

/// The `createDate` of the built-in snapshot (`YYYY-MM-DD-hh-mm-ss`, UTC), read from the head of the
/// file only: `--version` names it without decompressing the whole list.
pub fn builtin_create_date() -> Option<String> {
    let mut head = [0u8; 512];
    let mut filled = 0;
    let mut gz = flate2::read::GzDecoder::new(SNAPSHOT);
    while filled < head.len() {
        match gz.read(&mut head[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    let text = std::str::from_utf8(&head[..filled]).ok()?;
    let rest = &text[text.find("\"createDate\"")? + "\"createDate\"".len()..];
    let value = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(value[..value.find('"')?].to_owned())
}

impl IpRanges {
    /// The snapshot built into the binary.
    pub fn builtin() -> anyhow::Result<Self> {
        // One call into libdeflate, sized by the gzip trailer (the snapshot is ours, one member).
        let size = SNAPSHOT.len().checked_sub(4).map(|at| &SNAPSHOT[at..]).and_then(|t| t.try_into().ok());
        let mut text = vec![0u8; size.map_or(0, |t| u32::from_le_bytes(t) as usize)];
        let inflated = crate::decode::inflate::Inflater::default().gzip_member(SNAPSHOT, &mut text);
        if inflated.map(|(_, n)| n) != Some(text.len()) {
            anyhow::bail!("the built-in AWS ip-ranges snapshot does not decompress");
        }
        Self::parse(std::str::from_utf8(&text)?)
    }

    /// The list in `path` (`--ip-ranges`); errors name the file.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read --ip-ranges {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("--ip-ranges {}: {e}", path.display()))
    }

    /// Parses `ip-ranges.json` text; fails when it is not JSON or holds no prefix.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let f: File = serde_json::from_str(text).map_err(|e| anyhow::anyhow!("not an AWS ip-ranges.json: {e}"))?;
        if f.prefixes.is_empty() && f.ipv6_prefixes.is_empty() {
            anyhow::bail!("not an AWS ip-ranges.json: no prefixes");
        }
        let mut v4 = PrefixMap::<Ipv4Net, AwsRange>::new();
        let mut v6 = PrefixMap::<Ipv6Net, AwsRange>::new();
        let mut n = 0;
        for p in f.prefixes {
            let Ok(net) = p.ip_prefix.parse::<Ipv4Net>() else { continue };
            let net = net.trunc();
            n += 1;
            match v4.get_mut(&net) {
                Some(old) if !better(&p.service, &old.service) => {}
                _ => {
                    v4.insert(net, AwsRange { region: p.region.into_owned(), service: p.service.into_owned() });
                }
            }
        }
        for p in f.ipv6_prefixes {
            let Ok(net) = p.ipv6_prefix.parse::<Ipv6Net>() else { continue };
            let net = net.trunc();
            n += 1;
            match v6.get_mut(&net) {
                Some(old) if !better(&p.service, &old.service) => {}
                _ => {
                    v6.insert(net, AwsRange { region: p.region.into_owned(), service: p.service.into_owned() });
                }
            }
        }
        Ok(IpRanges { v4, v6, create_date: f.create_date, prefixes: n })
    }

    /// The AWS range holding `addr`, if any (longest prefix wins).
    pub fn lookup(&self, addr: IpAddr) -> Option<&AwsRange> {
        match addr {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).map(|(_, r)| r),
            IpAddr::V6(a) => self.v6.get_lpm(&Ipv6Net::from(a)).map(|(_, r)| r),
        }
    }
}

/// AWS's ranges as a detector holds them: the built-in snapshot is read on a thread of its own from
/// the moment the settings are loaded, since nothing needs it before the judging and reading it
/// (tens of milliseconds) would otherwise hold up the start of every scan. A `--ip-ranges` file is
/// read at once: its errors must stop the run before anything is listed.
pub struct Ranges {
    ready: std::sync::OnceLock<IpRanges>,
    reading: std::sync::Mutex<Option<std::thread::JoinHandle<anyhow::Result<IpRanges>>>>,
}

impl Ranges {
    /// Ranges already read.
    pub fn ready(ranges: IpRanges) -> Self {
        Ranges { ready: std::sync::OnceLock::from(ranges), reading: std::sync::Mutex::new(None) }
    }

    /// The built-in snapshot, read in the background (at once when no thread can be started).
    pub fn builtin() -> anyhow::Result<Self> {
        match std::thread::Builder::new().name("ip-ranges".into()).spawn(IpRanges::builtin) {
            Ok(handle) => {
                Ok(Ranges { ready: std::sync::OnceLock::new(), reading: std::sync::Mutex::new(Some(handle)) })
            }
            Err(_) => Ok(Self::ready(IpRanges::builtin()?)),
        }
    }

    /// The ranges, waiting for the background read if it has not finished.
    pub fn get(&self) -> &IpRanges {
        self.ready.get_or_init(|| {
            let waited = std::time::Instant::now();
            let handle = self.reading.lock().ok().and_then(|mut h| h.take());
            let read = match handle {
                Some(h) => h.join().unwrap_or_else(|_| IpRanges::builtin()),
                None => IpRanges::builtin(),
            };
            // The snapshot is part of the binary, and `builtin_snapshot_classifies` reads it: failing
            // here is a broken build, not bad input.
            let ranges = read.unwrap_or_else(|e| panic!("the built-in AWS ip-ranges snapshot does not parse: {e}"));
            tracing::debug!(waited_ms = waited.elapsed().as_millis() as u64, "AWS address ranges ready");
            ranges
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_read_gives_the_snapshot() {
        let r = Ranges::builtin().unwrap();
        assert_eq!(r.get().create_date, IpRanges::builtin().unwrap().create_date);
        assert!(r.get().lookup("3.225.16.109".parse().unwrap()).is_some());
    }

    #[test]
    fn builtin_create_date_matches_the_full_parse() {
        let full = IpRanges::builtin().unwrap().create_date;
        assert_eq!(builtin_create_date().as_deref(), Some(full.as_str()));
        assert_eq!(full.len(), "2026-08-22-21-17-05".len(), "{full}");
    }

    #[test]
    fn builtin_snapshot_classifies() {
        let r = IpRanges::builtin().unwrap();
        assert!(r.prefixes > 10_000);
        let ec2 = r.lookup("3.225.16.109".parse().unwrap()).unwrap();
        assert_eq!((ec2.region.as_str(), ec2.service.as_str()), ("us-east-1", "EC2"));
        assert_eq!(r.lookup("52.42.146.205".parse().unwrap()).unwrap().region, "us-west-2");
        assert!(r.lookup("45.33.32.156".parse().unwrap()).is_none());
        assert!(r.lookup("192.168.10.20".parse().unwrap()).is_none());
    }
}
