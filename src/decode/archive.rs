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
        let mut problems = Vec::new();
        let mut ignored = Vec::new();
        let mut members = 0;
        let cap = self.max_input;
        for i in 0..archive.len() {
            if total.bytes_decompressed >= cap {
                problems.push(format!(
                    "members after #{i} not read: the archive's content exceeds the --max-input-size cap of {}",
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
            // The header's sizes are the archive maker's claim: read at most what the cap leaves.
            let left = cap - total.bytes_decompressed;
            let over = match inflate::read_capped(&mut entry, &mut self.member, left, looks_binary) {
                Ok(m) => m == inflate::Member::OverCap,
                Err(e) => {
                    problems.push(format!("zip member {name}: {e}"));
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
            total.bytes_decompressed += r.bytes_decompressed.max(self.member.len() as u64);
            total.warnings.extend(r.warnings.into_iter().map(|w| format!("{name}: {w}")));
            match r.outcome {
                Outcome::Read => {}
                Outcome::Partial(why) | Outcome::Skipped(why) => problems.push(format!("zip member {name}: {why}")),
                Outcome::Ignored(why) => ignored.push(format!("zip member {name}: {why}")),
            }
        }
        total.outcome = if total.records == 0 && problems.is_empty() && !ignored.is_empty() {
            Outcome::Ignored(ignored.join("; "))
        } else if total.records == 0 && !problems.is_empty() {
            Outcome::Skipped(problems.join("; "))
        } else if total.records == 0 && members == 0 {
            Outcome::Skipped("empty zip archive".into())
        } else if !problems.is_empty() {
            Outcome::Partial(problems.join("; "))
        } else {
            Outcome::Read
        };
        // Non-CloudTrail members beside CloudTrail ones are still named.
        if total.records > 0 {
            total.warnings.extend(ignored.into_iter().map(|w| format!("ignored {w}")));
        }
        total
    }
}
