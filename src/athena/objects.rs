//! `report` and `timeline` with `--engine athena`: Athena names the objects that hold the records
//! these commands read (`queries/objects.sql`), and trailhound streams just those objects from S3
//! through its own pipeline, so the documents are the local engine's. Findings (which origins are
//! the attacker's) come from the aggregate queries, as `scan --engine athena` computes them: they
//! depend on records of other principals (people's addresses, Elastic IPs) that the objects of one
//! chain need not hold.

use super::client::{ResultTable, run_id, run_query};
use super::{AthenaOptions, AthenaRun, QueryStats, Window};
use crate::blast::MintEdges;
use crate::decode::normalize::Filter;
use crate::detect::{DetectConfig, Detection};
use crate::scan::{self, EventSink, ScanOptions};
use crate::source::{self, Prune};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The objects query, as written in `queries/objects.sql` (table named `"cloudtrail_logs"`).
pub const OBJECTS: super::Query = super::Query { name: "objects", sql: include_str!("../../queries/objects.sql") };

/// Whose records a command reads: any record made with, minting or creating one of the keys; made by,
/// assuming or naming one of the roles; made by or minting one of the sessions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// Access keys (`AKIA...`, `ASIA...`).
    pub keys: Vec<String>,
    /// Role names (an ARN is reduced to its name).
    pub roles: Vec<String>,
    /// Session names.
    pub sessions: Vec<String>,
}

/// Where the queries run and what they read; shared by every round of a narrowing.
pub struct Context<'a> {
    /// AWS connection (Athena and S3).
    pub aws: &'a crate::aws::AwsOptions,
    /// The `--athena-*` options.
    pub opts: &'a AthenaOptions,
    /// The command's window, accounts and regions.
    pub window: &'a Window,
    /// Ctrl-C.
    pub cancel: Arc<AtomicBool>,
}

impl Selection {
    /// Parameters 13 to 15 of `queries/objects.sql`: each list joined by '/', which no key, role
    /// name or session name holds (IAM refuses it), so a value cannot split into two.
    pub fn parameters(&self) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for (what, list) in [("access key", &self.keys), ("role name", &self.roles), ("session name", &self.sessions)] {
            for v in list {
                if v.is_empty() || v.contains('/') || v.chars().any(char::is_control) {
                    anyhow::bail!(
                        "{what} {v:?} cannot be asked of Athena (empty, or holds '/' or a control character)"
                    );
                }
            }
            out.push(super::catalogue::literal(&list.join("/")));
        }
        Ok(out)
    }
}

/// The S3 URLs of the objects the query names, in order, each once.
pub fn urls(table: &ResultTable) -> anyhow::Result<Vec<String>> {
    let mut out = BTreeSet::new();
    for (i, row) in table.rows.iter().enumerate() {
        match row.first() {
            Some(Some(p)) if p.starts_with("s3://") => {
                out.insert(p.clone());
            }
            other => anyhow::bail!(
                "Athena query objects: row {} is not an s3:// object path ({:?})",
                i + 1,
                other.cloned().flatten().unwrap_or_default()
            ),
        }
    }
    Ok(out.into_iter().collect())
}

/// Runs the objects query for `sel` and returns the objects' URLs; the query's costs go into `run`.
pub async fn objects(
    client: &aws_sdk_athena::Client,
    cx: &Context<'_>,
    sel: &Selection,
    round: usize,
    run: &mut AthenaRun,
    progress: &mut dyn FnMut(&QueryStats),
) -> anyhow::Result<Vec<String>> {
    super::check_identifier("--athena-table", &cx.opts.table)?;
    cx.window.check()?;
    let mut params = cx.window.parameters();
    params.extend(sel.parameters()?);
    let name = if round == 0 { "objects".to_owned() } else { format!("objects-{}", round + 1) };
    let sql = (name.as_str(), OBJECTS.for_table(&cx.opts.table));
    let (table, stats) = run_query(client, cx.opts, &run_id(), sql, &params, run.bytes_scanned, &cx.cancel).await?;
    progress(&stats);
    run.bytes_scanned += stats.bytes_scanned;
    run.cost_usd += stats.cost_usd;
    run.elapsed_ms += stats.elapsed_ms;
    run.queries.push(stats);
    urls(&table)
}

/// What `report` or `timeline --engine athena` then reads locally.
pub struct Narrowed {
    /// The objects to stream (`s3://bucket/key`), each once, in name order.
    pub inputs: Vec<String>,
    /// Detection over the window, from the aggregate queries.
    pub detection: Detection,
    /// Every query run.
    pub run: AthenaRun,
}

