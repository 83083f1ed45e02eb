//! Announcing decisions: one JSON line each on stdout (the audit log's copy is written by
//! [`super::act`]), and optionally to an SNS topic and a webhook. Notifications run in the background
//! with a timeout: a slow or failing endpoint never delays a revocation, and its failure is reported.

use super::decide::Decision;
use super::policy::{Notify, webhook_uri};
use crate::aws::AwsError;
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

type Http = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Where decisions go.
pub struct Announcer {
    out: Box<dyn std::io::Write + Send>,
    sns: Option<(aws_sdk_sns::Client, String)>,
    webhook: Option<(hyper::Uri, Http)>,
    timeout: Duration,
    pending: Vec<JoinHandle<Result<(), String>>>,
}

/// The decision as one JSON line, safe on a terminal: besides the control characters JSON escapes,
/// DEL, C1 controls, bidi overrides and line separators from the logs are written as `\uXXXX`.
pub fn line(d: &Decision) -> String {
    let json = serde_json::to_string(d)
        .unwrap_or_else(|e| format!(r#"{{"id":"{}","error":"the decision cannot be written: {e}"}}"#, d.id));
    crate::report::escape::json_inert(json)
}

/// The webhook as shown in messages: scheme and host only (paths and queries often hold a secret).
fn show_uri(u: &hyper::Uri) -> String {
    format!("{}://{}", u.scheme_str().unwrap_or("?"), u.authority().map_or("?", |a| a.as_str()))
}

impl Announcer {
    /// Checks the notification settings and builds their clients.
    pub fn new(notify: &Notify, aws: &aws_config::SdkConfig) -> anyhow::Result<Announcer> {
        let sns = notify.sns_topic.clone().map(|t| (aws_sdk_sns::Client::new(aws), t));
        let webhook = match &notify.webhook {
            None => None,
            Some(u) => {
                let uri = webhook_uri(u).map_err(|e| anyhow::anyhow!("notify.webhook: {e}"))?;
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
                    .map_err(|e| anyhow::anyhow!("notify.webhook: cannot load the system's root certificates: {e}"))?
                    .https_or_http()
                    .enable_http1()
                    .build();
                let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
                Some((uri, client))
            }
        };
        Ok(Announcer {
            out: Box::new(std::io::stdout()),
            sns,
            webhook,
            timeout: Duration::from_millis(notify.timeout_ms),
            pending: Vec::new(),
        })
    }

    /// Sends decision lines to `out` instead of stdout.
    pub fn set_output(&mut self, out: Box<dyn std::io::Write + Send>) {
        self.out = out;
    }

    /// Writes the decision's line.
    pub fn emit(&mut self, d: &Decision) {
        let l = line(d);
        if let Err(e) = writeln!(self.out, "{l}").and_then(|()| self.out.flush()) {
            eprintln!("respond: decision {} could not be written to the output ({e}): {l}", d.id);
        }
    }

    /// Starts the decision's notifications in the background.
    pub fn notify(&mut self, d: &Decision) {
        if self.sns.is_none() && self.webhook.is_none() {
            return;
        }
        let body = Arc::new(line(d));
        let (id, timeout, ms) = (d.id.clone(), self.timeout, self.timeout.as_millis());
        if let Some((client, topic)) = &self.sns {
            // SNS subjects are ASCII without control characters, under 100 characters.
            let key: String = d.access_key_id.chars().filter(char::is_ascii_alphanumeric).take(32).collect();
            let subject = format!("trailhound respond: {} {key}", d.verdict_name());
            let (client, topic, body, id) = (client.clone(), topic.clone(), Arc::clone(&body), id.clone());
            self.pending.push(tokio::spawn(async move {
                let send = client.publish().topic_arn(&topic).subject(subject).message(body.as_str()).send();
                match tokio::time::timeout(timeout, send).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(format!(
                        "decision {id} not published to SNS topic {topic}: {}",
                        AwsError::from_sdk("Publish", &topic, &e)
                    )),
                    Err(_) => Err(format!("decision {id} not published to SNS topic {topic} within {ms} ms")),
                }
            }));
        }
        if let Some((uri, client)) = &self.webhook {
            let (uri, client) = (uri.clone(), client.clone());
            self.pending.push(tokio::spawn(async move {
                let shown = show_uri(&uri);
                let req = hyper::Request::post(uri)
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .header(hyper::header::USER_AGENT, concat!("trailhound/", env!("CARGO_PKG_VERSION")))
                    .body(Full::new(Bytes::from(body.as_bytes().to_vec())))
                    .map_err(|e| format!("decision {id} not sent to the webhook {shown}: {e}"))?;
                match tokio::time::timeout(timeout, client.request(req)).await {
                    Ok(Ok(resp)) if resp.status().is_success() => Ok(()),
                    Ok(Ok(resp)) => Err(format!("decision {id}: the webhook {shown} answered {}", resp.status())),
                    Ok(Err(e)) => Err(format!("decision {id} not sent to the webhook {shown}: {e}")),
                    Err(_) => Err(format!("decision {id} not sent to the webhook {shown} within {ms} ms")),
                }
            }));
        }
    }

    /// Failures of the notifications finished so far (those still running are kept).
    pub async fn reap(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        let mut still = Vec::new();
        for h in self.pending.drain(..) {
            if !h.is_finished() {
                still.push(h);
                continue;
            }
            match h.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(e),
                Err(e) => failures.push(format!("a notification task failed: {e}")),
            }
        }
        self.pending = still;
        failures
    }

    /// Waits for every notification in flight; returns the failures.
    pub async fn drain(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        for h in self.pending.drain(..) {
            match h.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(e),
                Err(e) => failures.push(format!("a notification task failed: {e}")),
            }
        }
        failures
    }
}
