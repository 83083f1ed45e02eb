//! AWS's published address ranges (`ip-ranges.json`), for "inside AWS" versus "outside AWS".
//!
//! The ranges are held flat: each IPv4 and IPv6 prefix list becomes sorted, disjoint address spans,
//! each naming the (region, service) of the most specific prefix over it, and a lookup is one
//! binary search.
//!
//! A snapshot is built into the binary already in that form (`src/detect/ip-ranges.bin`, made from
//! `src/detect/ip-ranges.json.gz`): reading the JSON text took tens of milliseconds of CPU at the
//! start of every detecting scan, the form built in takes a fraction of one. `--ip-ranges FILE` reads
//! another copy of the JSON. To refresh the snapshot, download the current list from AWS
//! (`https://ip-ranges.amazonaws.com/ip-ranges.json`), `gzip -9` it over `ip-ranges.json.gz`, and run
//! `TRAILHOUND_UPDATE_IP_RANGES=1 cargo test --lib builtin_table_is_the_json_snapshot`, which
//! rewrites `ip-ranges.bin` from it (without the variable, that test fails when the two disagree).

use ipnet::{Ipv4Net, Ipv6Net};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

/// The built-in snapshot, flattened ([`IpRanges::to_bytes`]).
const BUILTIN: &[u8] = include_bytes!("ip-ranges.bin");
/// First bytes of the flat form; the last one is its version.
const MAGIC: &[u8; 6] = b"THIPR\x01";

/// Where an AWS address belongs, from its most specific prefix.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AwsRange {
    /// The prefix's `region` (e.g. `eu-west-1`, or `GLOBAL`).
    pub region: String,
    /// `EC2`, `S3`, ... or `AMAZON` when no narrower service claims the prefix.
    pub service: String,
}

/// Addresses `start..=end`, all under the same most specific prefix, whose range is `names[range]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span<A> {
    start: A,
    end: A,
    range: u16,
}

/// AWS's address ranges, indexed for longest-prefix lookups of IPv4 and IPv6 addresses.
pub struct IpRanges {
    /// Every distinct (region, service) the list names.
    names: Vec<AwsRange>,
    v4: Vec<Span<u32>>,
    v6: Vec<Span<u128>>,
    /// The list's `createDate` (`YYYY-MM-DD-hh-mm-ss`), shown so users know how old the snapshot is.
    pub create_date: String,
    /// IPv4 and IPv6 prefixes read (unparsable ones skipped), shown with `createDate`.
    pub prefixes: usize,
}

// Borrowed from the text: the list has tens of thousands of strings, and only the prefixes kept
// need their region and service copied.
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

/// The `createDate` of the built-in snapshot (`YYYY-MM-DD-hh-mm-ss`, UTC), for `--version`.
pub fn builtin_create_date() -> Option<String> {
    let mut r = Bytes(BUILTIN);
    (r.take(MAGIC.len()).ok()? == MAGIC).then_some(())?;
    r.text16().ok()
}

/// One list's prefixes, each kept once (a named service over `AMAZON`, else the first listed), in
/// the order first listed.
#[derive(Default)]
struct Prefixes {
    nets: Vec<(u128, u8, AwsRange)>,
    at: HashMap<(u128, u8), usize>,
}

impl Prefixes {
    fn add(&mut self, addr: u128, len: u8, region: &str, service: &str) {
        let range = || AwsRange { region: region.to_owned(), service: service.to_owned() };
        match self.at.get(&(addr, len)) {
            Some(&i) if better(service, &self.nets[i].2.service) => self.nets[i].2 = range(),
            Some(_) => {}
            None => {
                self.at.insert((addr, len), self.nets.len());
                self.nets.push((addr, len, range()));
            }
        }
    }

    /// The flat spans of these prefixes in an address space of `bits` bits; names are added to
    /// `names` as met.
    fn spans(self, bits: u32, names: &mut Names) -> anyhow::Result<Vec<Span<u128>>> {
        let mut nets = Vec::with_capacity(self.nets.len());
        for (addr, len, range) in self.nets {
            let size_bits = bits - u32::from(len);
            // The last address of the prefix: all host bits set (the start has none, `trunc`).
            let host = if size_bits == 0 { 0 } else { u128::MAX >> (128 - size_bits) };
            nets.push(Span { start: addr, end: addr | host, range: names.id(range)? });
        }
        Ok(flatten(nets))
    }
}

