//! `--to-security-hub`: findings sent to Security Hub with `BatchImportFindings`, 100 at a time (the
//! API's limit), every finding it refuses reported with its error.
//!
//! The findings are built from their ASFF documents ([`crate::report::asff`]), so what is sent is
//! exactly what `--format asff` prints.

use crate::detect::Finding;
use crate::report::asff;
use aws_sdk_securityhub::types::{AwsSecurityFinding, Recommendation, Remediation, Resource, Severity, SeverityLabel};
use serde_json::Value;

/// Findings per `BatchImportFindings` call (the API's maximum).
pub const BATCH: usize = 100;

/// What Security Hub did with the findings.
#[derive(Debug, Default)]
pub struct Sent {
    /// Findings accepted.
    pub imported: usize,
    /// Findings refused: (finding id, error code, message).
    pub failed: Vec<(String, String, String)>,
    /// Calls that failed whole (each costs its batch): the error in words.
    pub call_errors: Vec<String>,
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// The SDK's form of one ASFF document.
pub fn to_sdk(v: &Value) -> AwsSecurityFinding {
    let resources = v
        .get("Resources")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    Resource::builder()
                        .set_type(s(r, "Type"))
                        .set_id(s(r, "Id"))
                        .set_partition(
                            s(r, "Partition").map(|p| aws_sdk_securityhub::types::Partition::from(p.as_str())),
                        )
                        .set_region(s(r, "Region"))
                        .build()
                })
                .collect()
        })
        .unwrap_or_default();
    let product_fields = v
        .get("ProductFields")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, x)| x.as_str().map(|x| (k.clone(), x.to_owned()))).collect());
    let sev = v.get("Severity").cloned().unwrap_or_default();
    let rec = v.get("Remediation").and_then(|r| r.get("Recommendation")).cloned().unwrap_or_default();
    AwsSecurityFinding::builder()
        .set_schema_version(s(v, "SchemaVersion"))
        .set_id(s(v, "Id"))
        .set_product_arn(s(v, "ProductArn"))
        .set_product_name(s(v, "ProductName"))
        .set_company_name(s(v, "CompanyName"))
        .set_generator_id(s(v, "GeneratorId"))
        .set_aws_account_id(s(v, "AwsAccountId"))
        .set_types(
            v.get("Types")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()),
        )
        .set_first_observed_at(s(v, "FirstObservedAt"))
        .set_last_observed_at(s(v, "LastObservedAt"))
        .set_created_at(s(v, "CreatedAt"))
        .set_updated_at(s(v, "UpdatedAt"))
        .severity(
            Severity::builder()
                .set_label(s(&sev, "Label").map(|l| SeverityLabel::from(l.as_str())))
                .set_original(s(&sev, "Original"))
                .build(),
        )
        .set_confidence(v.get("Confidence").and_then(Value::as_i64).map(|c| c as i32))
        .set_title(s(v, "Title"))
        .set_description(s(v, "Description"))
        .remediation(
            Remediation::builder()
                .recommendation(Recommendation::builder().set_text(s(&rec, "Text")).set_url(s(&rec, "Url")).build())
                .build(),
        )
        .set_product_fields(product_fields)
        .set_resources(Some(resources))
        .build()
}

/// Sends `findings` as ASFF addressed to `region`, in batches of [`BATCH`].
pub async fn send(client: &aws_sdk_securityhub::Client, findings: &[Finding], region: &str) -> Sent {
    let docs: Vec<Value> = findings.iter().map(|f| asff::finding(f, region)).collect();
    send_documents(client, &docs).await
}

/// Sends ASFF documents in batches of [`BATCH`]; every refused finding and failed call is reported.
pub async fn send_documents(client: &aws_sdk_securityhub::Client, docs: &[Value]) -> Sent {
    let mut sent = Sent::default();
    for chunk in docs.chunks(BATCH) {
        let batch: Vec<AwsSecurityFinding> = chunk.iter().map(to_sdk).collect();
        match client.batch_import_findings().set_findings(Some(batch)).send().await {
            Ok(out) => {
                sent.imported += out.success_count().unwrap_or(0).max(0) as usize;
                for e in out.failed_findings() {
                    sent.failed.push((
                        e.id().unwrap_or_default().to_owned(),
                        e.error_code().unwrap_or_default().to_owned(),
                        e.error_message().unwrap_or_default().to_owned(),
                    ));
                }
            }
            Err(e) => {
                let err = crate::aws::AwsError::from_sdk("BatchImportFindings", "securityhub", &e);
                sent.call_errors.push(format!("{err} ({} findings not sent)", chunk.len()));
            }
        }
    }
    sent
}

/// `--to-security-hub`: sends `findings` and says on stderr what Security Hub did; an error when it
/// refused any (each refused finding is named with Security Hub's reason).
pub fn import(findings: &[Finding], aws: &crate::aws::AwsOptions, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    use crate::report::escape::term;
    let sent = rt.block_on(async {
        let cfg = crate::aws::config(aws).await;
        let region = cfg.region().map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
        send(&aws_sdk_securityhub::Client::new(&cfg), findings, &region).await
    });
    for (id, code, msg) in &sent.failed {
        eprintln!("trailhound: Security Hub refused finding {}: {} {}", term(id), term(code), term(msg));
    }
    for e in &sent.call_errors {
        eprintln!("trailhound: BatchImportFindings failed: {}", term(e));
    }
    eprintln!("trailhound: {} of {} findings imported into Security Hub", sent.imported, findings.len());
    let refused = findings.len() - sent.imported.min(findings.len());
    if refused > 0 {
        anyhow::bail!("Security Hub did not import {refused} of {} findings (see above)", findings.len());
    }
    Ok(())
}