/// Findings over the window (the aggregate queries) and the objects holding `sel`'s records.
pub fn for_selection(
    rt: &tokio::runtime::Runtime,
    cx: &Context<'_>,
    cfg: DetectConfig,
    sel: &Selection,
    progress: &mut dyn FnMut(&QueryStats),
) -> anyhow::Result<Narrowed> {
    rt.block_on(async {
        let (detection, mut run) = super::engine::detect(cx.aws, cx.opts, cx.window, cfg, &cx.cancel, progress).await?;
        let client = aws_sdk_athena::Client::new(&crate::aws::config(cx.aws).await);
        let inputs = objects(&client, cx, sel, 0, &mut run, progress).await?;
        Ok(Narrowed { inputs, detection, run })
    })
}

/// Findings over the window and the objects a report on `roots` reads: the roots' records, then,
/// round after round, those of the keys minted from them and of the keys that minted them, until a
/// round finds no new key. Each round reads the new objects through the local pipeline to find the
/// minting edges, as the report's first pass does.
pub fn for_chain(
    rt: &tokio::runtime::Runtime,
    cx: &Context<'_>,
    cfg: DetectConfig,
    roots: &[String],
    filter: &Filter,
    prune: &Prune,
    progress: &mut dyn FnMut(&QueryStats),
) -> anyhow::Result<Narrowed> {
    let (detection, mut run) =
        rt.block_on(super::engine::detect(cx.aws, cx.opts, cx.window, cfg, &cx.cancel, progress))?;
    let client = rt.block_on(async { aws_sdk_athena::Client::new(&crate::aws::config(cx.aws).await) });
    let mut asked: BTreeSet<String> = roots.iter().cloned().collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut edges = MintEdges::new(roots);
    for round in 0.. {
        let sel = Selection { keys: asked.iter().cloned().collect(), ..Selection::default() };
        let found = rt.block_on(objects(&client, cx, &sel, round, &mut run, progress))?;
        let fresh: Vec<String> = found.into_iter().filter(|o| seen.insert(o.clone())).collect();
        if !fresh.is_empty() {
            read_edges(rt, cx, &fresh, filter, prune, &mut edges)?;
        }
        let chain = crate::blast::chain(roots, &edges.edges);
        let upstream = crate::blast::upstream(&chain, &edges.edges);
        let before = asked.len();
        asked.extend(chain.into_iter().chain(upstream).map(|k| k.access_key_id));
        if asked.len() == before {
            break;
        }
    }
    Ok(Narrowed { inputs: seen.into_iter().collect(), detection, run })
}

/// Streams `inputs` through the pipeline into `edges` (the report's first pass, on these objects).
fn read_edges(
    rt: &tokio::runtime::Runtime,
    cx: &Context<'_>,
    inputs: &[String],
    filter: &Filter,
    prune: &Prune,
    edges: &mut MintEdges,
) -> anyhow::Result<()> {
    let opened = source::open(inputs, prune, cx.aws, rt, cx.cancel.clone(), source::FetchOptions::default());
    let opts = ScanOptions { filter: filter.clone(), reader: opened.reader.clone(), ..ScanOptions::default() };
    let summary = scan::run(&opened.feed, &opts, &mut [edges as &mut dyn EventSink])?;
    if summary.is_partial() {
        anyhow::bail!(
            "--engine athena: {} of the objects Athena named could not be read whole; the chain would be incomplete",
            summary.inputs_partial.len() + summary.inputs_skipped.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_objects_query_takes_fifteen_parameters() {
        assert_eq!(OBJECTS.sql.matches('?').count(), 15);
        assert!(OBJECTS.for_table("trail_2024").contains("FROM \"trail_2024\""));
    }

    #[test]
    fn selections_are_joined_by_slash_and_checked() {
        let sel = Selection {
            keys: vec!["ASIAA".into(), "AKIAB".into()],
            roles: vec!["web,app".into()],
            sessions: vec!["o'brien".into()],
        };
        assert_eq!(sel.parameters().unwrap(), ["'ASIAA/AKIAB'", "'web,app'", "'o''brien'"]);
        for bad in ["a/b", "", "x\u{1b}[0m"] {
            let sel = Selection { roles: vec![bad.into()], ..Selection::default() };
            assert!(sel.parameters().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn object_rows_must_be_s3_urls() {
        let t =
            |v: Option<&str>| ResultTable { columns: vec!["object_path".into()], rows: vec![vec![v.map(Into::into)]] };
        assert_eq!(urls(&t(Some("s3://b/k.json.gz"))).unwrap(), ["s3://b/k.json.gz"]);
        assert!(urls(&t(Some("/tmp/x"))).is_err());
        assert!(urls(&t(None)).is_err());
    }
}
