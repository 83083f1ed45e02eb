//! Raw record -> normalized event.

use super::raw::{RawAdditional, RawRecord, RawRequest, RawResponse, RawTerminate};
use crate::event::{Batch, Field};
use crate::time::parse_ms;

/// Calls whose response carries freshly minted credentials.
pub fn is_minting_call(event_name: &str) -> bool {
    matches!(
        event_name,
        "AssumeRole"
            | "AssumeRoleWithSAML"
            | "AssumeRoleWithWebIdentity"
            | "GetSessionToken"
            | "GetFederationToken"
            | "AssumeRoot"
    )
}

/// Calls whose request parameters name what the detector or the timeline needs.
fn reads_request(event_name: &str) -> bool {
    is_minting_call(event_name)
        || matches!(
            event_name,
            "AssociateAddress"
                | "DisassociateAddress"
                | "PutRolePolicy"
                | "DeleteRolePolicy"
                | "AssociateIamInstanceProfile"
        )
}

/// Which records pass the user's filters.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Keep records at or after this time (epoch milliseconds, `--since`); records without a time are dropped when set.
    pub since_ms: Option<i64>,
    /// Keep records before this time (epoch milliseconds, `--until`); records without a time are dropped when set.
    pub until_ms: Option<i64>,
    /// Accounts to keep (`--account`), matched against `recipientAccountId` (else `userIdentity.accountId`); empty keeps all.
    pub accounts: Vec<String>,
    /// Regions to keep (`--region`), matched against `awsRegion`; empty keeps all.
    pub regions: Vec<String>,
    /// Keys whose events keep their request parameters and response elements (blast-radius reports);
    /// every other event skips them, which keeps the scan fast.
    /// Hashed under a per-run seed: the chain's key ids come from the trail ([`crate::hashing`]).
    pub keep_raw_for: Option<std::sync::Arc<crate::hashing::KeyedSet<String>>>,
    /// Every event keeps its request parameters and response elements (`export`).
    pub keep_raw_all: bool,
}

/// A request or response longer than this is no CloudTrail's (an event holds at most 256 KB in all):
/// it is named, not parsed, since a tree of it takes 10 to 30 times its size.
const MAX_KEPT_SOURCE: usize = 256 * 1024;

/// Raw request or response JSON, secrets redacted and size capped.
fn kept_raw(raw: Option<&str>) -> Option<String> {
    const MAX: usize = 16 * 1024;
    let raw = raw?;
    if raw.len() > MAX_KEPT_SOURCE {
        return Some(format!("\"({} bytes, more than a CloudTrail event holds: not kept)\"", raw.len()));
    }
    let mut v: serde_json::Value = serde_json::from_str(raw).ok()?;
    if v.is_null() {
        return None;
    }
    crate::report::redact::scrub(&mut v);
    let text = v.to_string();
    Some(if text.len() > MAX { format!("{}...(truncated)", &text[..text.floor_char_boundary(MAX)]) } else { text })
}

impl Filter {
    /// True when a record with this time, account and region passes every filter.
    pub fn keeps(&self, time_ms: Option<i64>, account: &str, region: &str) -> bool {
        if let Some(since) = self.since_ms {
            if time_ms.is_none_or(|t| t < since) {
                return false;
            }
        }
        if let Some(until) = self.until_ms {
            if time_ms.is_none_or(|t| t >= until) {
                return false;
            }
        }
        (self.accounts.is_empty() || self.accounts.iter().any(|a| a == account))
            && (self.regions.is_empty() || self.regions.iter().any(|r| r == region))
    }
}

/// What happened to one record.
pub enum Normalized {
    /// Copied into the batch.
    Kept,
    /// Kept, but its time is present and not a real time (such as February 31st): it has no time.
    BadTime,
    /// Left out by `--since/--until/--account/--region`; nothing was copied.
    Filtered,
}

/// Marks an upper-case hex digit in [`HEX`].
const UPPER: u8 = 0x40;

/// Hex digit values by byte, upper-case digits with [`UPPER`] set; 0x80 marks anything else.
static HEX: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = UPPER | (10 + i as u8);
        i += 1;
    }
    t
};

