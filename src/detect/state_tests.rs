use super::*;

#[test]
fn key_ids_round_trip() {
    let mut syms = Interner::default();
    syms.intern("");
    for k in ["ASIATFQR7NSC36DZQP7P", "ASIA0000000000000000", "ASIAZZZZZZZZZZZZZZZZ", "ASIA-sanitized", "asia"] {
        let id = KeyId::new(k, &mut syms);
        assert_eq!(id.text(&syms), k);
        assert_eq!(KeyId::lookup(k, &syms), Some(id));
    }
    assert_ne!(KeyId::new("ASIA0000000000000001", &mut syms), KeyId::new("ASIA0000000000000010", &mut syms));
    assert_eq!(KeyId::lookup("ASIA-never-seen", &syms), None);
    // Packed ids sort as their text does (the judge's tie-break), and every odd byte falls back.
    let mut keys = ["ASIAZZZZZZZZZZZZZZZZ", "ASIA0000000000000009", "ASIA000000000000000A", "AKIA9ZZZZZZZZZZZZZZZ"];
    let mut ids: Vec<KeyId> = keys.iter().map(|k| KeyId::new(k, &mut syms)).collect();
    keys.sort_unstable();
    ids.sort_unstable();
    assert_eq!(ids.iter().map(|i| i.text(&syms)).collect::<Vec<_>>(), keys);
    for k in ["ASIA000000000000000a", "ASIA00000000000000:0", "ASIA0000\u{e9}00000000", "ASIA0000000000000000\0"] {
        assert_eq!(KeyId::new(k, &mut syms).text(&syms), k);
    }
}

#[test]
fn the_key_index_finds_every_key_as_it_grows() {
    // The index keeps 32 bits of each hash and rehashes from them alone: every key must still be
    // found after each growth, packed or interned, and a key never seen must not be.
    let mut syms = Interner::default();
    syms.intern("");
    let mut t = KeyTable::default();
    let keys: Vec<String> =
        (0..20_000u32).map(|n| if n % 7 == 0 { format!("ASIA-odd-{n}") } else { format!("ASIA{n:016}") }).collect();
    for (n, k) in keys.iter().enumerate() {
        let id = KeyId::new(k, &mut syms);
        assert_eq!(t.slot(id), n as u32);
        t.at_mut(n as u32).events = n as u32;
    }
    assert_eq!(t.len(), keys.len());
    for (n, k) in keys.iter().enumerate() {
        let id = KeyId::lookup(k, &syms).unwrap();
        assert_eq!(t.slot(id), n as u32, "{k}");
        assert_eq!(t.get(&id).map(|st| st.events), Some(n as u32), "{k}");
        assert_eq!(t.key_at(n as u32), id);
        let packed = !k.contains('-');
        assert_eq!(t.find(k), packed.then_some(n as u32), "{k}");
    }
    assert_eq!(t.len(), keys.len());
    assert_eq!(t.find("ASIA9999999999999999"), None);
    assert!(t.get(&KeyId::new("ASIA9999999999999999", &mut syms)).is_none());
}

#[test]
fn keys_that_share_their_hash_bits_stay_apart() {
    // The stored bits only narrow the search: the key beside its state decides.
    let mut syms = Interner::default();
    let mut t = KeyTable { narrow: true, ..KeyTable::default() };
    let ids: Vec<KeyId> = (0..2_000u32).map(|n| KeyId::new(&format!("ASIA{n:016}"), &mut syms)).collect();
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(t.slot(*id), n as u32);
    }
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(t.slot(*id), n as u32);
        assert_eq!(t.find(&id.text(&syms)), Some(n as u32));
    }
    assert_eq!((t.len(), t.find("ASIA9999999999999999")), (ids.len(), None));
}

#[test]
fn state_stays_small() {
    // Memory per key is the figure benches/judge reports; these are its parts.
    assert!(std::mem::size_of::<KeyState>() <= 176, "{}", std::mem::size_of::<KeyState>());
    // 184: the last call signed here (not a redeemed signature), which a key used after its instance
    // was terminated is judged by.
    assert!(std::mem::size_of::<OriginUse>() <= 184, "{}", std::mem::size_of::<OriginUse>());
}

#[test]
fn origins_order_by_their_labels_without_making_them() {
    let mut syms = Interner::default();
    let vpce = Origin::Endpoint { id: syms.intern("vpce-0a1b"), owner: 0 };
    let bad = Origin::Unparsable(syms.intern("1.2.3.4:443"));
    let mut origins = vec![vpce, bad];
    for a in [
        "10.0.0.9",
        "10.0.0.10",
        "9.9.9.9",
        "2600:1f18::1",
        "::1",
        "255.255.255.255",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ] {
        origins.push(Origin::Ip(a.parse().unwrap()));
    }
    for a in &origins {
        for b in &origins {
            assert_eq!(a.cmp_label(b, &syms), a.label(&syms).cmp(&b.label(&syms)), "{a:?} {b:?}");
        }
    }
}

#[test]
fn interning_through_the_recent_cache_gives_one_symbol_per_string() {
    let mut syms = Interner::default();
    // Strings sharing length and both ends (one fingerprint), and short ones.
    let words: Vec<String> = (0..200).map(|i| format!("arn:aws:iam::1111:role/{i:03}/x-role-abcdefgh")).collect();
    let short = ["", "a", "ab", "us-east-1", "us-east-2", "eu-west-1"];
    let mut first = std::collections::HashMap::new();
    for round in 0..3 {
        for w in words.iter().map(String::as_str).chain(short) {
            let id = syms.intern(w);
            assert_eq!(syms.name(id), w);
            assert_eq!(*first.entry(w.to_owned()).or_insert(id), id, "round {round}: {w}");
            assert_eq!(syms.get(w), Some(id));
        }
    }
}
