//! Parquet written by `trailhound export`, read back as CloudTrail records.
//!
//! Each row is rebuilt into the borrowed record model from the export's flat columns, so the row
//! normalizes into the very event it was exported from and a scan over an export finds what a scan
//! over the original logs finds. `request_parameters` and `response_elements` are passed on when
//! they are whole JSON; when the export cut them (over 16 KiB) the few keys normalization reads
//! are rebuilt from their own columns instead.
//!
//! A file is as hostile as any input, and Parquet multiplies: a dictionary page holds a value once for
//! every row that names it, and a plain string array would copy it into each row (one 100 MB value,
//! 4,096 times a batch). So only the columns read here are decoded, strings are read as views into
//! the pages (the dictionary's value is held once), a column of an unexpected type refuses the file,
//! the page headers of the columns read are checked before any page is decoded (their sizes and
//! entries against the budget), and the rows handed on are held to a budget of bytes (see [`budget`]).

use super::raw::{RawAttributes, RawIdentity, RawIssuer, RawRecord, RawResource, RawSessionContext};
use super::{Outcome, Report};
use crate::export::schema::{EVENT_TIME, READ_ONLY, RESOURCES, SESSION_ISSUED_AT};
use arrow_array::{
    Array, BooleanArray, ListArray, RecordBatch, StringViewArray, StructArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::sync::Arc;

/// The text columns read; every other column of a file is never decoded.
const TEXT: &[&str] = &[
    "event_id",
    "account_id",
    "aws_region",
    "event_source",
    "event_name",
    "event_type",
    "error_code",
    "principal_type",
    "principal_id",
    "principal_arn",
    "user_name",
    "role_arn",
    "role_id",
    "access_key_id",
    "ec2_role_delivery",
    "source_ip",
    "user_agent",
    "vpc_endpoint_id",
    "vpc_endpoint_account_id",
    "identity_provider",
    "invoked_by",
    "auth_method",
    "request_parameters",
    "response_elements",
    "minted_role_arn",
    "minted_session_name",
    "target_instance_id",
    "target_public_ip",
    "allocation_id",
    "target_role_name",
    "target_policy_name",
    "minted_access_key_id",
    "minted_role_id",
    "created_access_key_id",
];
const TIMES: &[&str] = &[EVENT_TIME, SESSION_ISSUED_AT];

/// What a row costs besides its values, and each resource besides its three values: about what it
/// takes in memory once rebuilt, so a file of countless empty rows or resources is bounded too.
const ROW_COST: u64 = 64;

/// The bytes of values a file may hand on: the `--max-input-size` cap, or 64 times the file when that
/// is more. An export's rows hold about 20 times its size (zstd over dictionaries), so a large
/// partition is read whole; a crafted file that names one huge value in every row stops at the budget.
pub fn budget(file_bytes: u64, cap: u64) -> u64 {
    cap.max(file_bytes.saturating_mul(64))
}

/// True when `bytes` start like a Parquet file.
pub fn sniff(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PAR1")
}

struct Columns<'b> {
    batch: &'b RecordBatch,
}

impl<'b> Columns<'b> {
    fn text(&self, name: &str) -> Option<&'b StringViewArray> {
        self.batch.column_by_name(name)?.as_any().downcast_ref::<StringViewArray>()
    }
    fn time(&self, name: &str) -> Option<&'b TimestampMillisecondArray> {
        self.batch.column_by_name(name)?.as_any().downcast_ref::<TimestampMillisecondArray>()
    }
}

fn get<'a>(col: Option<&'a StringViewArray>, i: usize) -> &'a str {
    col.filter(|c| c.is_valid(i)).map_or("", |c| c.value(i))
}

fn ts(col: Option<&TimestampMillisecondArray>, i: usize) -> Option<i64> {
    col.filter(|c| c.is_valid(i)).map(|c| c.value(i))
}

/// Strings (and bytes) as views, through lists and structs.
fn as_views(dt: &DataType) -> DataType {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary => DataType::Utf8View,
        DataType::List(f) => DataType::List(Arc::new(f.as_ref().clone().with_data_type(as_views(f.data_type())))),
        DataType::Struct(fs) => DataType::Struct(
            fs.iter().map(|f| f.as_ref().clone().with_data_type(as_views(f.data_type()))).collect::<Fields>(),
        ),
        other => other.clone(),
    }
}