/// The 128 bits of a UUID written `8-4-4-4-12` in hex digits; with `any_case` false, lower-case
/// digits only (the form that reads back as written).
pub fn uuid_bits(id: &str, any_case: bool) -> Option<u128> {
    uuid_bits_case(id).filter(|&(_, upper)| any_case || !upper).map(|(bits, _)| bits)
}

/// [`uuid_bits`] of any case, and whether an upper-case digit was seen. Runs for every event, so the
/// digits go through one table, with no branch per digit.
fn uuid_bits_case(id: &str) -> Option<(u128, bool)> {
    // Every record's id goes through here: a fixed-size array and fixed digit positions leave no
    // bounds check or branch per digit, and the two 64-bit halves are independent chains.
    const DIGITS: [usize; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, //
        19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
    ];
    let b: &[u8; 36] = id.as_bytes().try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let (mut hi, mut lo, mut seen) = (0u64, 0u64, 0u8);
    for k in 0..16 {
        let (h, l) = (HEX[b[DIGITS[k]] as usize], HEX[b[DIGITS[k + 16]] as usize]);
        seen |= h | l;
        hi = (hi << 4) | u64::from(h & 0x0f);
        lo = (lo << 4) | u64::from(l & 0x0f);
    }
    (seen & 0x80 == 0).then_some(((u128::from(hi) << 64) | u128::from(lo), seen & UPPER != 0))
}

/// The dedup key of an `eventID`: the UUID's 128 bits when it is one, a 128-bit hash otherwise; and
/// whether it is a lower-case UUID ([`crate::event::Event::lower_uuid`]).
pub fn dedup_key(event_id: &str) -> (Option<u128>, bool) {
    if event_id.is_empty() {
        return (None, false);
    }
    match uuid_bits_case(event_id) {
        Some((bits, upper)) => (Some(bits), !upper),
        // Non-UUID ids (sanitized corpora, hand-written tests) get a 128-bit hash: collisions are
        // negligible.
        None => (Some(xxhash_rust::xxh3::xxh3_128(event_id.as_bytes()) | (1u128 << 127)), false),
    }
}

/// Hash of the parts, each followed by 0xff (never in UTF-8, so the parts cannot run together).
/// One-shot over a stack buffer: setting up the streaming hasher cost more than the hashing, and both
/// give the same value for the same bytes.
fn use_hash(parts: [&str; 4]) -> u64 {
    let mut buf = [0u8; 512];
    let mut n = 0;
    for part in parts {
        let p = part.as_bytes();
        let Some(slot) = buf.get_mut(n..n + p.len() + 1) else {
            use std::hash::Hasher;
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            for part in parts {
                h.update(part.as_bytes());
                h.update(&[0xff]);
            }
            return h.finish();
        };
        slot[..p.len()].copy_from_slice(p);
        slot[p.len()] = 0xff;
        n += p.len() + 1;
    }
    xxhash_rust::xxh3::xxh3_64(&buf[..n])
}

// Searchers built once: `str::find` and `memmem::find` build one on every call, which cost more than
// the search on every record.
static ASSUMED_ROLE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(":assumed-role/"));
static ROLE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(":role/"));

/// `arn:aws:sts::<acct>:assumed-role/<role>/<session>` -> `<session>`; else the part after `:` in the
/// principal id (`AROA...:i-...`).
fn session_name<'s>(arn: &'s str, principal_id: &'s str) -> &'s str {
    if let Some(pos) = ASSUMED_ROLE.find(arn.as_bytes()) {
        let rest = &arn[pos + ":assumed-role/".len()..];
        // A byte search, inlined: `str::find` on a char went through a searcher object per record.
        if let Some(slash) = rest.bytes().position(|c| c == b'/') {
            return &rest[slash + 1..];
        }
    }
    match principal_id.split_once(':') {
        Some((_, s)) => s,
        None => "",
    }
}

