//! Applying a decided revocation through [`crate::revoke`]: the same request, plan, policy JSON,
//! apply, read-back and audit records as `trailhound revoke --apply`.

use crate::revoke::audit::Writer;
use crate::revoke::iam::Iam;

/// IAM clients and the audit log, held for the life of the responder.
pub struct Actor {
    pub(super) iam: Iam,
    pub(super) log: Writer,
}

impl Actor {
    /// Opens the audit log (refusing a directory, a locked or unwritable file) and the IAM clients.
    pub fn new(aws: &aws_config::SdkConfig, audit_log: &std::path::Path) -> anyhow::Result<Actor> {
        let log = Writer::open(audit_log)?;
        Ok(Actor { iam: Iam::new(aws), log })
    }
}