/// The type a column read here must have (as views), or None for a column not read.
fn expected(name: &str, dt: &DataType) -> Option<bool> {
    let ok = if TEXT.contains(&name) {
        *dt == DataType::Utf8View
    } else if TIMES.contains(&name) {
        matches!(dt, DataType::Timestamp(TimeUnit::Millisecond, _))
    } else if name == READ_ONLY {
        *dt == DataType::Boolean
    } else if name == RESOURCES {
        matches!(dt, DataType::List(item) if matches!(item.data_type(), DataType::Struct(fs)
            if fs.iter().all(|f| *f.data_type() == DataType::Utf8View)))
    } else {
        return None;
    };
    Some(ok)
}

/// Decodes one Parquet input, handing every row to `sink` as a record, within [`budget`].
pub fn decode(bytes: &[u8], cap: u64, sink: &mut dyn FnMut(&RawRecord<'_>)) -> Report {
    let mut report = Report {
        format: "parquet",
        outcome: Outcome::Read,
        records: 0,
        rejected: 0,
        bytes_decompressed: bytes.len() as u64,
        warnings: Vec::new(),
    };
    let data = bytes::Bytes::copy_from_slice(bytes);
    // The types Parquet states, not those of an Arrow schema the writer may have embedded.
    let plain = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
    let meta = match ArrowReaderMetadata::load(&data, plain) {
        Ok(m) => m,
        Err(e) => {
            report.outcome = Outcome::Skipped(format!("not a complete Parquet file: {e}"));
            return report;
        }
    };
    let schema = meta.schema().clone();
    if schema.field_with_name("event_name").is_err() || schema.field_with_name("event_source").is_err() {
        report.outcome = Outcome::Ignored("not CloudTrail: Parquet without the columns of a trailhound export".into());
        return report;
    }
    let mut roots = Vec::new();
    let mut fields = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        let f = Field::clone(f).with_data_type(as_views(f.data_type()));
        match expected(f.name(), f.data_type()) {
            Some(true) => roots.push(i),
            Some(false) => {
                // A forged type can be long (a struct of many fields): the first 120 bytes name it.
                let ty = f.data_type().to_string();
                let why = format!(
                    "column {} is {}, not what trailhound export writes: not read",
                    f.name(),
                    &ty[..ty.floor_char_boundary(120)]
                );
                report.outcome = Outcome::Skipped(why);
                return report;
            }
            None => {}
        }
        fields.push(f);
    }
    let budget = budget(bytes.len() as u64, cap);
    let parquet_schema = meta.parquet_schema();
    let read: Vec<bool> = (0..parquet_schema.num_columns())
        .map(|leaf| roots.contains(&parquet_schema.get_column_root_idx(leaf)))
        .collect();
    if let Err(why) = super::parquet_pages::check(&data, meta.metadata(), &read, budget) {
        report.outcome = Outcome::Skipped(format!("{why}: not read"));
        return report;
    }
    let views = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(fields)));
    let built = ArrowReaderMetadata::try_new(meta.metadata().clone(), views).and_then(|m| {
        let mask = ProjectionMask::roots(m.parquet_schema(), roots);
        ParquetRecordBatchReaderBuilder::new_with_metadata(data, m)
            .with_projection(mask)
            .with_batch_size(super::parquet_pages::BATCH_ROWS as usize)
            .build()
    });
    let reader = match built {
        Ok(r) => r,
        Err(e) => {
            report.outcome = Outcome::Skipped(format!("not a complete Parquet file: {e}"));
            return report;
        }
    };
    let mut left = budget;
    for batch in reader {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                let why = format!("Parquet error after {} rows: {e}", report.records);
                report.outcome = if report.records > 0 { Outcome::Partial(why) } else { Outcome::Skipped(why) };
                return report;
            }
        };
        let (n, whole) = rows(&batch, &mut left, sink);
        report.records += n;
        if !whole {
            let why = format!(
                "its rows hold more than {budget} bytes (the --max-input-size cap, or 64 times the file when more): only that much was read"
            );
            report.outcome = if report.records > 0 { Outcome::Partial(why) } else { Outcome::Skipped(why) };
            return report;
        }
    }
    report
}

