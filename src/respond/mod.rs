//! Respond: triggered revocation. New trail objects are judged as they arrive and findings that pass
//! the operator's guardrails get the surgical revocation of [`crate::revoke`].
//!
//! [`policy`] reads the guardrails, [`decide`] turns a finding into a decision, [`act`] applies it
//! through `revoke`'s plan/apply/verify/audit, [`announce`] writes each decision out (stdout, audit
//! log, SNS, webhook). The consumer (queue, state store, Lambda) extends this module.

pub mod act;
pub mod announce;
pub mod decide;
pub mod policy;
