//! Query rows -> [`Facts`]: one row per fact, columns found by name, every value checked.
//!
//! Values come back as Athena's text. A value that does not parse is an error naming the query, the
//! row and the column: facts made of guesses would judge keys on wrong evidence.

use super::client::ResultTable;
use crate::detect::facts::{AddressFact, DeliveryFact, EventRef, Facts, HumanFact, MintFact, UseFact};

/// One row, read by column name.
struct Row<'a> {
    query: &'a str,
    index: usize,
    table: &'a ResultTable,
    values: &'a [Option<String>],
}

impl<'a> Row<'a> {
    fn value(&self, col: &str) -> anyhow::Result<Option<&'a str>> {
        match self.table.columns.iter().position(|c| c == col) {
            Some(i) => Ok(self.values.get(i).and_then(|v| v.as_deref())),
            None => anyhow::bail!("Athena query {}: no column {col:?} in its result", self.query),
        }
    }

    /// A text column; NULL reads as absent ('').
    fn text(&self, col: &str) -> anyhow::Result<String> {
        Ok(self.value(col)?.unwrap_or_default().to_owned())
    }

    /// An integer column; NULL is `None`.
    fn int(&self, col: &str) -> anyhow::Result<Option<i64>> {
        match self.value(col)? {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                anyhow::anyhow!("Athena query {}, row {}: {col} {v:?} is not an integer", self.query, self.index + 1)
            }),
        }
    }

    /// A boolean column (Athena writes `true`/`false`); NULL is false.
    fn flag(&self, col: &str) -> anyhow::Result<bool> {
        match self.value(col)? {
            None | Some("") => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
            Some(v) => {
                anyhow::bail!("Athena query {}, row {}: {col} {v:?} is not a boolean", self.query, self.index + 1)
            }
        }
    }

    fn count(&self, col: &str) -> anyhow::Result<u64> {
        let v = self.int(col)?.unwrap_or(0);
        u64::try_from(v)
            .map_err(|_| anyhow::anyhow!("Athena query {}, row {}: {col} {v} is negative", self.query, self.index + 1))
    }
}

fn use_fact(r: &Row<'_>) -> anyhow::Result<UseFact> {
    let mut event_ids = Vec::new();
    for n in 1..=3 {
        let id = r.text(&format!("id{n}"))?;
        if !id.is_empty() {
            event_ids.push(EventRef { time_ms: r.int(&format!("id{n}_ms"))?, event_id: id });
        }
    }
    Ok(UseFact {
        access_key_id: r.text("access_key_id")?,
        account_id: r.text("account_id")?,
        role_arn: r.text("role_arn")?,
        role_id: r.text("role_id")?,
        session_name: r.text("session_name")?,
        issued_ms: r.int("issued_ms")?,
        source_ip: r.text("source_ip")?,
        invoked_by: r.text("invoked_by")?,
        vpc_endpoint_id: r.text("vpc_endpoint_id")?,
        vpc_endpoint_account_id: r.text("vpc_endpoint_account_id")?,
        user_agent: r.text("user_agent")?,
        ec2_role_delivery: r.text("ec2_role_delivery")?,
        region: r.text("region")?,
        event_source: r.text("event_source")?,
        count: r.count("calls")?,
        errors: r.count("errors")?,
        writes: r.count("writes")?,
        heartbeats: r.count("heartbeats")?,
        replayed: r.count("replayed")?,
        first_ms: r.int("first_ms")?,
        last_ms: r.int("last_ms")?,
        last_signed_ms: r.int("last_signed_ms")?,
        event_ids,
    })
}

/// Adds the rows of query `name` to `facts`.
pub fn add(name: &str, table: &ResultTable, facts: &mut Facts) -> anyhow::Result<()> {
    for (index, values) in table.rows.iter().enumerate() {
        let r = Row { query: name, index, table, values };
        match name {
            "accounts" => facts.accounts.push(r.text("account_id")?),
            "deliveries" => facts.deliveries.push(DeliveryFact {
                event_name: r.text("event_name")?,
                minted_key: r.text("minted_key")?,
                minted_role_arn: r.text("minted_role_arn")?,
                minted_role_id: r.text("minted_role_id")?,
                minted_session_name: r.text("minted_session_name")?,
                invoked_by: r.text("invoked_by")?,
                source_ip: r.text("source_ip")?,
                identity_provider: r.text("identity_provider")?,
                principal_id: r.text("principal_id")?,
                account_id: r.text("account_id")?,
                region: r.text("region")?,
                event_id: r.text("event_id")?,
                time_ms: r.int("time_ms")?,
            }),
            "uses" => facts.uses.push(use_fact(&r)?),
            "humans" => facts.humans.push(HumanFact {
                principal_type: r.text("principal_type")?,
                principal_arn: r.text("principal_arn")?,
                user_name: r.text("user_name")?,
                role_arn: r.text("role_arn")?,
                source_ip: r.text("source_ip")?,
                invoked_by: r.text("invoked_by")?,
                vpc_endpoint_id: r.text("vpc_endpoint_id")?,
                checks_only: r.flag("checks_only")?,
                last_ms: r.int("last_ms")?,
            }),
            "addresses" => facts.addresses.push(AddressFact {
                event_name: r.text("event_name")?,
                target_instance_id: r.text("target_instance_id")?,
                target_public_ip: r.text("target_public_ip")?,
                allocation_id: r.text("allocation_id")?,
                last_ms: r.int("last_ms")?,
            }),
            "minted" => facts.minted.push(MintFact {
                access_key_id: r.text("access_key_id")?,
                minted_key: r.text("minted_key")?,
                minted_role_arn: r.text("minted_role_arn")?,
                minted_role_id: r.text("minted_role_id")?,
                minted_session_name: r.text("minted_session_name")?,
                time_ms: r.int("time_ms")?,
            }),
            other => anyhow::bail!("no facts come from a query named {other:?}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cols: &[&str], rows: &[&[Option<&str>]]) -> ResultTable {
        ResultTable {
            columns: cols.iter().map(|c| c.to_string()).collect(),
            rows: rows.iter().map(|r| r.iter().map(|v| v.map(str::to_owned)).collect()).collect(),
        }
    }

    #[test]
    fn a_bad_number_names_query_row_and_column() {
        let t = table(
            &["event_name", "target_instance_id", "target_public_ip", "allocation_id", "last_ms"],
            &[&[Some("AllocateAddress"), None, Some("1.2.3.4"), Some("eipalloc-1"), Some("soon")]],
        );
        let e = add("addresses", &t, &mut Facts::default()).unwrap_err().to_string();
        assert!(e.contains("addresses") && e.contains("row 1") && e.contains("last_ms"), "{e}");
    }

    #[test]
    fn a_missing_column_is_an_error() {
        let t = table(&["account"], &[&[Some("123456789012")]]);
        assert!(add("accounts", &t, &mut Facts::default()).is_err());
    }

    #[test]
    fn nulls_read_as_absent() {
        let t = table(
            &["access_key_id", "minted_key", "minted_role_arn", "minted_role_id", "minted_session_name", "time_ms"],
            &[&[Some("ASIA1"), Some("ASIA2"), None, None, Some("s"), None]],
        );
        let mut f = Facts::default();
        add("minted", &t, &mut f).unwrap();
        assert_eq!(f.minted[0].minted_role_arn, "");
        assert_eq!(f.minted[0].time_ms, None);
    }
}