/// What one row costs against the budget: its values' bytes, and [`ROW_COST`] for it and for each of
/// its resources.
fn row_cost(texts: &[&StringViewArray], resources: Option<&ListArray>, i: usize) -> u64 {
    let mut cost = ROW_COST;
    for col in texts {
        if col.is_valid(i) {
            cost += col.value(i).len() as u64;
        }
    }
    if let Some(list) = resources.filter(|l| l.is_valid(i)) {
        let (from, to) = (list.value_offsets()[i], list.value_offsets()[i + 1]);
        cost += ROW_COST * (to - from).max(0) as u64;
        if let Some(s) = list.values().as_any().downcast_ref::<StructArray>() {
            for col in s.columns() {
                if let Some(c) = col.as_any().downcast_ref::<StringViewArray>() {
                    for j in from.max(0) as usize..to.max(0) as usize {
                        if c.is_valid(j) {
                            cost += c.value(j).len() as u64;
                        }
                    }
                }
            }
        }
    }
    cost
}

/// Hands the rows of one batch to `sink` while `left` covers them; returns how many, and false when
/// the budget ran out before the batch's end.
fn rows(batch: &RecordBatch, left: &mut u64, sink: &mut dyn FnMut(&RawRecord<'_>)) -> (u64, bool) {
    let c = Columns { batch };
    let texts: Vec<&StringViewArray> = TEXT.iter().filter_map(|n| c.text(n)).collect();
    let t = |n: &str| c.text(n);
    let (event_id, account, region, source, name) =
        (t("event_id"), t("account_id"), t("aws_region"), t("event_source"), t("event_name"));
    let (etype, error, ptype, pid, parn) =
        (t("event_type"), t("error_code"), t("principal_type"), t("principal_id"), t("principal_arn"));
    let (user, role_arn, role_id, key, delivery) =
        (t("user_name"), t("role_arn"), t("role_id"), t("access_key_id"), t("ec2_role_delivery"));
    let (ip, agent, vpce, vpce_acct, idp, invoked) = (
        t("source_ip"),
        t("user_agent"),
        t("vpc_endpoint_id"),
        t("vpc_endpoint_account_id"),
        t("identity_provider"),
        t("invoked_by"),
    );
    let (req, resp, auth) = (t("request_parameters"), t("response_elements"), t("auth_method"));
    let (time, issued) = (c.time(EVENT_TIME), c.time(SESSION_ISSUED_AT));
    let read_only = batch.column_by_name(READ_ONLY).and_then(|a| a.as_any().downcast_ref::<BooleanArray>());
    let resources = batch.column_by_name(RESOURCES).and_then(|a| a.as_any().downcast_ref::<ListArray>());
    for i in 0..batch.num_rows() {
        let cost = row_cost(&texts, resources, i);
        if cost > *left {
            return (i as u64, false);
        }
        *left -= cost;
        let g = |col| get(col, i);
        let issued_ms = ts(issued, i);
        let has_context = !g(delivery).is_empty() || !g(role_arn).is_empty() || issued_ms.is_some();
        let session_context = has_context.then(|| RawSessionContext {
            session_issuer: (!g(role_arn).is_empty()).then(|| RawIssuer {
                kind: "Role".into(),
                principal_id: g(role_id).into(),
                arn: g(role_arn).into(),
                user_name: Cow::Borrowed(""),
            }),
            attributes: issued_ms.map(|ms| RawAttributes { creation_date: crate::time::format_ms(ms).into() }),
            ec2_role_delivery: g(delivery).into(),
            source_identity: Cow::Borrowed(""),
        });
        let identity = [ptype, pid, parn, user, key, idp, invoked].iter().any(|&col| !g(col).is_empty())
            || session_context.is_some();
        let user_identity = identity.then(|| RawIdentity {
            kind: g(ptype).into(),
            principal_id: g(pid).into(),
            arn: g(parn).into(),
            account_id: g(account).into(),
            access_key_id: g(key).into(),
            user_name: g(user).into(),
            invoked_by: g(invoked).into(),
            identity_provider: g(idp).into(),
            session_context,
        });
        let request = json_or(g(req), || request_from_columns(&c, i));
        let response = json_or(g(resp), || response_from_columns(&c, i));
        let additional = Some(g(auth))
            .filter(|a| !a.is_empty())
            .and_then(|a| serde_json::value::to_raw_value(&serde_json::json!({ "AuthenticationMethod": a })).ok());
        let rec = RawRecord {
            event_time: ts(time, i).map_or(Cow::Borrowed(""), |ms| crate::time::format_ms(ms).into()),
            event_id: g(event_id).into(),
            event_source: g(source).into(),
            event_name: g(name).into(),
            event_type: g(etype).into(),
            aws_region: g(region).into(),
            recipient_account_id: g(account).into(),
            error_code: g(error).into(),
            read_only: read_only.filter(|a| a.is_valid(i)).map(|a| a.value(i)),
            source_ip: g(ip).into(),
            user_agent: g(agent).into(),
            vpc_endpoint_id: g(vpce).into(),
            vpc_endpoint_account_id: g(vpce_acct).into(),
            user_identity,
            resources: resource_list(resources, i),
            request_parameters: request.as_deref().map(RawValue::get),
            response_elements: response.as_deref().map(RawValue::get),
            additional_event_data: additional.as_deref().map(RawValue::get),
            ..RawRecord::default()
        };
        sink(&rec);
    }
    (batch.num_rows() as u64, true)
}

fn resource_list(col: Option<&ListArray>, i: usize) -> Vec<RawResource<'static>> {
    let Some(list) = col.filter(|l| l.is_valid(i)) else { return Vec::new() };
    let entries = list.value(i);
    let Some(s) = entries.as_any().downcast_ref::<StructArray>() else { return Vec::new() };
    let f = |name: &str| s.column_by_name(name).and_then(|a| a.as_any().downcast_ref::<StringViewArray>().cloned());
    let (arn, kind, acct) = (f("arn"), f("type"), f("account_id"));
    (0..s.len())
        .map(|j| RawResource {
            arn: get(arn.as_ref(), j).to_owned().into(),
            kind: get(kind.as_ref(), j).to_owned().into(),
            account_id: get(acct.as_ref(), j).to_owned().into(),
        })
        .collect()
}

