//! Hash tables keyed by what the logs hold.
//!
//! Keys, event ids, user agents and session names come from the trail, and some of them from whoever
//! called AWS: a keyless hash such as FxHash lets them be chosen to share one bucket, which turns each
//! insert into a walk of every entry before it (80,000 forged event ids took 11 s to de-duplicate).
//! Every table on the per-record path hashes under a seed drawn for the run instead.

/// A hash map for the per-record path: foldhash, seeded at random for each table. As fast as FxHash on
/// integers and short strings, and its buckets cannot be predicted without the seed.
pub type KeyedMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A hash set hashed as [`KeyedMap`].
pub type KeyedSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// A map keyed by origin (or by key and origin), hashed with SipHash under a key drawn for the run.
/// Callers choose their addresses: an IPv6 /64 holds 2^64 interface ids, and FxHash's values can be
/// steered into one bucket, which made each lookup a walk of every origin before it. None of these
/// maps is on the per-record path except a key's index past its first origins, so the stronger hash
/// costs nothing measurable.
pub type OriginMap<K, V> = std::collections::HashMap<K, V, std::hash::RandomState>;
