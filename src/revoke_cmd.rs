//! `trailhound revoke`: plan the deny for the keys found (or named), show it, apply it only when
//! asked, or roll a recorded change back.

use crate::{Session, athena_cmds, runtime};
use anyhow::Context;
use std::io::IsTerminal;
use trailhound::cli::{Cutoff, RevokeArgs};
use trailhound::detect::{DetectConfig, Detector};
use trailhound::exit;
use trailhound::report;
use trailhound::revoke::{self, CutoffChoice, RoleRequest};
use trailhound::scan::{self, EventSink, ScanOptions};
use trailhound::source;

/// Runs a scan of `inputs` for `revoke --from-scan` and returns its findings.
fn scan_for_findings(args: &RevokeArgs, inputs: &[String]) -> anyhow::Result<Vec<trailhound::detect::Finding>> {
    if inputs.is_empty() {
        anyhow::bail!("--from-scan names no INPUT (files, folders, s3:// URLs; or use --engine athena)");
    }
    let (filter, prune) = args.window.input(inputs).filter_and_prune()?;
    let session = Session::new()?;
    let fetch = source::FetchOptions { concurrency: 128, buffer_bytes: 512 << 20, max_object_bytes: 0 };
    let opened = source::open(inputs, &prune, &args.aws.options(), session.rt(), session.cancel.clone(), fetch);
    if !opened.feed.wait_any() {
        anyhow::bail!(
            "--from-scan: no inputs found in {} (within --since/--until/--account/--region)",
            inputs.join(", ")
        );
    }
    let opts = ScanOptions {
        filter,
        progress: std::io::stderr().is_terminal(),
        reader: opened.reader.clone(),
        ..ScanOptions::default()
    };
    let mut detector = Detector::new(DetectConfig::load(&args.detect.options())?);
    let summary = scan::run(&opened.feed, &opts, &mut [&mut detector as &mut dyn EventSink])?;
    eprint!("{}", summary.human());
    if summary.is_partial() {
        eprintln!("trailhound: warning: the scan could not read every input; the plan covers what it found");
    }
    let detection = detector.finish();
    for w in &detection.warnings {
        eprintln!("trailhound: warning: {}", report::escape::term(w));
    }
    Ok(detection.findings)
}

