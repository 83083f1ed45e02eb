//! What `--help` ends with (each command's exit status and one example), the `--version` line, and the
//! shell completions and man pages generated from the same clap definitions.

use clap::CommandFactory;
use std::io::Write;

/// Exit status and example of the whole program, shown by `trailhound --help`.
pub const MAIN_HELP: &str = "Exit status:
  0  every input read, no findings
  1  every input read, findings reported
  2  error: bad arguments, unreadable config, no inputs found, an AWS call refused
  3  some inputs skipped or read in part (see the summary), no findings
  4  some inputs skipped or read in part, and findings reported
  5  revoke: a change was made but not verified

Example:
  trailhound scan fixtures/corpora     # the shipped real-world samples, from a checkout";

/// Shown by `trailhound scan --help`.
pub const SCAN_HELP: &str = "Exit status:
  0  every input read, no findings
  1  every input read, findings reported
  2  error: bad arguments, unreadable config, no inputs found
  3  some inputs skipped or read in part (see the summary), no findings
  4  some inputs skipped or read in part, and findings reported

Example:
  trailhound scan s3://org-trail/AWSLogs/ --account 111122223333 --since 2026-11-01 --format json -o findings.json";

/// Shown by `trailhound report --help`.
pub const REPORT_HELP: &str = "Exit status:
  0  every input read, report written
  2  error: bad arguments, no inputs found, the report could not be written
  3  some inputs skipped or read in part (see the summary); the report covers the rest

Example:
  trailhound report fixtures/scenarios/chain --key ASIAVICTIMKEY0000001 -o report.html";

/// Shown by `trailhound timeline --help`.
pub const TIMELINE_HELP: &str = "Exit status:
  0  every input read, timeline written
  2  error: bad arguments, no inputs found, the timeline could not be written
  3  some inputs skipped or read in part (see the summary); the timeline covers the rest

Example:
  trailhound timeline ~/exports/AWSLogs --role web-app-role --since 2026-11-01";

/// Exit status of `revoke`, shown by `trailhound revoke --help`.
pub const REVOKE_HELP: &str = "Exit status:
  0  the plan was shown, or every change was applied and verified (or not confirmed: nothing changed)
  2  error: nothing was changed by the step that failed (earlier steps are applied and in the audit log)
  5  a change was made but not verified (its read-back failed or did not match, or its outcome could not
     be recorded), or IAM did not answer and what it holds could not be read: it is in the audit log;
     check it by hand or roll it back

Example:
  trailhound revoke --finding findings.json     # the plan only; add --apply to make the changes";

/// Shown by `trailhound completions --help`.
pub const COMPLETIONS_HELP: &str = "Exit status:
  0  the script was written
  2  error: unknown shell, standard output not writable

Example:
  trailhound completions bash > ~/.local/share/bash-completion/completions/trailhound";

/// Shown by `trailhound athena --help`.
pub const ATHENA_HELP: &str = "Exit status:
  0  the DDL was printed, or applied and Athena reported success
  2  error: bad location or organization id, or Athena refused the statement (its reason is shown)

Example:
  trailhound athena ddl --location s3://org-trail/AWSLogs/ --org o-a1b2c3d4e5 --database security";

/// Shown by `trailhound man --help`.
pub const MAN_HELP: &str = "Exit status:
  0  the page(s) were written
  2  error: the folder or standard output not writable

Example:
  trailhound man > ~/.local/share/man/man1/trailhound.1 && man trailhound";

/// `0.1.0 (AWS ip-ranges snapshot 2026-08-22 21:17:05 UTC)`: the version and the date of the address
/// list built in, which decides what counts as "inside AWS".
pub fn version() -> String {
    let date = crate::detect::ipranges::builtin_create_date()
        .map(|d| match d.split('-').collect::<Vec<_>>()[..] {
            [y, mo, day, h, mi, s] => format!("{y}-{mo}-{day} {h}:{mi}:{s} UTC"),
            _ => d,
        })
        .unwrap_or_else(|| "unknown date".to_owned());
    format!("{} (AWS ip-ranges snapshot {date})", env!("CARGO_PKG_VERSION"))
}

/// The command definition with the runtime `--version` text.
pub fn command() -> clap::Command {
    // clap takes a 'static version string (without its `string` feature); one per process.
    let version: &'static str = Box::leak(version().into_boxed_str());
    super::Cli::command().version(version)
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = command();
    // clap_complete panics when its writer fails (a closed pipe): generate in memory, write after.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "trailhound", &mut script);
    script
}

/// Writes `trailhound(1)` to `out`, or, with `dir`, one page per command into that folder
/// (`trailhound.1`, `trailhound-scan.1`, ...).
pub fn man(dir: Option<&std::path::Path>, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = command().disable_help_subcommand(true);
    cmd.build();
    match dir {
        None => page(cmd, out)?,
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
            let mut pages = vec![cmd.clone()];
            pages.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
            for c in pages {
                let path = dir.join(format!("{}.1", c.get_display_name().unwrap_or_else(|| c.get_name())));
                let mut file = std::io::BufWriter::new(
                    std::fs::File::create(&path)
                        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?,
                );
                page(c, &mut file)?;
                file.flush().map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// One page: clap_mangen's sections, with the help's epilogue as EXIT STATUS and EXAMPLE sections
/// (clap_mangen would put it under a section called EXTRA).
fn page(cmd: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let epilogue = cmd.get_after_help().map(|h| h.to_string()).unwrap_or_default();
    let has_args = cmd.get_arguments().any(|a| !a.is_hide_set());
    let has_subcommands = cmd.get_subcommands().any(|s| !s.is_hide_set());
    let has_version = cmd.get_version().is_some();
    let man = clap_mangen::Man::new(cmd);
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if has_args {
        man.render_options_section(out)?;
    }
    if has_subcommands {
        man.render_subcommands_section(out)?;
    }
    let mut roff = roff::Roff::new();
    for block in epilogue.split("\n\n") {
        let (heading, body) = block.split_once('\n').unwrap_or((block, ""));
        let heading = heading.trim_end_matches(':').to_uppercase();
        roff.control("SH", [heading.as_str()]).control("nf", []);
        for line in body.lines() {
            roff.text([roff::roman(line)]);
        }
        roff.control("fi", []);
    }
    roff.to_writer(out)?;
    if has_version {
        man.render_version_section(out)?;
    }
    Ok(())
}
