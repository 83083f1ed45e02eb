//! Event ids as the detector keeps them: a canonical UUID as its 16 bytes, anything else interned.

use super::state::{Interner, Sym};

/// An event id in 20 bytes: a lower-case UUID as its 16 bytes, anything else interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EvId {
    /// A canonical lower-case UUID.
    Uuid([u8; 16]),
    /// Any other id, interned.
    Text(Sym),
}

impl EvId {
    /// Packs an event id.
    pub fn new(id: &str, syms: &mut Interner) -> EvId {
        parse_uuid(id).map_or_else(|| EvId::Text(syms.intern(id)), EvId::Uuid)
    }

    /// Packs an event id whose lower-case UUID bits the decoder may have parsed already (`uuid`,
    /// from [`crate::event::Event::lower_uuid`]): the same as [`EvId::new`] without parsing again.
    #[inline]
    pub fn of(id: &str, uuid: Option<u128>, syms: &mut Interner) -> EvId {
        match uuid {
            Some(bits) => EvId::Uuid(bits.to_be_bytes()),
            None => EvId::new(id, syms),
        }
    }

    /// The order of the two ids' texts, without writing them out (this runs for every kept event).
    /// A UUID is held only in its lower-case form, whose text order is its bytes' order.
    pub fn cmp_text(&self, other: &EvId, syms: &Interner) -> std::cmp::Ordering {
        match (self, other) {
            (EvId::Uuid(a), EvId::Uuid(b)) => a.cmp(b),
            (EvId::Text(a), EvId::Text(b)) => syms.name(*a).cmp(syms.name(*b)),
            _ => self.text(syms).cmp(&other.text(syms)),
        }
    }

    /// The id as text.
    pub fn text(&self, syms: &Interner) -> String {
        match self {
            EvId::Text(s) => syms.name(*s).to_owned(),
            EvId::Uuid(b) => {
                let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
                format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
            }
        }
    }
}

/// A canonical lower-case UUID's 16 bytes (an upper-case UUID is kept as text, so that it reads back
/// as written).
fn parse_uuid(id: &str) -> Option<[u8; 16]> {
    crate::decode::normalize::uuid_bits(id, false).map(u128::to_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_round_trip() {
        let mut syms = Interner::default();
        for id in ["2a5178c8-b4c7-44ba-b066-1ecc79b7087c", "2A5178C8-B4C7-44BA-B066-1ECC79B7087C", "sanitized"] {
            assert_eq!(EvId::new(id, &mut syms).text(&syms), id);
        }
        // The order without text is the order of the texts.
        let ids = [
            "0f2c0a1e-1111-4222-8333-944445555666",
            "a0000000-0000-4000-8000-000000000000",
            "0f2c0a1e-1111-4222-8333-94444555566",
            "zz",
            "0",
        ];
        for a in ids {
            for b in ids {
                let (x, y) = (EvId::new(a, &mut syms), EvId::new(b, &mut syms));
                assert_eq!(x.cmp_text(&y, &syms), a.cmp(b), "{a} {b}");
            }
        }
        assert!(matches!(EvId::new("2a5178c8-b4c7-44ba-b066-1ecc79b7087c", &mut syms), EvId::Uuid(_)));
    }

    #[test]
    fn the_decoder_s_bits_give_the_same_id() {
        let mut syms = Interner::default();
        for id in ["2a5178c8-b4c7-44ba-b066-1ecc79b7087c", "2A5178C8-b4c7-44ba-b066-1ecc79b7087c", "sanitized", ""] {
            let (key, lower) = crate::decode::normalize::dedup_key(id);
            let uuid = key.filter(|_| lower);
            assert_eq!(EvId::of(id, uuid, &mut syms), EvId::new(id, &mut syms), "{id}");
        }
    }
}
