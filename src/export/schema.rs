//! The export's Arrow schema, and the builder that turns normalized events into record batches.
//!
//! One flat column per normalized field (empty fields are nulls), the two times as UTC timestamps,
//! `read_only` as a boolean and `resources` as a list of structs. The README's export section lists
//! the columns; [`columns`] is the single source of their names and order.

use crate::event::{Event, Field};
use arrow_array::builder::{BooleanBuilder, ListBuilder, StringBuilder, StructBuilder, TimestampMillisecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field as ArrowField, Fields, Schema, SchemaRef, TimeUnit};
use std::sync::Arc;

/// Name of the event time column.
pub const EVENT_TIME: &str = "event_time";
/// Name of the session issue time column.
pub const SESSION_ISSUED_AT: &str = "session_issued_at";
/// Name of the `readOnly` column.
pub const READ_ONLY: &str = "read_only";
/// Name of the resources column.
pub const RESOURCES: &str = "resources";

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The column of a normalized field: its stable name, except `region`, which is `aws_region` (as in
/// CloudTrail) so as not to clash with the `region` partition column (Hive and Athena refuse a
/// partition column named like a data column).
pub fn column_name(f: Field) -> &'static str {
    match f {
        Field::Region => "aws_region",
        _ => f.name(),
    }
}

/// The fields of one `resources` entry.
pub fn resource_fields() -> Fields {
    Fields::from(vec![
        ArrowField::new("arn", DataType::Utf8, true),
        ArrowField::new("type", DataType::Utf8, true),
        ArrowField::new("account_id", DataType::Utf8, true),
    ])
}

fn resource_item() -> Arc<ArrowField> {
    Arc::new(ArrowField::new("element", DataType::Struct(resource_fields()), true))
}

/// The export's schema, in column order.
pub fn schema() -> SchemaRef {
    let mut fields = vec![ArrowField::new(EVENT_TIME, timestamp(), true)];
    fields.extend(Field::ALL.iter().map(|&f| ArrowField::new(column_name(f), DataType::Utf8, true)));
    fields.push(ArrowField::new(SESSION_ISSUED_AT, timestamp(), true));
    fields.push(ArrowField::new(READ_ONLY, DataType::Boolean, true));
    fields.push(ArrowField::new(RESOURCES, DataType::List(resource_item()), true));
    Arc::new(Schema::new(fields))
}

/// Column names in order (the README's schema table follows it).
pub fn columns() -> Vec<String> {
    schema().fields().iter().map(|f| f.name().clone()).collect()
}

/// Columns whose values are nearly all distinct: dictionary encoding would only cost time.
pub const NO_DICTIONARY: &[&str] = &["event_id", "request_parameters", "response_elements"];

/// Rows of one partition, accumulated until they are handed to the Parquet writer.
pub struct Rows {
    time: TimestampMillisecondBuilder,
    text: Vec<StringBuilder>,
    issued: TimestampMillisecondBuilder,
    read_only: BooleanBuilder,
    resources: ListBuilder<StructBuilder>,
    len: usize,
    bytes: usize,
}

/// What a row, or a resource, holds in the builders besides its text (offsets, null bits, times).
pub const ROW_BYTES: usize = 200;

impl Default for Rows {
    fn default() -> Self {
        Rows {
            // Empty until used: an export may buffer rows of thousands of partitions at once.
            time: TimestampMillisecondBuilder::with_capacity(0).with_timezone("UTC"),
            text: Field::ALL.iter().map(|_| StringBuilder::with_capacity(0, 0)).collect(),
            issued: TimestampMillisecondBuilder::with_capacity(0).with_timezone("UTC"),
            read_only: BooleanBuilder::with_capacity(0),
            resources: ListBuilder::new(StructBuilder::from_fields(resource_fields(), 0)).with_field(resource_item()),
            len: 0,
            bytes: 0,
        }
    }
}

fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

impl Rows {
    /// Appends one event.
    pub fn push(&mut self, ev: &Event<'_>) {
        self.time.append_option(ev.time_ms());
        for (&f, b) in Field::ALL.iter().zip(self.text.iter_mut()) {
            let v = ev.get(f);
            self.bytes += v.len();
            b.append_option(opt(v));
        }
        self.issued.append_option(ev.issued_ms());
        self.read_only.append_option(ev.read_only());
        let list = self.resources.values();
        let mut any = false;
        for r in ev.resources() {
            any = true;
            for (i, v) in [r.arn, r.kind, r.account_id].into_iter().enumerate() {
                self.bytes += v.len();
                if let Some(b) = list.field_builder::<StringBuilder>(i) {
                    b.append_option(opt(v));
                }
            }
            list.append(true);
            self.bytes += ROW_BYTES;
        }
        // No resources is a null list, as in CloudTrail where the key is absent.
        self.resources.append(any);
        self.len += 1;
        self.bytes += ROW_BYTES;
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no row is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What the rows hold in memory, about: their text, and [`ROW_BYTES`] for each row and each
    /// resource (what decides when the rows are handed on).
    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    /// The rows as one record batch; the builder is left empty.
    pub fn take(&mut self, schema: &SchemaRef) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        cols.push(Arc::new(self.time.finish()));
        for b in &mut self.text {
            cols.push(Arc::new(b.finish()));
        }
        cols.push(Arc::new(self.issued.finish()));
        cols.push(Arc::new(self.read_only.finish()));
        cols.push(Arc::new(self.resources.finish()));
        self.len = 0;
        self.bytes = 0;
        RecordBatch::try_new(schema.clone(), cols)
    }
}