/// Distinct (region, service) pairs, numbered as met.
#[derive(Default)]
struct Names {
    list: Vec<AwsRange>,
    ids: HashMap<AwsRange, u16>,
}

impl Names {
    fn id(&mut self, r: AwsRange) -> anyhow::Result<u16> {
        if let Some(&id) = self.ids.get(&r) {
            return Ok(id);
        }
        let id = u16::try_from(self.list.len())
            .map_err(|_| anyhow::anyhow!("more than 65,536 distinct (region, service) pairs"))?;
        self.list.push(r.clone());
        self.ids.insert(r, id);
        Ok(id)
    }
}

/// Turns prefixes (which either nest or are disjoint, each listed once) into sorted disjoint spans,
/// each under its most specific prefix; neighbouring spans of the same range are joined.
fn flatten(mut nets: Vec<Span<u128>>) -> Vec<Span<u128>> {
    // By start, the wider prefix first: a prefix is met after every prefix holding it.
    nets.sort_unstable_by_key(|n| (n.start, std::cmp::Reverse(n.end)));
    let mut out: Vec<Span<u128>> = Vec::with_capacity(nets.len() * 2);
    let mut emit = |start: u128, end: u128, range: u16| match out.last_mut() {
        Some(last) if last.range == range && last.end.checked_add(1) == Some(start) => last.end = end,
        _ => out.push(Span { start, end, range }),
    };
    // The prefixes open at the current address, the innermost last; `next` is the first address
    // not yet given to a span (None past the end of the address space).
    let mut open: Vec<Span<u128>> = Vec::new();
    let mut next = Some(0u128);
    for n in nets {
        while let Some(&top) = open.last() {
            if top.end >= n.start {
                break;
            }
            if let Some(from) = next.filter(|&from| from <= top.end) {
                emit(from, top.end, top.range);
            }
            // No overflow: `top` ends before `n` starts.
            next = Some(top.end + 1);
            open.pop();
        }
        if let (Some(&top), Some(from)) = (open.last(), next) {
            if from < n.start {
                emit(from, n.start - 1, top.range);
            }
        }
        next = Some(n.start);
        open.push(n);
    }
    while let Some(top) = open.pop() {
        if let Some(from) = next.filter(|&from| from <= top.end) {
            emit(from, top.end, top.range);
        }
        next = top.end.checked_add(1);
    }
    out
}

/// The span holding `a`, by binary search.
fn find<A: Ord + Copy>(spans: &[Span<A>], a: A) -> Option<u16> {
    let i = spans.partition_point(|s| s.start <= a);
    let s = spans.get(i.checked_sub(1)?)?;
    (a <= s.end).then_some(s.range)
}

/// A reader of the flat form; every read is checked, so a damaged table is an error, not a panic.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        if self.0.len() < n {
            anyhow::bail!("the flat AWS ip-ranges table is cut short");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> anyhow::Result<[u8; N]> {
        Ok(self.take(N)?.try_into()?)
    }
    fn u16(&mut self) -> anyhow::Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> anyhow::Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn text16(&mut self) -> anyhow::Result<String> {
        let n = self.u16()? as usize;
        Ok(std::str::from_utf8(self.take(n)?)?.to_owned())
    }
    fn text8(&mut self) -> anyhow::Result<String> {
        let n = self.take(1)?[0] as usize;
        Ok(std::str::from_utf8(self.take(n)?)?.to_owned())
    }
    /// `count` spans of `W`-byte addresses, checked sorted, disjoint and naming a known range.
    fn spans<A: Ord + Copy, const W: usize>(
        &mut self,
        names: usize,
        read: impl Fn([u8; W]) -> A,
    ) -> anyhow::Result<Vec<Span<A>>> {
        let count = self.u32()? as usize;
        // Bounded by the bytes there, whatever the count claims.
        let mut out = Vec::with_capacity(count.min(self.0.len() / (2 * W + 2)));
        for _ in 0..count {
            let span = Span { start: read(self.array()?), end: read(self.array()?), range: self.u16()? };
            let after_last = out.last().is_none_or(|l: &Span<A>| l.end < span.start);
            if span.end < span.start || !after_last || span.range as usize >= names {
                anyhow::bail!("the flat AWS ip-ranges table is not in order");
            }
            out.push(span);
        }
        Ok(out)
    }
}

