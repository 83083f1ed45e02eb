//! Local files and folders (walked recursively, in sorted order so runs are reproducible).

use super::{Input, Listing, Location, Prune, layout};
use std::io::Read;
use std::path::Path;

/// Lists one command-line argument: a file, or a folder walked recursively.
pub fn list(arg: &Path, prune: &Prune, out: &mut Listing) {
    let meta = match std::fs::metadata(arg) {
        Ok(m) => m,
        Err(e) => {
            out.failed.push((arg.display().to_string(), format!("cannot open: {e}")));
            return;
        }
    };
    if meta.is_file() {
        out.offer(input(arg, meta.len()), prune);
        return;
    }
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
    }
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