/// Copies one raw record into `batch` when it passes `filter`.
pub fn normalize(rec: &RawRecord<'_>, filter: &Filter, batch: &mut Batch) -> Normalized {
    let time_ms = if !rec.event_time.is_empty() {
        parse_ms(&rec.event_time)
    } else if !rec.at_timestamp.is_empty() {
        parse_ms(&rec.at_timestamp)
    } else {
        None
    };
    let uid = rec.user_identity.as_ref();
    let account = if rec.recipient_account_id.is_empty() {
        uid.map_or("", |u| u.account_id.as_ref())
    } else {
        rec.recipient_account_id.as_ref()
    };
    if !filter.keeps(time_ms, account, &rec.aws_region) {
        return Normalized::Filtered;
    }

    let mut b = batch.begin();
    let (key, lower_uuid) = dedup_key(&rec.event_id);
    b.dedup_key(key);
    b.lower_uuid(lower_uuid);
    b.set(Field::EventId, &rec.event_id);
    b.set(Field::AccountId, account);
    b.set(Field::Region, &rec.aws_region);
    b.set(Field::EventSource, &rec.event_source);
    b.set(Field::EventName, &rec.event_name);
    b.set(Field::EventType, &rec.event_type);
    b.set(Field::ErrorCode, &rec.error_code);
    b.set(Field::SourceIp, &rec.source_ip);
    b.set(Field::UserAgent, &rec.user_agent);
    b.set(Field::VpcEndpointId, &rec.vpc_endpoint_id);
    b.set(Field::VpcEndpointAccountId, &rec.vpc_endpoint_account_id);
    if uid.is_some_and(|u| u.access_key_id.starts_with("ASIA")) {
        b.use_hash(use_hash([&rec.source_ip, &rec.vpc_endpoint_id, &rec.user_agent, &rec.aws_region]));
    }

    let mut issued_ms = None;
    if let Some(u) = uid {
        b.set(Field::PrincipalType, &u.kind);
        b.set(Field::PrincipalId, &u.principal_id);
        b.set(Field::PrincipalArn, &u.arn);
        b.set(Field::UserName, &u.user_name);
        b.set(Field::AccessKeyId, &u.access_key_id);
        b.set(Field::InvokedBy, &u.invoked_by);
        b.set(Field::IdentityProvider, &u.identity_provider);
        b.set(Field::SessionName, session_name(&u.arn, &u.principal_id));
        if let Some(ctx) = &u.session_context {
            b.set(Field::Ec2RoleDelivery, &ctx.ec2_role_delivery);
            if let Some(iss) = &ctx.session_issuer {
                if iss.kind == "Role" || ROLE.find(iss.arn.as_bytes()).is_some() {
                    b.set(Field::RoleArn, &iss.arn);
                    b.set(Field::RoleId, &iss.principal_id);
                }
            }
            if let Some(attrs) = &ctx.attributes {
                issued_ms = parse_ms(&attrs.creation_date);
            }
        }
    }
    b.time(time_ms, issued_ms, rec.read_only);

    for r in &rec.resources {
        b.resource(&r.arn, &r.kind, &r.account_id);
    }
    let keep_raw = filter.keep_raw_all
        || matches!((&filter.keep_raw_for, uid), (Some(keep), Some(u)) if keep.contains(u.access_key_id.as_ref()));
    if keep_raw {
        if let Some(t) = kept_raw(rec.request_parameters) {
            b.set(Field::RequestParameters, &t);
        }
        if let Some(t) = kept_raw(rec.response_elements) {
            b.set(Field::ResponseElements, &t);
        }
    }

    if crate::detect::origin::is_s3_source(&rec.event_source) {
        if let Some(a) = rec.additional_event_data.and_then(read_additional) {
            b.set(Field::AuthMethod, &a.auth_method);
        }
    }
    let name: &str = &rec.event_name;
    if reads_request(name) {
        if let Some(req) = rec.request_parameters.and_then(read_request) {
            b.set(Field::MintedRoleArn, &req.role_arn);
            b.set(Field::MintedSessionName, &req.role_session_name);
            b.set(Field::TargetInstanceId, &req.instance_id);
            b.set(Field::TargetPublicIp, &req.public_ip);
            b.set(Field::AllocationId, &req.allocation_id);
            b.set(Field::TargetRoleName, &req.role_name);
            b.set(Field::TargetPolicyName, &req.policy_name);
        }
    }
    if name == "TerminateInstances" {
        if let Some(ids) = rec.request_parameters.and_then(terminated_instances) {
            b.set(Field::TargetInstanceId, &ids);
        }
    }
    if is_minting_call(name) || name == "AllocateAddress" {
        if let Some(resp) = rec.response_elements.and_then(read_response) {
            if let Some(c) = &resp.credentials {
                b.set(Field::MintedKey, &c.access_key_id);
            }
            if let Some(u) = &resp.assumed_role_user {
                if let Some((role_id, session)) = u.assumed_role_id.split_once(':') {
                    b.set(Field::MintedRoleId, role_id);
                    if b.peek(Field::MintedSessionName).is_empty() {
                        b.set(Field::MintedSessionName, session);
                    }
                }
            }
            if b.peek(Field::TargetPublicIp).is_empty() {
                b.set(Field::TargetPublicIp, &resp.public_ip);
            }
            if b.peek(Field::AllocationId).is_empty() {
                b.set(Field::AllocationId, &resp.allocation_id);
            }
        }
    }
    if name == "CreateAccessKey" && rec.error_code.is_empty() {
        set_created_key(rec, &mut b);
    }
    b.finish();
    let has_time_text = !rec.event_time.is_empty() || !rec.at_timestamp.is_empty();
    if time_ms.is_none() && has_time_text { Normalized::BadTime } else { Normalized::Kept }
}