#[cfg(test)]
fn put_text(out: &mut Vec<u8>, s: &str, wide: bool) {
    if wide {
        out.extend_from_slice(&(s.len().min(u16::MAX as usize) as u16).to_le_bytes());
        out.extend_from_slice(&s.as_bytes()[..s.len().min(u16::MAX as usize)]);
    } else {
        out.push(s.len().min(255) as u8);
        out.extend_from_slice(&s.as_bytes()[..s.len().min(255)]);
    }
}

impl IpRanges {
    /// The snapshot built into the binary.
    pub fn builtin() -> anyhow::Result<Self> {
        Self::from_bytes(BUILTIN)
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
        let (mut v4, mut v6) = (Prefixes::default(), Prefixes::default());
        let mut n = 0;
        for p in &f.prefixes {
            let Ok(net) = p.ip_prefix.parse::<Ipv4Net>() else { continue };
            n += 1;
            v4.add(u32::from(net.network()).into(), net.prefix_len(), &p.region, &p.service);
        }
        for p in &f.ipv6_prefixes {
            let Ok(net) = p.ipv6_prefix.parse::<Ipv6Net>() else { continue };
            n += 1;
            v6.add(u128::from(net.network()), net.prefix_len(), &p.region, &p.service);
        }
        let mut names = Names::default();
        let v4 = v4.spans(32, &mut names)?;
        let v6 = v6.spans(128, &mut names)?;
        // IPv4 spans were built from 32-bit addresses, so they fit.
        let v4 = v4.into_iter().map(|s| Span { start: s.start as u32, end: s.end as u32, range: s.range }).collect();
        Ok(IpRanges { names: names.list, v4, v6, create_date: f.create_date, prefixes: n })
    }

    /// The flat form built into the binary: header, names, then the spans, little-endian. Made by
    /// the test that checks the built-in table against the JSON snapshot.
    #[cfg(test)]
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        put_text(&mut out, &self.create_date, true);
        out.extend_from_slice(&(self.prefixes as u32).to_le_bytes());
        out.extend_from_slice(&(self.names.len() as u16).to_le_bytes());
        for r in &self.names {
            put_text(&mut out, &r.region, false);
            put_text(&mut out, &r.service, false);
        }
        out.extend_from_slice(&(self.v4.len() as u32).to_le_bytes());
        for s in &self.v4 {
            out.extend_from_slice(&s.start.to_le_bytes());
            out.extend_from_slice(&s.end.to_le_bytes());
            out.extend_from_slice(&s.range.to_le_bytes());
        }
        out.extend_from_slice(&(self.v6.len() as u32).to_le_bytes());
        for s in &self.v6 {
            out.extend_from_slice(&s.start.to_le_bytes());
            out.extend_from_slice(&s.end.to_le_bytes());
            out.extend_from_slice(&s.range.to_le_bytes());
        }
        out
    }

    /// Reads the flat form ([`Self::to_bytes`]).
    pub(crate) fn from_bytes(b: &[u8]) -> anyhow::Result<Self> {
        let mut r = Bytes(b);
        if r.take(MAGIC.len())? != MAGIC {
            anyhow::bail!("not a flat AWS ip-ranges table of this version");
        }
        let create_date = r.text16()?;
        let prefixes = r.u32()? as usize;
        let count = r.u16()? as usize;
        let mut names = Vec::with_capacity(count);
        for _ in 0..count {
            names.push(AwsRange { region: r.text8()?, service: r.text8()? });
        }
        let v4 = r.spans(names.len(), u32::from_le_bytes)?;
        let v6 = r.spans(names.len(), u128::from_le_bytes)?;
        if !r.0.is_empty() {
            anyhow::bail!("the flat AWS ip-ranges table has bytes after its end");
        }
        Ok(IpRanges { names, v4, v6, create_date, prefixes })
    }

    /// The AWS range holding `addr`, if any (longest prefix wins).
    pub fn lookup(&self, addr: IpAddr) -> Option<&AwsRange> {
        let range = match addr {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(a)),
        }?;
        self.names.get(range as usize)
    }
}

#[cfg(test)]
#[path = "ipranges_tests.rs"]
mod tests;
