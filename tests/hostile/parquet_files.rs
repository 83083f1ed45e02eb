//! Crafted Parquet files: dictionaries named by every row, columns never read, wrong types, pages
//! larger than they look, delta-encoded strings, lists of countless entries.

use super::*;

/// A Parquet file of `rows` rows with the columns an export's reader requires, plus `extra` (name,
/// column) beside them, zstd-compressed and dictionary-encoded as an export is.
fn parquet_with(rows: usize, extra: Vec<(&str, arrow_array::ArrayRef)>) -> Vec<u8> {
    parquet_written(rows, extra, parquet::file::properties::WriterProperties::builder())
}

/// [`parquet_with`], with these writer settings besides zstd and large dictionary pages.
fn parquet_written(
    rows: usize,
    extra: Vec<(&str, arrow_array::ArrayRef)>,
    props: parquet::file::properties::WriterPropertiesBuilder,
) -> Vec<u8> {
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    let text = |v: &str| -> ArrayRef { std::sync::Arc::new(StringArray::from(vec![v; rows])) };
    let ids: ArrayRef = std::sync::Arc::new(StringArray::from((0..rows).map(|i| uuid(i as u32)).collect::<Vec<_>>()));
    let mut cols =
        vec![("event_id", ids), ("event_name", text("GetCallerIdentity")), ("event_source", text("sts.amazonaws.com"))];
    cols.extend(extra);
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let props = props
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .set_dictionary_page_size_limit(64 << 20)
        .build();
    // No Arrow schema embedded: the columns read as the plain strings Parquet says they are.
    let opts =
        parquet::arrow::arrow_writer::ArrowWriterOptions::new().with_properties(props).with_skip_arrow_metadata(true);
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new_with_options(&mut out, batch.schema(), opts).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

/// Every row naming the same `len`-byte value through a dictionary: stored once, however many rows.
fn one_value_everywhere(rows: usize, len: usize) -> arrow_array::ArrayRef {
    use arrow_array::{DictionaryArray, Int32Array, StringArray, types::Int32Type};
    let keys = Int32Array::from(vec![0; rows]);
    let values = StringArray::from(vec!["a".repeat(len)]);
    std::sync::Arc::new(DictionaryArray::<Int32Type>::try_new(keys, std::sync::Arc::new(values)).unwrap())
}

/// Held by the tests that build large Parquet files: a child spawned while this process holds
/// hundreds of MB counts them in its own peak (the memory of the process it was forked from).
static PARQUET_BUILDS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn parquet_dictionaries_are_neither_copied_per_row_nor_read_past_the_budget() {
    let _one_at_a_time = PARQUET_BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // A 1 MB user agent named by 20,000 rows: 20 GB once every row holds its own copy, 4 GB a batch.
    let agent = parquet_with(20_000, vec![("user_agent", one_value_everywhere(20_000, 1 << 20))]);
    assert!(agent.len() < 1 << 20, "the forged file is small: {}", agent.len());
    std::fs::write(dir.path().join("agent.parquet"), &agent).unwrap();
    // The same value in a column the reader never reads: never decoded, every row read.
    let junk = parquet_with(20_000, vec![("junk", one_value_everywhere(20_000, 1 << 20))]);
    std::fs::write(dir.path().join("junk.parquet"), &junk).unwrap();
    // A column read as text, of another type: the file is refused, not half understood.
    let wide: arrow_array::ArrayRef = std::sync::Arc::new(arrow_array::Int64Array::from(vec![7; 10]));
    std::fs::write(dir.path().join("typed.parquet"), parquet_with(10, vec![("user_agent", wide)])).unwrap();

    let m = scan_measured(&[&path_str(dir.path()), "--max-input-size", "16MiB"], 300);
    assert!(m.peak_mb < BASELINE_MB, "peak {} MB", m.peak_mb);
    assert!(!m.summary.is_null(), "{}", m.stderr);
    let partial = reasons(&m.summary, "inputs_partial");
    assert_eq!(partial.len(), 1, "{}", m.summary);
    assert!(partial[0].0.ends_with("agent.parquet"), "{partial:?}");
    assert!(partial[0].1.contains("rows hold more than 16777216 bytes"), "{partial:?}");
    // 16 MiB of budget covers 15 rows of a 1 MB value and what each row costs besides.
    assert_eq!(m.summary["inputs_partial"][0]["records"], 15, "{}", m.summary);
    let skipped = reasons(&m.summary, "inputs_skipped");
    assert_eq!(skipped.len(), 1, "{}", m.summary);
    assert!(skipped[0].0.ends_with("typed.parquet"), "{skipped:?}");
    assert!(skipped[0].1.contains("column user_agent is Int64, not what trailhound export writes"), "{skipped:?}");
    assert_eq!(m.summary["inputs_read"], 1, "junk.parquet, whole: {}", m.summary);
    // The two files share their event ids.
    assert_eq!(m.summary["records"], 20_000, "{}", m.summary);
    assert_eq!(m.summary["duplicates"], 15, "{}", m.summary);
    assert_eq!(m.code, 3, "{}", m.stderr);
}

#[test]
fn parquet_pages_are_checked_before_any_is_decoded() {
    let _one_at_a_time = PARQUET_BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    use parquet::file::properties::WriterProperties;
    let dir = tempfile::tempdir().unwrap();
    // One 8 MB dictionary value: its page takes 8 MB to decode, from a file of a few KB.
    let big = parquet_with(10, vec![("user_agent", one_value_everywhere(10, 8 << 20))]);
    assert!(big.len() < 64 << 10, "{}", big.len());
    std::fs::write(dir.path().join("page.parquet"), big).unwrap();
    // Delta-encoded strings, whose shared prefixes the reader copies for every row.
    let delta = WriterProperties::builder()
        .set_column_dictionary_enabled("user_agent".into(), false)
        .set_column_encoding("user_agent".into(), parquet::basic::Encoding::DELTA_BYTE_ARRAY);
    let agents: arrow_array::ArrayRef = std::sync::Arc::new(arrow_array::StringArray::from(vec!["aws-cli/2"; 10]));
    std::fs::write(dir.path().join("delta.parquet"), parquet_written(10, vec![("user_agent", agents)], delta)).unwrap();
    // One row whose resources list has 300,000 entries: a few KB of levels. (Kept small: this test's
    // own memory, at a spawn in a test beside it, counts in that child's peak.)
    let list = {
        use arrow_array::builder::{ListBuilder, StringBuilder, StructBuilder};
        let fields = vec![
            arrow_schema::Field::new("arn", arrow_schema::DataType::Utf8, true),
            arrow_schema::Field::new("type", arrow_schema::DataType::Utf8, true),
            arrow_schema::Field::new("account_id", arrow_schema::DataType::Utf8, true),
        ];
        let mut b = ListBuilder::new(StructBuilder::from_fields(fields, 0));
        for _ in 0..300_000 {
            let s = b.values();
            for i in 0..3 {
                s.field_builder::<StringBuilder>(i).unwrap().append_null();
            }
            s.append(false);
        }
        b.append(true);
        b.finish()
    };
    std::fs::write(dir.path().join("list.parquet"), parquet_with(1, vec![("resources", std::sync::Arc::new(list))]))
        .unwrap();

    let m = scan_measured(&[&path_str(dir.path()), "--max-input-size", "4MiB"], 300);
    assert!(m.peak_mb < BASELINE_MB, "peak {} MB", m.peak_mb);
    let skipped: std::collections::BTreeMap<String, String> =
        reasons(&m.summary, "inputs_skipped").into_iter().collect();
    assert_eq!(skipped.len(), 3, "{}", m.summary);
    let over = "more than the 4194304 allowed";
    assert!(
        skipped["page.parquet"].contains("column user_agent") && skipped["page.parquet"].contains(over),
        "{skipped:?}"
    );
    assert!(skipped["delta.parquet"].contains("delta-encoded strings"), "{skipped:?}");
    assert!(
        skipped["list.parquet"].contains("column resources") && skipped["list.parquet"].contains(over),
        "{skipped:?}"
    );
    assert_eq!(m.code, 3, "{}", m.stderr);
}