/// `requestParameters` as serde_json reads it; the fast reader first, which gives the same or stands
/// aside ([`super::fast::params`]).
fn read_request(raw: &str) -> Option<RawRequest<'_>> {
    super::fast::params::request(raw).or_else(|| serde_json::from_str(raw).ok())
}

/// Most instances one `TerminateInstances` record is read for: a forged record may list millions.
const MAX_TERMINATED: usize = 1000;

/// The instances a `TerminateInstances` names, space-separated, in the request's order. Only ids of
/// EC2's own shape (`i-` and 8 to 17 lower-case hex digits) count: the Athena head reads them with
/// that pattern (`queries/_events.sql`). Rare calls: serde_json alone reads them.
fn terminated_instances(raw: &str) -> Option<String> {
    let req: RawTerminate<'_> = serde_json::from_str(raw).ok()?;
    let set = req.instances_set?;
    let ec2_id = |id: &str| {
        id.strip_prefix("i-")
            .is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
    };
    let ids: Vec<&str> =
        set.items.iter().map(|i| i.instance_id.as_ref()).filter(|id| ec2_id(id)).take(MAX_TERMINATED).collect();
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// S3's `additionalEventData` as serde_json reads it; the fast reader first (see [`read_request`]).
fn read_additional(raw: &str) -> Option<RawAdditional<'_>> {
    super::fast::params::additional(raw).or_else(|| serde_json::from_str(raw).ok())
}

/// `responseElements` as serde_json reads it; the fast reader first (see [`read_request`]).
fn read_response(raw: &str) -> Option<RawResponse<'_>> {
    super::fast::params::response(raw).or_else(|| serde_json::from_str(raw).ok())
}

/// `responseElements.accessKey` of `CreateAccessKey`: blast-radius reports follow the new key.
#[derive(serde::Deserialize)]
struct CreatedAccessKey<'a> {
    #[serde(rename = "accessKey", borrow)]
    access_key: CreatedAccessKeyId<'a>,
}

#[derive(serde::Deserialize)]
struct CreatedAccessKeyId<'a> {
    #[serde(rename = "accessKeyId", borrow)]
    access_key_id: std::borrow::Cow<'a, str>,
}

