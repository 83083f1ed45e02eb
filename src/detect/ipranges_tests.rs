use super::*;
use std::collections::HashMap;

/// The JSON snapshot the built-in table is made from.
fn json_snapshot() -> String {
    let gz = include_bytes!("ip-ranges.json.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    text
}

#[test]
fn builtin_table_is_the_json_snapshot() {
    let bytes = IpRanges::parse(&json_snapshot()).unwrap().to_bytes();
    if std::env::var_os("TRAILHOUND_UPDATE_IP_RANGES").is_some() {
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/src/detect/ip-ranges.bin"), &bytes).unwrap();
        return;
    }
    assert!(
        bytes == BUILTIN,
        "src/detect/ip-ranges.bin is not made from src/detect/ip-ranges.json.gz: run \
         TRAILHOUND_UPDATE_IP_RANGES=1 cargo test --lib builtin_table_is_the_json_snapshot"
    );
}

#[test]
fn builtin_create_date_matches_the_full_parse() {
    let full = IpRanges::parse(&json_snapshot()).unwrap().create_date;
    assert_eq!(builtin_create_date().as_deref(), Some(full.as_str()));
    assert_eq!(IpRanges::builtin().unwrap().create_date, full);
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

/// Longest-prefix match the slow, obvious way, over one address family of `bits` bits (IPv4
/// addresses held in the low 32 bits): every prefix length, most specific first.
struct Family {
    bits: u8,
    nets: HashMap<(u8, u128), AwsRange>,
}

impl Family {
    fn new(bits: u8) -> Family {
        Family { bits, nets: HashMap::new() }
    }

    /// The host bits of a prefix of `len`.
    fn host(&self, len: u8) -> u128 {
        let size = u32::from(self.bits - len);
        if size == 0 { 0 } else { u128::MAX >> (128 - size) }
    }

    fn add(&mut self, a: u128, len: u8, region: &str, service: &str) {
        let k = (len, a & !self.host(len));
        if self.nets.get(&k).is_none_or(|old| better(service, &old.service)) {
            self.nets.insert(k, AwsRange { region: region.to_owned(), service: service.to_owned() });
        }
    }

    fn lookup(&self, a: u128) -> Option<&AwsRange> {
        (0..=self.bits).rev().find_map(|len| self.nets.get(&(len, a & !self.host(len))))
    }

    /// Each prefix's first and last address and their neighbours, where lookups change.
    fn edges(&self) -> Vec<u128> {
        let top = self.host(0);
        let mut out = Vec::new();
        for &(len, a) in self.nets.keys() {
            let last = a | self.host(len);
            out.extend([a.wrapping_sub(1) & top, a, last, last.wrapping_add(1) & top]);
        }
        out
    }
}

struct Oracle {
    v4: Family,
    v6: Family,
}

impl Oracle {
    fn of(text: &str) -> Oracle {
        let f: File = serde_json::from_str(text).unwrap();
        let mut o = Oracle { v4: Family::new(32), v6: Family::new(128) };
        for p in &f.prefixes {
            let Ok(net) = p.ip_prefix.parse::<Ipv4Net>() else { continue };
            o.v4.add(u32::from(net.addr()).into(), net.prefix_len(), &p.region, &p.service);
        }
        for p in &f.ipv6_prefixes {
            let Ok(net) = p.ipv6_prefix.parse::<Ipv6Net>() else { continue };
            o.v6.add(u128::from(net.addr()), net.prefix_len(), &p.region, &p.service);
        }
        o
    }

    fn lookup(&self, a: IpAddr) -> Option<&AwsRange> {
        match a {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a).into()),
            IpAddr::V6(a) => self.v6.lookup(u128::from(a)),
        }
    }

    fn edges(&self) -> Vec<IpAddr> {
        let v4 = self.v4.edges().into_iter().map(|a| IpAddr::V4((a as u32).into()));
        v4.chain(self.v6.edges().into_iter().map(|a| IpAddr::V6(a.into()))).collect()
    }
}

fn assert_same(r: &IpRanges, o: &Oracle, addrs: &[IpAddr]) {
    for &a in addrs {
        assert_eq!(r.lookup(a), o.lookup(a), "{a}");
    }
}

#[test]
fn flat_lookups_are_the_longest_prefix_over_the_whole_snapshot() {
    let text = json_snapshot();
    let (r, o) = (IpRanges::builtin().unwrap(), Oracle::of(&text));
    let mut addrs = o.edges();
    // And addresses anywhere, from a fixed-seed generator.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        addrs.push(IpAddr::V4((x as u32).into()));
        // IPv6 addresses near AWS's (2600:1f00::/24 and around), where random ones would all miss.
        addrs.push(IpAddr::V6((((0x2600_1f00u128 + (x >> 60) as u128) << 96) | (x as u128) << 32).into()));
    }
    assert!(addrs.iter().filter(|a| o.lookup(**a).is_some()).count() > 30_000);
    assert_same(&r, &o, &addrs);
}

