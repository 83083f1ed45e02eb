//! Zip archives: every member decoded in turn, within the one input's cap.

use super::raw::RawRecord;
use super::{Decoder, Outcome, Report, decode_container, inflate, looks_binary};

impl Decoder {
    pub(super) fn decode_zip(&mut self, bytes: &[u8], sink: &mut dyn FnMut(&RawRecord<'_>)) -> Report {
        let mut total = Report {
            format: "zip",
            outcome: Outcome::Read,
            records: 0,
            rejected: 0,
            bytes_decompressed: 0,
            warnings: Vec::new(),
        };
        let mut archive = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
            Ok(a) => a,
            Err(e) => {
                total.outcome = Outcome::Skipped(format!("unreadable zip archive: {e}"));
                return total;
            }
        };
        let mut problems = Named::default();
        let mut ignored = Named::default();
        let mut members = 0;
        let cap = self.max_input;
        // What reading the members cost: each counts its compressed bytes when they are more than what
        // they hold, since members may share one run of data (a central directory is free to point
        // every entry at it) that inflates to nothing, and empty output alone would never reach the cap.
        let mut spent = 0u64;
        for i in 0..archive.len() {
            if spent >= cap {
                problems.last = Some(format!(
                    "members from #{i} on not read: the archive's members exceed the --max-input-size cap of {}",
                    inflate::human_size(cap)
                ));
                break;
            }
            let mut entry = match archive.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!("zip member #{i}: {e}"));
                    continue;
                }
            };
            if entry.is_dir() {
                continue;
            }
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{i}"));
            // The header's sizes are the archive maker's claim: read at most what the cap leaves. The
            // compressed size bounds what the reader consumes, so it is what the member costs at least.
            let compressed = entry.compressed_size();
            let left = cap - spent;
            let over = match inflate::read_capped(&mut entry, &mut self.member, left, looks_binary) {
                Ok(m) => m == inflate::Member::OverCap,
                Err(e) => {
                    problems.push(format!("zip member {name}: {e}"));
                    spent = spent.saturating_add(compressed.max(self.member.len() as u64));
                    continue;
                }
            };
            drop(entry);
            members += 1;
            if over {
                problems.push(format!(
                    "zip member {name}: cut at the --max-input-size cap of {}",
                    inflate::human_size(cap)
                ));
            }
            let member = std::mem::take(&mut self.member);
            let mut buf = std::mem::take(&mut self.buf);
            let r = decode_container(&member, &mut buf, &mut self.inflater, left, true, self.fast, sink);
            self.buf = buf;
            self.member = member;
            total.records += r.records;
            total.rejected += r.rejected;
            // A member's own size counts once, whether it was stored or gzipped inside.
            let held = r.bytes_decompressed.max(self.member.len() as u64);
            total.bytes_decompressed += held;
            spent = spent.saturating_add(held.max(compressed));
            total.warnings.extend(r.warnings.into_iter().map(|w| format!("{name}: {w}")));
            match r.outcome {
                Outcome::Read => {}
                Outcome::Partial(why) | Outcome::Skipped(why) => problems.push(format!("zip member {name}: {why}")),
                Outcome::Ignored(why) => ignored.push(format!("zip member {name}: {why}")),
            }
        }
        total.outcome = if total.records == 0 && problems.is_empty() && !ignored.is_empty() {
            Outcome::Ignored(ignored.join())
        } else if total.records == 0 && !problems.is_empty() {
            Outcome::Skipped(problems.join())
        } else if total.records == 0 && members == 0 {
            Outcome::Skipped("empty zip archive".into())
        } else if !problems.is_empty() {
            Outcome::Partial(problems.join())
        } else {
            Outcome::Read
        };
        // Non-CloudTrail members beside CloudTrail ones are still named.
        if total.records > 0 {
            total.warnings.extend(ignored.join_each().into_iter().map(|w| format!("ignored {w}")));
        }
        total
    }
}

/// What went wrong with an archive's members, named up to [`Named::SHOWN`] of them and counted past
/// that, so an archive of a million failing members gives a reason of a few lines, not megabytes.
#[derive(Default)]
struct Named {
    shown: Vec<String>,
    more: u64,
    /// Said after the others, however many there are (why the rest of the archive was not read).
    last: Option<String>,
}

impl Named {
    const SHOWN: usize = 16;

    fn push(&mut self, what: String) {
        if self.shown.len() < Self::SHOWN {
            self.shown.push(what);
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.shown.is_empty() && self.last.is_none()
    }

    /// One line per problem, with the count of those not named.
    fn join_each(&self) -> Vec<String> {
        let mut all = self.shown.clone();
        if self.more > 0 {
            all.push(format!("{} more members not named here", self.more));
        }
        all.extend(self.last.clone());
        all
    }

    fn join(&self) -> String {
        self.join_each().join("; ")
    }
}
