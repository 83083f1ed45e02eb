//! Local files and folders (walked recursively, in sorted order so runs are reproducible).

use super::{Input, Listing, Location, Prune, layout};
use std::io::Read;
use std::path::Path;

/// Files handed on at a time while a folder is walked.
const CHUNK: usize = 1_000;

/// Lists one command-line argument, a file or a folder walked recursively, handing what it finds to
/// `emit` in chunks as the walk goes (a folder of millions of files is never held whole). Stops early
/// when `emit` returns false; returns false then.
pub fn list(arg: &Path, prune: &Prune, emit: &mut dyn FnMut(Listing) -> bool) -> bool {
    let mut out = Listing::default();
    match std::fs::metadata(arg) {
        Err(e) => out.failed.push((arg.display().to_string(), format!("cannot open: {e}"))),
        Ok(meta) if meta.is_file() => out.offer(input(arg, meta.len()), prune),
        Ok(_) => {
            let walker = walkdir::WalkDir::new(arg).follow_links(true).sort_by_file_name();
            for entry in walker {
                match entry {
                    Ok(e) if e.file_type().is_file() => {
                        let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                        out.offer(input(e.path(), size), prune);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let name = e.path().map_or_else(|| arg.display().to_string(), |p| p.display().to_string());
                        out.failed.push((name, format!("cannot list: {e}")));
                    }
                }
                if out.inputs.len() + out.pruned.len() + out.failed.len() >= CHUNK && !emit(std::mem::take(&mut out)) {
                    return false;
                }
            }
        }
    }
    emit(out)
}

fn input(path: &Path, size: u64) -> Input {
    let name = path.display().to_string();
    let layout = layout::parse_key(&name);
    Input { name, location: Location::Local(path.to_path_buf()), size, layout }
}

pub fn read_into(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut f = std::fs::File::open(path)?;
    if let Ok(m) = f.metadata() {
        buf.reserve(m.len() as usize);
    }
    f.read_to_end(buf)?;
    Ok(())
}