/// The stored JSON when it is whole; else what `rebuild` makes of the flat columns (None when empty).
fn json_or(stored: &str, rebuild: impl FnOnce() -> serde_json::Value) -> Option<Box<RawValue>> {
    if !stored.is_empty() {
        if let Ok(v) = RawValue::from_string(stored.to_owned()) {
            return Some(v);
        }
    }
    let v = rebuild();
    if v.as_object().is_some_and(|m| m.is_empty()) {
        return None;
    }
    serde_json::value::to_raw_value(&v).ok()
}

fn put(m: &mut serde_json::Map<String, serde_json::Value>, key: &str, v: &str) {
    if !v.is_empty() {
        m.insert(key.to_owned(), v.into());
    }
}

fn request_from_columns(c: &Columns<'_>, i: usize) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    if get(c.text("event_name"), i) == "TerminateInstances" {
        // The column holds the instances space-separated; the request lists them as EC2 does.
        let items: Vec<serde_json::Value> = get(c.text("target_instance_id"), i)
            .split(' ')
            .filter(|id| !id.is_empty())
            .map(|id| serde_json::json!({ "instanceId": id }))
            .collect();
        m.insert("instancesSet".into(), serde_json::json!({ "items": items }));
        return m.into();
    }
    for (key, col) in [
        ("roleArn", "minted_role_arn"),
        ("roleSessionName", "minted_session_name"),
        ("instanceId", "target_instance_id"),
        ("publicIp", "target_public_ip"),
        ("allocationId", "allocation_id"),
        ("roleName", "target_role_name"),
        ("policyName", "target_policy_name"),
    ] {
        put(&mut m, key, get(c.text(col), i));
    }
    m.into()
}

fn response_from_columns(c: &Columns<'_>, i: usize) -> serde_json::Value {
    let g = |col: &str| get(c.text(col), i);
    let mut m = serde_json::Map::new();
    if !g("minted_access_key_id").is_empty() {
        m.insert("credentials".into(), serde_json::json!({"accessKeyId": g("minted_access_key_id")}));
    }
    if !g("minted_role_id").is_empty() {
        let id = format!("{}:{}", g("minted_role_id"), g("minted_session_name"));
        m.insert("assumedRoleUser".into(), serde_json::json!({ "assumedRoleId": id }));
    }
    if !g("created_access_key_id").is_empty() {
        m.insert("accessKey".into(), serde_json::json!({"accessKeyId": g("created_access_key_id")}));
    }
    put(&mut m, "publicIp", g("target_public_ip"));
    put(&mut m, "allocationId", g("allocation_id"));
    m.into()
}
