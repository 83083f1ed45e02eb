//! The queries of `queries/`, embedded, and the values they take (Athena `ExecutionParameters`).

/// One aggregate query.
#[derive(Clone, Copy, Debug)]
pub struct Query {
    /// Its name: the file name in `queries/` without `.sql`, and the part of the facts it fills.
    pub name: &'static str,
    /// The Trino SQL as written in `queries/`, table named `"cloudtrail_logs"`.
    pub sql: &'static str,
}

/// The head every aggregate query shares (window, de-duplication, normalization).
pub const EVENTS_HEAD: &str = include_str!("../../queries/_events.sql");

/// Every aggregate query, in the order they run (the cheap ones first: a refused budget stops early).
pub const QUERIES: [Query; 6] = [
    Query { name: "accounts", sql: include_str!("../../queries/accounts.sql") },
    Query { name: "deliveries", sql: include_str!("../../queries/deliveries.sql") },
    Query { name: "addresses", sql: include_str!("../../queries/addresses.sql") },
    Query { name: "minted", sql: include_str!("../../queries/minted.sql") },
    Query { name: "humans", sql: include_str!("../../queries/humans.sql") },
    Query { name: "uses", sql: include_str!("../../queries/uses.sql") },
];

/// The table name as the query files write it.
const TABLE_TOKEN: &str = "\"cloudtrail_logs\"";

impl Query {
    /// The query for `table` (checked to be a plain identifier by the caller).
    pub fn for_table(&self, table: &str) -> String {
        self.sql.replace(TABLE_TOKEN, &format!("\"{table}\""))
    }
}

/// What the queries read: the partitions (days, accounts, regions) and the event times.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Events at or after this time (epoch ms).
    pub since_ms: i64,
    /// Events before this time (epoch ms).
    pub until_ms: i64,
    /// How long after an event CloudTrail may deliver it (ms): the last day partition read is
    /// the one holding `until + margin` (partitions are named by delivery time).
    pub margin_ms: i64,
    /// Accounts to read (empty: all the table projects).
    pub accounts: Vec<String>,
    /// Regions to read (empty: all).
    pub regions: Vec<String>,
}

/// A string as a SQL literal for `ExecutionParameters` (quotes doubled).
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y/%m/%d").to_string()).unwrap_or_default()
}

impl Window {
    /// The window of `--since` (required: every query is bounded by days), `--until` (default `now_ms`),
    /// `--account` and `--region`.
    pub fn from_filter(f: &crate::decode::normalize::Filter, margin_ms: i64, now_ms: i64) -> anyhow::Result<Window> {
        let Some(since_ms) = f.since_ms else {
            anyhow::bail!("--engine athena needs --since: every query is bounded by a window of days");
        };
        let w = Window {
            since_ms,
            until_ms: f.until_ms.unwrap_or(now_ms),
            margin_ms,
            accounts: f.accounts.clone(),
            regions: f.regions.clone(),
        };
        w.check()?;
        Ok(w)
    }

    /// The twelve positional parameters every query takes, in order (see `queries/_events.sql`).
    pub fn parameters(&self) -> Vec<String> {
        let accounts = literal(&self.accounts.join(","));
        let regions = literal(&self.regions.join(","));
        let (partition_accounts, partition_regions) = (accounts.clone(), regions.clone());
        vec![
            // Objects are named by delivery, never before the event (the local engine prunes alike);
            // the margin covers late delivery into later days.
            literal(&day(self.since_ms)),
            literal(&day(self.until_ms.saturating_add(self.margin_ms))),
            partition_accounts.clone(),
            partition_accounts,
            partition_regions.clone(),
            partition_regions,
            self.since_ms.to_string(),
            self.until_ms.to_string(),
            accounts.clone(),
            accounts,
            regions.clone(),
            regions,
        ]
    }

