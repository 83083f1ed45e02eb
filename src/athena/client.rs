//! Running the queries: StartQueryExecution (with an idempotency token), polling with backoff,
//! Athena's reason on FAILED/CANCELLED, a timeout, StopQueryExecution on Ctrl-C, paged
//! GetQueryResults, and the bytes scanned and their cost, query by query, against a budget.

use super::{AthenaOptions, Window, cost_usd};
use crate::detect::facts::Facts;
use aws_sdk_athena::Client;
use aws_sdk_athena::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_athena::types::{
    QueryExecutionContext, QueryExecutionState, ResultConfiguration, ResultReuseByAgeConfiguration,
    ResultReuseConfiguration,
};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A query's result: column names and rows (Athena returns every value as text; NULL is `None`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResultTable {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, without the header row.
    pub rows: Vec<Vec<Option<String>>>,
}

/// What one query cost. Field names are stable (they are in the run summary).
#[derive(Serialize, Clone, Debug, Default)]
pub struct QueryStats {
    /// The query (`uses`, `deliveries`...).
    pub name: String,
    /// Athena's id of the execution (to find it in the console).
    pub query_execution_id: String,
    /// Bytes Athena scanned.
    pub bytes_scanned: u64,
    /// Their price at $5 per TB (10 MB minimum per query).
    pub cost_usd: f64,
    /// From start to the last result page, in milliseconds.
    pub elapsed_ms: u64,
    /// Result rows.
    pub rows: u64,
    /// Athena reused an earlier result (`--athena-reuse-minutes`): nothing was scanned.
    pub reused: bool,
}

/// The Athena part of a run, for the summary.
#[derive(Serialize, Clone, Debug, Default)]
pub struct AthenaRun {
    /// Every query run, in order.
    pub queries: Vec<QueryStats>,
    /// Bytes scanned by all of them.
    pub bytes_scanned: u64,
    /// Their price.
    pub cost_usd: f64,
    /// Wall-clock time of all queries, in milliseconds.
    pub elapsed_ms: u64,
}

/// Why a query did not give results. `code` is matched, `message` is for people.
#[derive(Debug, thiserror::Error)]
#[error("Athena query {query}: {message}")]
pub struct AthenaError {
    /// The query's name.
    pub query: String,
    /// `FAILED`, `CANCELLED`, `TIMEOUT`, `INTERRUPTED`, `BUDGET`, `BAD_RESULT`, or an AWS error code
    /// (`InvalidRequestException`, `AccessDeniedException`...), empty for transport failures.
    pub code: String,
    /// What happened, with Athena's own reason when it gave one.
    pub message: String,
}

impl AthenaError {
    fn new(query: &str, code: &str, message: String) -> Self {
        AthenaError { query: query.to_owned(), code: code.to_owned(), message }
    }

    fn sdk<E: ProvideErrorMetadata + std::error::Error + 'static>(
        query: &str,
        operation: &str,
        err: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
    ) -> Self {
        let code = err.code().unwrap_or_default().to_owned();
        let detail = crate::aws::error_detail(err);
        let message = match code.as_str() {
            "AccessDeniedException" => format!(
                "{operation}: access denied ({detail}); the caller needs athena:StartQueryExecution, \
                 GetQueryExecution, GetQueryResults, glue:GetTable and s3 access to the trail and the output"
            ),
            "InvalidRequestException" => format!("{operation}: Athena refused the request ({detail})"),
            "" => format!("{operation}: the request did not complete: {detail}"),
            _ => format!("{operation}: {code}: {detail}"),
        };
        AthenaError::new(query, &code, message)
    }
}

/// This run's part of the idempotency tokens: a retried call is the same execution, a new run is not.
pub(crate) fn run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}{:x}", std::process::id(), nanos)
}

/// A token that makes a retried StartQueryExecution the same execution (32 to 128 characters).
fn request_token(run: &str, query: &str) -> String {
    format!("trailhound-{run}-{query}")
}

