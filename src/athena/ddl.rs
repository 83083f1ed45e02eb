//! `trailhound athena ddl`: the CloudTrail table for a trail bucket, from `queries/create_table*.sql`.
//!
//! DDL takes no parameters, so every value written into it is checked first: a bucket URL, an
//! organization id, account ids, region names and a day, nothing else.

/// The table for a trail's bucket (`AWSLogs/<account>/...`).
pub const CREATE_TABLE: &str = include_str!("../../queries/create_table.sql");
/// The table for an organization trail's bucket (`AWSLogs/<o-id>/<account>/...`).
pub const CREATE_TABLE_ORG: &str = include_str!("../../queries/create_table_org.sql");

/// Commercial regions CloudTrail delivers from, the default of `--region` (a region the table does
/// not project is never read; list yours when in doubt).
pub const DEFAULT_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
];

/// What the table covers.
#[derive(Clone, Debug)]
pub struct TableSpec {
    /// The table's name.
    pub table: String,
    /// `s3://bucket[/prefix]`: where `AWSLogs/` is.
    pub location: String,
    /// The organization id (`o-...`) of an organization trail.
    pub org: Option<String>,
    /// Accounts to project (12 digits each).
    pub accounts: Vec<String>,
    /// Regions to project.
    pub regions: Vec<String>,
    /// The first day (`yyyy/MM/dd`).
    pub start: String,
}

fn bucket_url_ok(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("s3://") else { return false };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let prefix_ok = prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    bucket_ok && prefix_ok
}

/// The DDL for `spec`, every value checked; errors name the bad value.
pub fn render(spec: &TableSpec) -> anyhow::Result<String> {
    super::check_identifier("--athena-table", &spec.table)?;
    let location = spec.location.trim_end_matches('/');
    let location = location.strip_suffix("/AWSLogs").unwrap_or(location);
    if !bucket_url_ok(location) {
        anyhow::bail!("--location {:?} is not s3://bucket[/prefix] (the folder holding AWSLogs/)", spec.location);
    }
    if spec.accounts.is_empty() {
        anyhow::bail!("--account: name the accounts whose logs the table reads (12-digit ids)");
    }
    let window = super::Window {
        since_ms: 0,
        until_ms: 1,
        margin_ms: 0,
        accounts: spec.accounts.clone(),
        regions: spec.regions.clone(),
    };
    window.check()?;
    let day_ok = spec.start.len() == 10 && chrono::NaiveDate::parse_from_str(&spec.start, "%Y/%m/%d").is_ok();
    if !day_ok {
        anyhow::bail!("--start {:?} is not a day (yyyy/MM/dd)", spec.start);
    }
    let regions: Vec<&str> = if spec.regions.is_empty() {
        DEFAULT_REGIONS.to_vec()
    } else {
        spec.regions.iter().map(String::as_str).collect()
    };
    let template = match &spec.org {
        Some(org) => {
            let ok = org.len() >= 12
                && org.len() <= 34
                && org.starts_with("o-")
                && org[2..].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !ok {
                anyhow::bail!("--org {org:?} is not an organization id (o- and 10 to 32 lowercase letters or digits)");
            }
            CREATE_TABLE_ORG.replace("{{ORG}}", org)
        }
        None => CREATE_TABLE.to_owned(),
    };
    Ok(template
        .replace("{{TABLE}}", &spec.table)
        .replace("{{LOCATION}}", location)
        .replace("{{ACCOUNTS}}", &spec.accounts.join(","))
        .replace("{{REGIONS}}", &regions.join(","))
        .replace("{{START}}", &spec.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TableSpec {
        TableSpec {
            table: "org_trail".into(),
            location: "s3://trail-bucket/logs/AWSLogs/".into(),
            org: Some("o-abcde12345".into()),
            accounts: vec!["111122223333".into()],
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            start: "2024/01/01".into(),
        }
    }

    #[test]
    fn org_ddl_projects_account_region_and_day() {
        let d = render(&spec()).unwrap();
        assert!(d.contains("CREATE EXTERNAL TABLE IF NOT EXISTS org_trail ("), "{d}");
        assert!(d.contains("LOCATION 's3://trail-bucket/logs/AWSLogs/o-abcde12345/'"), "{d}");
        assert!(d.contains(
            "'storage.location.template' = 's3://trail-bucket/logs/AWSLogs/o-abcde12345/${account}/CloudTrail/${region}/${timestamp}'"
        ));
        assert!(d.contains("'projection.region.values' = 'us-east-1,eu-west-1'"));
        assert!(d.contains("'projection.timestamp.range' = '2024/01/01,NOW'"));
        assert!(!d.contains("{{"), "{d}");
    }

    #[test]
    fn single_trail_ddl_has_no_org_segment() {
        let d = render(&TableSpec { org: None, regions: vec![], ..spec() }).unwrap();
        assert!(d.contains("'s3://trail-bucket/logs/AWSLogs/${account}/CloudTrail/${region}/${timestamp}'"), "{d}");
        assert!(d.contains("us-east-1,us-east-2,"));
    }

    #[test]
    fn values_written_into_ddl_are_checked() {
        for bad in [
            TableSpec { location: "s3://b/x'; DROP TABLE t; --".into(), ..spec() },
            TableSpec { location: "https://bucket".into(), ..spec() },
            TableSpec { org: Some("o-ABC'".into()), ..spec() },
            TableSpec { accounts: vec!["1111'".into()], ..spec() },
            TableSpec { accounts: vec![], ..spec() },
            TableSpec { start: "2024-01-01".into(), ..spec() },
            TableSpec { table: "a-b".into(), ..spec() },
        ] {
            assert!(render(&bad).is_err(), "{bad:?}");
        }
    }
}