    /// Checks the values that go into parameters: accounts are 12 digits, regions look like regions
    /// (a comma inside one would split it).
    pub fn check(&self) -> anyhow::Result<()> {
        for a in &self.accounts {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("--account {a:?} is not a 12-digit account id");
            }
        }
        for r in &self.regions {
            if r.is_empty() || !r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                anyhow::bail!("--region {r:?} is not a region name (such as us-east-1)");
            }
        }
        if self.until_ms <= self.since_ms {
            anyhow::bail!("the window is empty: --until is not after --since");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_carries_the_shared_head_verbatim() {
        for q in QUERIES {
            assert!(q.sql.contains(EVENTS_HEAD), "queries/{}.sql does not hold queries/_events.sql verbatim", q.name);
            assert_eq!(q.sql.matches('?').count(), 12, "queries/{}.sql: parameters", q.name);
        }
    }

    /// The quoted names of the `IN (...)` list that follows `after` in the shared head.
    fn sql_list(after: &str) -> Vec<String> {
        let at = EVENTS_HEAD.find(after).unwrap_or_else(|| panic!("queries/_events.sql lacks {after:?}"));
        let rest = &EVENTS_HEAD[at + after.len()..];
        let list = &rest[..rest.find(')').expect("an IN list ends")];
        let mut names: Vec<String> = list.split(',').map(|n| n.trim().trim_matches('\'').to_owned()).collect();
        names.sort();
        names
    }

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        v.sort();
        v
    }

    // The scan and Athena must call the same calls redeemed links, or the two engines' findings part.
    #[test]
    fn the_sql_head_reads_links_as_the_detector_does() {
        use crate::detect::origin::{ECR_SOURCE, ECR_TOKEN_CALLS, LINK_CALLS, S3_SOURCES};
        assert_eq!(sql_list("auth_method = 'QueryString' AND event_name IN ("), sorted(&LINK_CALLS));
        assert_eq!(sql_list("CASE WHEN eventsource IN ("), sorted(&S3_SOURCES));
        let ecr = format!("(event_source = '{ECR_SOURCE}' AND event_name IN (");
        assert_eq!(sql_list(&ecr), sorted(&ECR_TOKEN_CALLS));
        let clients: Vec<&str> =
            crate::detect::origin::REGISTRY_CLIENTS.iter().map(|p| p.trim_end_matches('/')).collect();
        let library = crate::detect::origin::REGISTRY_LIBRARY;
        let want = format!("'^({})/|{library}'", clients.join("|"));
        assert!(EVENTS_HEAD.contains(&want), "queries/_events.sql: registry clients {want}");
        assert!(
            EVENTS_HEAD
                .contains("(event_source = 'sts.amazonaws.com' AND event_name = 'GetCallerIdentity') AS replayed"),
            "queries/_events.sql: identity checks"
        );
    }

    #[test]
    fn parameters_are_quoted_literals() {
        let w = Window {
            since_ms: 1_688_947_200_000,
            until_ms: 1_689_033_600_000,
            margin_ms: 7_200_000,
            accounts: vec!["123456789012".into(), "210987654321".into()],
            regions: vec![],
        };
        assert_eq!(
            w.parameters(),
            [
                "'2023/07/10'",
                "'2023/07/11'",
                "'123456789012,210987654321'",
                "'123456789012,210987654321'",
                "''",
                "''",
                "1688947200000",
                "1689033600000",
                "'123456789012,210987654321'",
                "'123456789012,210987654321'",
                "''",
                "''"
            ]
        );
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn bad_window_values_are_refused() {
        let mut w = Window { since_ms: 0, until_ms: 1, margin_ms: 0, accounts: vec!["12,3".into()], regions: vec![] };
        assert!(w.check().is_err());
        w.accounts.clear();
        w.regions = vec!["us-east-1'--".into()];
        assert!(w.check().is_err());
        w.regions.clear();
        assert!(w.check().is_ok());
    }

    #[test]
    fn the_table_name_replaces_the_files_one() {
        let q = QUERIES[0].for_table("trail_2024");
        assert!(q.contains("FROM \"trail_2024\"") && !q.contains("cloudtrail_logs"));
    }
}
