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
                    Ok(e) if e.file_type().is_dir() => {}
                    // A FIFO, socket or device: never opened (a FIFO would block the walk or a worker
                    // forever), but named in the summary like any input that was not read.
                    Ok(e) => out.failed.push((e.path().display().to_string(), not_regular(e.file_type()))),
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

/// Why a file that is neither a regular file nor a folder is not read.
fn not_regular(ft: std::fs::FileType) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let what = if ft.is_fifo() {
            "a FIFO (named pipe)"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_block_device() || ft.is_char_device() {
            "a device file"
        } else {
            return "not a regular file: never opened".into();
        };
        format!("{what}, not a regular file: never opened")
    }
    #[cfg(not(unix))]
    {
        let _ = ft;
        "not a regular file: never opened".into()
    }
}

fn input(path: &Path, size: u64) -> Input {
    let name = path.display().to_string();
    let layout = layout::parse_key(&name);
    Input { name, location: Location::Local(path.to_path_buf()), size, layout }
}

/// Reads at most `limit` bytes of a regular file (one more shows the file is longer). Anything else is
/// refused before it is opened: opening a FIFO for reading blocks until a writer comes.
pub fn read_into(path: &Path, buf: &mut Vec<u8>, limit: u64) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other(not_regular(meta.file_type())));
    }
    let f = std::fs::File::open(path)?;
    let limit = limit.saturating_add(1);
    buf.reserve(meta.len().min(limit) as usize);
    f.take(limit).read_to_end(buf)?;
    Ok(())
}