#[test]
fn nested_duplicate_and_edge_prefixes() {
    let text = r#"{"createDate": "2026-01-02-03-04-05",
      "prefixes": [
        {"ip_prefix": "0.0.0.0/0", "region": "GLOBAL", "service": "AMAZON"},
        {"ip_prefix": "10.0.0.0/8", "region": "r8", "service": "AMAZON"},
        {"ip_prefix": "10.1.0.0/16", "region": "r16", "service": "AMAZON"},
        {"ip_prefix": "10.1.0.0/16", "region": "r16", "service": "EC2"},
        {"ip_prefix": "10.1.0.0/16", "region": "r16", "service": "S3"},
        {"ip_prefix": "10.1.0.0/24", "region": "r24", "service": "EC2"},
        {"ip_prefix": "10.1.255.255/32", "region": "r32", "service": "EC2"},
        {"ip_prefix": "10.2.0.0/16", "region": "r8", "service": "AMAZON"},
        {"ip_prefix": "10.3.0.0/16", "region": "r8", "service": "AMAZON"},
        {"ip_prefix": "255.255.255.255/32", "region": "top", "service": "EC2"},
        {"ip_prefix": "255.255.255.0/24", "region": "top24", "service": "EC2"},
        {"ip_prefix": "not an address", "region": "x", "service": "x"},
        {"ip_prefix": "10.9.9.9/8", "region": "r8", "service": "S3"}
      ],
      "ipv6_prefixes": [
        {"ipv6_prefix": "::/0", "region": "GLOBAL", "service": "AMAZON"},
        {"ipv6_prefix": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "region": "top", "service": "EC2"},
        {"ipv6_prefix": "2600:1f00::/24", "region": "us-east-1", "service": "AMAZON"},
        {"ipv6_prefix": "2600:1f18::/36", "region": "us-east-1", "service": "EC2"}
      ]}"#;
    let r = IpRanges::parse(text).unwrap();
    let o = Oracle::of(text);
    let at = |a: &str| r.lookup(a.parse().unwrap()).map(|x| format!("{}/{}", x.region, x.service));
    assert_eq!(at("10.1.0.7").as_deref(), Some("r24/EC2"));
    // A named service wins over AMAZON on the same prefix; between two named ones, the first listed.
    assert_eq!(at("10.1.7.7").as_deref(), Some("r16/EC2"));
    assert_eq!(at("10.1.255.255").as_deref(), Some("r32/EC2"));
    assert_eq!(at("10.9.0.1").as_deref(), Some("r8/S3"));
    assert_eq!(at("11.0.0.0").as_deref(), Some("GLOBAL/AMAZON"));
    assert_eq!(at("255.255.255.255").as_deref(), Some("top/EC2"));
    assert_eq!(at("255.255.255.254").as_deref(), Some("top24/EC2"));
    assert_eq!(at("0.0.0.0").as_deref(), Some("GLOBAL/AMAZON"));
    assert_eq!(at("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").as_deref(), Some("top/EC2"));
    assert_eq!(at("2600:1f18:0:1::9").as_deref(), Some("us-east-1/EC2"));
    assert_eq!(at("2600:1f19::9").as_deref(), Some("us-east-1/AMAZON"));
    assert_eq!(r.prefixes, 16);
    assert_same(&r, &o, &o.edges());
    // The flat form reads back as the same table.
    let back = IpRanges::from_bytes(&r.to_bytes()).unwrap();
    assert_eq!((back.v4.clone(), back.v6.clone(), back.names.clone()), (r.v4.clone(), r.v6.clone(), r.names.clone()));
    assert_eq!((back.create_date.as_str(), back.prefixes), ("2026-01-02-03-04-05", 16));
}

#[test]
fn damaged_flat_tables_are_errors() {
    let text = r#"{"createDate": "d", "prefixes": [
        {"ip_prefix": "10.0.0.0/8", "region": "a", "service": "EC2"},
        {"ip_prefix": "12.0.0.0/8", "region": "b", "service": "EC2"}],
      "ipv6_prefixes": [{"ipv6_prefix": "2600::/16", "region": "a", "service": "EC2"}]}"#;
    let good = IpRanges::parse(text).unwrap().to_bytes();
    assert!(IpRanges::from_bytes(&good).is_ok());
    for cut in 0..good.len() {
        assert!(IpRanges::from_bytes(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(IpRanges::from_bytes(&longer).is_err());
    // The IPv4 spans swapped: out of order.
    let v4_at = good.len() - (4 + 34) - 2 * 10;
    let mut swapped = good.clone();
    swapped[v4_at..v4_at + 20].rotate_left(10);
    assert!(IpRanges::from_bytes(&swapped).is_err());
    // A span naming a range that is not there.
    let mut unnamed = good.clone();
    unnamed[v4_at + 8..v4_at + 10].copy_from_slice(&9u16.to_le_bytes());
    assert!(IpRanges::from_bytes(&unnamed).is_err());
    // A count claiming more spans than there are bytes reserves nothing large.
    let mut claims = good[..v4_at - 4].to_vec();
    claims.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(IpRanges::from_bytes(&claims).is_err());
}