/// The id of the key a `CreateAccessKey` call created (an unreadable response leaves it unset).
fn set_created_key(rec: &RawRecord<'_>, b: &mut crate::event::EventBuilder<'_>) {
    if let Some(k) = rec.response_elements.and_then(|raw| serde_json::from_str::<CreatedAccessKey<'_>>(raw).ok()) {
        b.set(Field::CreatedKey, &k.access_key.access_key_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keys() {
        let (a, lower) = dedup_key("2a5178c8-b4c7-44ba-b066-1ecc79b7087c");
        assert_eq!((a, lower), (Some(0x2a5178c8_b4c7_44ba_b066_1ecc79b7087c), true));
        assert_eq!(dedup_key("2A5178C8-B4C7-44BA-B066-1ECC79B7087C"), (a, false));
        assert_eq!(dedup_key("2a5178c8-b4c7-44ba-b066-1ecc79b7087C"), (a, false));
        assert!(dedup_key("sanitized").0.unwrap() >> 127 == 1);
        assert!(!dedup_key("sanitized").1);
        assert_eq!(dedup_key(""), (None, false));
    }

    #[test]
    fn uuid_bits_are_the_hex_digits_and_refuse_anything_else() {
        let id = "2a5178c8-b4c7-44ba-b066-1ecc79b7087c";
        let digits: String = id.chars().filter(|c| *c != '-').collect();
        let want = u128::from_str_radix(&digits, 16).ok();
        assert_eq!(uuid_bits(id, false), want);
        assert_eq!(uuid_bits(&id.to_uppercase(), true), want);
        assert_eq!(uuid_bits(&id.to_uppercase(), false), None);
        for at in 0..id.len() {
            let mut bad = id.as_bytes().to_vec();
            bad[at] = if bad[at] == b'-' { b'0' } else { b'g' };
            assert_eq!(uuid_bits(std::str::from_utf8(&bad).unwrap(), true), None, "byte {at}");
        }
        // The detector's shortcut: a dedup key marked lower-case is exactly the lower-case parse.
        for c in (0u8..=255).filter(u8::is_ascii) {
            for at in [0, 7, 8, 9, 20, 35] {
                let mut v = id.as_bytes().to_vec();
                v[at] = c;
                let text = std::str::from_utf8(&v).unwrap();
                let (key, lower) = dedup_key(text);
                assert_eq!(lower.then_some(key).flatten(), uuid_bits(text, false), "{text}");
            }
        }
        assert_eq!(uuid_bits(&id[1..], true), None);
        assert_eq!(uuid_bits(&format!("{id}0"), true), None);
    }

    #[test]
    fn use_hash_is_the_streaming_hash_whatever_the_length() {
        use std::hash::Hasher;
        let long = "x".repeat(600);
        for parts in [["1.2.3.4", "", "aws-cli/2", "us-east-1"], ["1.2.3.4", "vpce-1", long.as_str(), "eu-west-1"]] {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            for p in parts {
                h.update(p.as_bytes());
                h.update(&[0xff]);
            }
            assert_eq!(use_hash(parts), h.finish());
        }
        assert_ne!(use_hash(["ab", "", "c", ""]), use_hash(["a", "b", "c", ""]));
    }

    #[test]
    fn kept_raw_is_redacted_cut_and_never_parsed_past_what_cloudtrail_writes() {
        let small = r#"{"roleArn":"arn:aws:iam::1:role/r","password":"hunter2"}"#;
        let kept = kept_raw(Some(small)).unwrap();
        assert!(kept.contains("arn:aws:iam::1:role/r") && !kept.contains("hunter2"), "{kept}");
        let long = format!(r#"{{"a":"{}"}}"#, "x".repeat(100_000));
        let kept = kept_raw(Some(&long)).unwrap();
        assert!(kept.ends_with("...(truncated)") && kept.len() < 17 * 1024, "{}", kept.len());
        let huge = format!(r#"{{"a":[{}0]}}"#, "0,".repeat(200_000));
        let kept = kept_raw(Some(&huge)).unwrap();
        assert_eq!(kept, format!("\"({} bytes, more than a CloudTrail event holds: not kept)\"", huge.len()));
        assert!(serde_json::from_str::<String>(&kept).is_ok(), "still JSON: {kept}");
        assert_eq!(kept_raw(Some("null")), None);
        assert_eq!(kept_raw(None), None);
    }

    #[test]
    fn session_names() {
        assert_eq!(session_name("arn:aws:sts::1:assumed-role/r/i-0abc", ""), "i-0abc");
        assert_eq!(session_name("", "AROAX:fn-name"), "fn-name");
        assert_eq!(session_name("arn:aws:iam::1:user/bob", "AIDAX"), "");
    }
}