/// Asks before changing IAM; `--yes` skips the question, and without a terminal to ask on (and no
/// `--yes`) nothing changes.
fn confirm(yes: bool, flag: &str, question: &str) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("refusing to {flag} without --yes when standard input is not a terminal; nothing was changed");
    }
    eprint!("{question} Type 'yes' to continue: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

/// A change made but not verified gets its own exit status; any other failure is an error.
fn change_failed(e: anyhow::Error) -> anyhow::Result<i32> {
    if e.is::<revoke::Unverified>() {
        eprintln!("trailhound: {}", report::escape::term(&format!("{e:#}")));
        return Ok(exit::UNVERIFIED);
    }
    Err(e)
}

fn run_rollback(args: &RevokeArgs, id: &str, rt: &tokio::runtime::Runtime) -> anyhow::Result<i32> {
    let now = chrono::Utc::now();
    let opts = revoke::RollbackOptions {
        reactivate_compromised_key: args.reactivate_compromised_key,
        accept_unverifiable_record: args.accept_unverifiable_record,
    };
    rt.block_on(async {
        let iam = revoke::iam::Iam::new(&trailhound::aws::config(&args.aws.options()).await);
        let plan = revoke::plan_rollback(&iam, &args.audit_log, id, &opts).await?;
        for p in &plan.log_problems {
            eprintln!("trailhound: warning: audit log {}: {}", args.audit_log.display(), report::escape::term(p));
        }
        print!("{}", revoke::rollback::render(&plan, &args.audit_log));
        let mut log = revoke::audit::Writer::open(&args.audit_log)?;
        if !confirm(args.yes, "--rollback", "Roll back this change?")? {
            println!("Not rolled back.");
            return Ok(exit::CLEAN);
        }
        match revoke::rollback::apply_rollback(&iam, &plan, &mut log, now).await {
            Ok(rec) => {
                println!(
                    "rolled back {} on {} (audit id {}, verified)",
                    report::escape::term(id),
                    report::escape::term(&rec.target),
                    rec.id
                );
                println!("Audit log head: {}", log.head());
                Ok(exit::CLEAN)
            }
            Err(e) => change_failed(e),
        }
    })
}

pub(crate) fn run_revoke(args: RevokeArgs) -> anyhow::Result<i32> {
    let now = chrono::Utc::now();
    let rt = runtime()?;
    if args.yes && !args.apply && args.rollback.is_none() {
        anyhow::bail!("--yes confirms --apply or --rollback, and neither was given");
    }
    if let Some(id) = &args.rollback {
        return run_rollback(&args, id, &rt);
    }
    let mut findings = Vec::new();
    for f in &args.finding {
        findings.extend(revoke::read_findings(f)?);
    }
    if let Some(inputs) = &args.from_scan {
        findings.extend(match athena_cmds::findings_for_revoke(&args, inputs)? {
            Some(found) => found,
            None => scan_for_findings(&args, inputs)?,
        });
    } else if args.athena.options()?.is_some() {
        anyhow::bail!("--engine athena goes with --from-scan (revoke what Athena's scan finds)");
    }
    let explicit = args.role.as_ref().map(|r| RoleRequest {
        role: r.clone(),
        sessions: args.session.clone(),
        all_sessions: args.all_sessions,
        role_id_hint: None,
        reasons: vec![format!("requested with --role {r}")],
    });
    let choice = match (&args.before, args.cutoff) {
        (Some(t), _) => CutoffChoice::Explicit(
            chrono::DateTime::parse_from_rfc3339(t)
                .with_context(|| format!("--before {t:?} is not RFC 3339"))?
                .with_timezone(&chrono::Utc),
        ),
        (None, Cutoff::Now) => CutoffChoice::NowPlus { minutes: args.margin_minutes },
        (None, Cutoff::AfterIssue) => CutoffChoice::AfterIssue,
    };
    let req = revoke::request(&findings, explicit, &args.access_key, choice, now)?;
    if args.emit {
        // Session names in the documents come from the logs: keep terminal escapes inert.
        for line in revoke::emit(&req, now)?.lines() {
            println!("{}", report::escape::term(line));
        }
        return Ok(exit::CLEAN);
    }
    rt.block_on(async {
        let iam = revoke::iam::Iam::new(&trailhound::aws::config(&args.aws.options()).await);
        let plan = revoke::plan(&iam, &req, args.max_roles, now).await?;
        print!("{}", revoke::render(&plan));
        if !args.apply {
            println!("\nPlan only: nothing was changed. Run again with --apply to make these changes.");
            return Ok(exit::CLEAN);
        }
        if plan.changes.iter().all(|c| c.is_noop()) {
            println!("\nNothing to apply: every revocation is already in place.");
            return Ok(exit::CLEAN);
        }
        // A change that cannot be recorded cannot be rolled back: check the log before asking.
        let mut log = revoke::audit::Writer::open(&args.audit_log)?;
        if !confirm(args.yes, "--apply", "Apply these changes?")? {
            println!("Not applied.");
            return Ok(exit::CLEAN);
        }
        let applied = revoke::apply(&iam, &plan, &mut log, now).await;
        for r in &applied.records {
            println!("applied {} on {} (audit id {}, verified)", r.action, r.target, r.id);
        }
        if !applied.records.is_empty() {
            println!(
                "Recorded in {} (head {}). Undo with: trailhound revoke --rollback <audit id>",
                args.audit_log.display(),
                log.head()
            );
        }
        match applied.failure {
            Some(e) => change_failed(e),
            None => Ok(exit::CLEAN),
        }
    })
}