/// Runs one query to completion and reads every page of its result.
pub(crate) async fn run_query(
    client: &Client,
    opts: &AthenaOptions,
    run_id: &str,
    (name, sql): (&str, String),
    params: &[String],
    spent: u64,
    cancel: &AtomicBool,
) -> Result<(ResultTable, QueryStats), AthenaError> {
    let started = Instant::now();
    let mut start = client
        .start_query_execution()
        .query_string(sql)
        .client_request_token(request_token(run_id, name))
        .query_execution_context(QueryExecutionContext::builder().database(&opts.database).build());
    for p in params {
        start = start.execution_parameters(p);
    }
    if let Some(w) = &opts.workgroup {
        start = start.work_group(w);
    }
    if let Some(o) = &opts.output {
        start = start.result_configuration(ResultConfiguration::builder().output_location(o).build());
    }
    if let Some(m) = opts.reuse_minutes {
        start = start.result_reuse_configuration(
            ResultReuseConfiguration::builder()
                .result_reuse_by_age_configuration(
                    ResultReuseByAgeConfiguration::builder().enabled(true).max_age_in_minutes(m).build(),
                )
                .build(),
        );
    }
    let out = start.send().await.map_err(|e| AthenaError::sdk(name, "StartQueryExecution", &e))?;
    let id = out.query_execution_id().unwrap_or_default().to_owned();
    if id.is_empty() {
        return Err(AthenaError::new(name, "BAD_RESULT", "StartQueryExecution returned no query id".into()));
    }
    let stop = || async {
        // Best effort: the query is abandoned whatever Athena answers.
        let _ = client.stop_query_execution().query_execution_id(&id).send().await;
    };
    let mut stats = QueryStats { name: name.to_owned(), query_execution_id: id.clone(), ..QueryStats::default() };
    let mut delay = Duration::from_millis(100);
    loop {
        if cancel.load(Ordering::Relaxed) {
            stop().await;
            return Err(AthenaError::new(name, "INTERRUPTED", format!("interrupted; query {id} stopped")));
        }
        if started.elapsed() > Duration::from_secs(opts.timeout_secs) {
            stop().await;
            return Err(AthenaError::new(
                name,
                "TIMEOUT",
                format!("not finished after {} s; query {id} stopped (--athena-timeout-minutes)", opts.timeout_secs),
            ));
        }
        let got = client
            .get_query_execution()
            .query_execution_id(&id)
            .send()
            .await
            .map_err(|e| AthenaError::sdk(name, "GetQueryExecution", &e))?;
        let exec = got.query_execution();
        let st = exec.and_then(|e| e.statistics());
        stats.bytes_scanned = st.and_then(|s| s.data_scanned_in_bytes()).unwrap_or(0).max(0) as u64;
        stats.reused = st.and_then(|s| s.result_reuse_information()).is_some_and(|r| r.reused_previous_result());
        if let Some(max) = opts.max_scan_bytes {
            if spent + stats.bytes_scanned > max {
                stop().await;
                return Err(AthenaError::new(
                    name,
                    "BUDGET",
                    format!(
                        "stopped: the queries have scanned {} bytes, past --max-scan-gb ({} bytes)",
                        spent + stats.bytes_scanned,
                        max
                    ),
                ));
            }
        }
        let status = exec.and_then(|e| e.status());
        let reason = || status.and_then(|s| s.state_change_reason()).unwrap_or("Athena gave no reason").to_owned();
        match status.and_then(|s| s.state()) {
            Some(QueryExecutionState::Succeeded) => break,
            Some(QueryExecutionState::Failed) => {
                return Err(AthenaError::new(name, "FAILED", format!("query {id} failed: {}", reason())));
            }
            Some(QueryExecutionState::Cancelled) => {
                return Err(AthenaError::new(name, "CANCELLED", format!("query {id} was cancelled: {}", reason())));
            }
            _ => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(5));
    }
    let table = if params.is_empty() && name == "ddl" {
        ResultTable::default()
    } else {
        read_results(client, name, &stats.query_execution_id, cancel).await?
    };
    stats.rows = table.rows.len() as u64;
    stats.cost_usd = if stats.reused { 0.0 } else { cost_usd(stats.bytes_scanned) };
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok((table, stats))
}

/// Every page of a result (at most 1,000 rows each); the first row of the first page is the header.
async fn read_results(client: &Client, name: &str, id: &str, cancel: &AtomicBool) -> Result<ResultTable, AthenaError> {
    let mut table = ResultTable::default();
    let mut token: Option<String> = None;
    let mut first = true;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(AthenaError::new(
                name,
                "INTERRUPTED",
                format!("interrupted while reading query {id}'s results"),
            ));
        }
        let page = client
            .get_query_results()
            .query_execution_id(id)
            .max_results(1000)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AthenaError::sdk(name, "GetQueryResults", &e))?;
        let Some(rs) = page.result_set() else {
            return Err(AthenaError::new(
                name,
                "BAD_RESULT",
                format!("query {id}: a result page without a result set"),
            ));
        };
        if first {
            table.columns = rs
                .result_set_metadata()
                .map(|m| m.column_info().iter().map(|c| c.name().to_owned()).collect())
                .unwrap_or_default();
        }
        let skip = usize::from(first);
        for row in rs.rows().iter().skip(skip) {
            let values: Vec<Option<String>> =
                row.data().iter().map(|d| d.var_char_value().map(str::to_owned)).collect();
            if values.len() != table.columns.len() {
                return Err(AthenaError::new(
                    name,
                    "BAD_RESULT",
                    format!("query {id}: a row of {} values for {} columns", values.len(), table.columns.len()),
                ));
            }
            table.rows.push(values);
        }
        first = false;
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(table)
}

/// Runs every aggregate query over `window` and gathers their rows into facts. `progress` is told
/// of each query when it is done. Stops at the first failure: facts from some queries only would
/// judge keys on part of their evidence.
pub async fn run_facts(
    client: &Client,
    opts: &AthenaOptions,
    window: &Window,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&QueryStats),
) -> anyhow::Result<(Facts, AthenaRun)> {
    super::check_identifier("--athena-table", &opts.table)?;
    window.check()?;
    let params = window.parameters();
    let started = Instant::now();
    let run_id = run_id();
    let mut facts = Facts::default();
    let mut run = AthenaRun::default();
    for q in &super::QUERIES {
        let sql = (q.name, q.for_table(&opts.table));
        let (table, stats) = run_query(client, opts, &run_id, sql, &params, run.bytes_scanned, cancel).await?;
        super::rows::add(q.name, &table, &mut facts)?;
        progress(&stats);
        run.bytes_scanned += stats.bytes_scanned;
        run.cost_usd += stats.cost_usd;
        run.queries.push(stats);
    }
    run.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok((facts.normalized(), run))
}

/// Runs one statement (the table's DDL) and waits for it to succeed; returns Athena's query id.
pub async fn run_statement(
    aws: &crate::aws::AwsOptions,
    opts: &AthenaOptions,
    sql: &str,
    cancel: &AtomicBool,
) -> anyhow::Result<String> {
    let client = Client::new(&crate::aws::config(aws).await);
    let (_, stats) = run_query(&client, opts, &run_id(), ("ddl", sql.to_owned()), &[], 0, cancel).await?;
    Ok(stats.query_execution_id)
}
