//! CloudTrail's S3 key layout, used to prune inputs before reading them.
//!
//! `AWSLogs/[o-orgid/]<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<rand>.json.gz`.
//! The timestamp in the name is delivery time: a file holds records from the minutes before it.

use crate::time::civil_ms;

/// What a CloudTrail object key says about its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutKey {
    /// The AWS Organizations id (`o-...`) of an organization trail; `None` for an account trail.
    pub org_id: Option<String>,
    /// The 12-digit account id the records belong to.
    pub account: String,
    /// The region the records were logged in.
    pub region: String,
    /// Delivery time from the file name, epoch milliseconds.
    pub delivered_ms: i64,
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `20230710T1155Z` -> epoch milliseconds.
fn stamp_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
        return None;
    }
    let (y, m, d) = (num(&s[0..4])?, num(&s[4..6])?, num(&s[6..8])?);
    let (h, mi) = (num(&s[9..11])?, num(&s[11..13])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 {
        return None;
    }
    Some(civil_ms(y, m, d) + (h * 60 + mi) * 60_000)
}

/// Parses the file name of a CloudTrail log object (the last path segment).
pub fn parse_file_name(name: &str) -> Option<LayoutKey> {
    let mut parts = name.split('_');
    let account = parts.next()?;
    if parts.next()? != "CloudTrail" {
        return None;
    }
    let region = parts.next()?;
    let delivered_ms = stamp_ms(parts.next()?)?;
    if account.len() != 12 || num(account).is_none() || region.is_empty() {
        return None;
    }
    Some(LayoutKey { org_id: None, account: account.to_owned(), region: region.to_owned(), delivered_ms })
}

/// Parses a whole key or path; the organization id comes from the `AWSLogs/o-.../` segment when present.
pub fn parse_key(key: &str) -> Option<LayoutKey> {
    let name = key.rsplit(['/', '\\']).next()?;
    let mut k = parse_file_name(name)?;
    if let Some(pos) = key.find("AWSLogs/") {
        let seg = key[pos + 8..].split('/').next().unwrap_or("");
        if seg.starts_with("o-") {
            k.org_id = Some(seg.to_owned());
        }
    }
    Some(k)
}

/// The account a path under the log layout belongs to (`AWSLogs/[o-.../]<account>/...`), file or
/// folder, whether or not it is read.
pub fn account_of(path: &str) -> Option<&str> {
    let mut segs = path.split(['/', '\\']).skip_while(|s| *s != "AWSLogs").skip(1);
    let first = segs.next()?;
    let account = if first.starts_with("o-") { segs.next()? } else { first };
    (account.len() == 12 && num(account).is_some()).then_some(account)
}

/// True for paths under a `CloudTrail-Digest/` folder, which hold digests, not events.
pub fn is_digest_path(key: &str) -> bool {
    key.split(['/', '\\']).any(|seg| seg == "CloudTrail-Digest")
}

/// Why a layout-named input is not read under the current filters, if it is not.
pub fn prune_reason(
    k: &LayoutKey,
    accounts: &[String],
    regions: &[String],
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    margin_ms: i64,
) -> Option<&'static str> {
    if !accounts.is_empty() && !accounts.iter().any(|a| *a == k.account) {
        return Some("account not selected (--account)");
    }
    if !regions.is_empty() && !regions.iter().any(|r| *r == k.region) {
        return Some("region not selected (--region)");
    }
    // Records in a file are no later than its delivery and no earlier than delivery minus the margin.
    if since_ms.is_some_and(|s| k.delivered_ms < s) {
        return Some("delivered before --since");
    }
    if until_ms.is_some_and(|u| k.delivered_ms - margin_ms >= u) {
        return Some("delivered after --until plus the delivery margin");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_of_a_file_or_folder_under_the_layout() {
        assert_eq!(account_of("s3://b/AWSLogs/o-abc123/444455556666/"), Some("444455556666"));
        assert_eq!(
            account_of("/t/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/x.json.gz"),
            Some("111122223333")
        );
        assert_eq!(account_of("C:\\t\\AWSLogs\\111122223333\\CloudTrail"), Some("111122223333"));
        for no in ["s3://b/AWSLogs/o-abc123/", "s3://b/AWSLogs/12345/", "s3://b/logs/111122223333/", "AWSLogs"] {
            assert_eq!(account_of(no), None, "{no}");
        }
    }

    #[test]
    fn parses_keys() {
        let k = parse_key("AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2026/11/01/111122223333_CloudTrail_eu-west-1_20261101T0005Z_AbCdEf0123456789.json.gz").unwrap();
        assert_eq!(k.account, "111122223333");
        assert_eq!(k.region, "eu-west-1");
        assert_eq!(k.org_id.as_deref(), Some("o-abc123"));
        assert_eq!(k.delivered_ms, civil_ms(2026, 11, 1) + 5 * 60_000);
        assert!(parse_key("notes/readme.json").is_none());
        assert!(parse_key("218007301253_CloudTrail_us-east-1_20230710T1155Z_x.json").is_some());
        assert!(is_digest_path("AWSLogs/1/CloudTrail-Digest/us-east-1/x.json.gz"));
    }

    #[test]
    fn prunes_with_margin() {
        let k = parse_key("111122223333_CloudTrail_us-east-1_20261101T0005Z_x.json.gz").unwrap();
        let day = civil_ms(2026, 11, 1);
        let h = 3_600_000;
        // A file delivered just after midnight may hold records of the day before: keep it for that day.
        assert_eq!(prune_reason(&k, &[], &[], Some(day - 86_400_000), Some(day), 2 * h), None);
        assert!(prune_reason(&k, &[], &[], Some(day + h), None, 2 * h).is_some());
        assert!(prune_reason(&k, &["999999999999".into()], &[], None, None, 0).is_some());
        assert!(prune_reason(&k, &[], &["eu-west-1".into()], None, None, 0).is_some());
    }
}
