//! Reading one file for the index so that what gets hashed and chunked is a consistent version
//! of it: a file being written while we read (an editor saving, a build writing) is refused and
//! retried later rather than indexed half-way.
//!
//! The check is stat, read, stat again: if size or modification time moved, or the file
//! vanished, the bytes may be a mix of two versions. Binaries are recognised the way git does
//! it, by a NUL byte in the first 8 KiB.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::walk::mtime_ns;

/// How much of the start of a file is searched for a NUL byte to call it binary (git's rule).
const SNIFF_BYTES: usize = 8 * 1024;

/// A file's contents, read consistently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBytes {
    /// The whole contents.
    pub bytes: Vec<u8>,
    /// Size in bytes, as stat'ed before and after the read.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch, as stat'ed before and after.
    pub mtime_ns: i64,
    /// BLAKE3 hash of `bytes`, lowercase hex: the key that decides whether re-chunking is due.
    pub blake3: String,
    /// Whether `bytes` is valid UTF-8; not a reason to skip (the chunker decides what to do
    /// with other encodings).
    pub is_utf8: bool,
}

/// Why a file was not read into the index; the caller records or retries it.
#[derive(Debug, thiserror::Error)]
pub enum ReadSkip {
    /// A NUL byte in the first 8 KiB: binary content is not indexed as text.
    #[error("{} looks binary (NUL byte in its first 8 KiB); not indexed", path.display())]
    Binary {
        /// The file.
        path: PathBuf,
    },
    /// Over the size cap: only its metadata is recorded.
    #[error(
        "{} is {size} bytes, over the {max}-byte cap; raise max_file_bytes to index it",
        path.display()
    )]
    Oversized {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap in force.
        max: u64,
    },
    /// The file changed or vanished while being read; retry on a later scan.
    #[error("{} changed or vanished while being read; it will be retried on the next scan", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The OS refused to open or read it.
    #[error("cannot read {}: {source}; check its permissions", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl ReadSkip {
    /// Short reason recorded in `files.skip_reason`: `binary`, `oversized` or
    /// `unreadable: <OS error>` (`Changed` is never recorded, it is retried).
    pub fn reason(&self) -> String {
        match self {
            ReadSkip::Binary { .. } => "binary".to_owned(),
            ReadSkip::Oversized { .. } => "oversized".to_owned(),
            ReadSkip::Changed { .. } => "changed while read".to_owned(),
            ReadSkip::Unreadable { source, .. } => format!("unreadable: {source}"),
        }
    }
}

/// Reads `path` whole if it is a text-or-unknown file of at most `max_bytes`, and only if it
/// did not change while being read. Blocking: run it off the async runtime.
pub fn read_stable(path: &Path, max_bytes: u64) -> Result<FileBytes, ReadSkip> {
    read_stable_with(path, max_bytes, || {})
}

/// [`read_stable`] with a hook run between the read and the second stat, so tests can change
/// the file at exactly the moment that matters.
fn read_stable_with(
    path: &Path,
    max_bytes: u64,
    after_read: impl FnOnce(),
) -> Result<FileBytes, ReadSkip> {
    let (size, mtime) = stat(path)?;
    if size > max_bytes {
        return Err(ReadSkip::Oversized {
            path: path.to_path_buf(),
            size,
            max: max_bytes,
        });
    }
    let mut file = File::open(path).map_err(|e| io_skip(path, e))?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // One byte past the stat'ed size is enough to notice growth without reading a runaway file.
    file.by_ref()
        .take(size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_skip(path, e))?;
    drop(file);
    after_read();
    let (size_after, mtime_after) = stat(path)?;
    if size_after != size || mtime_after != mtime || bytes.len() as u64 != size {
        tracing::debug!(path = %path.display(), "file changed while being read; retrying later");
        return Err(ReadSkip::Changed {
            path: path.to_path_buf(),
        });
    }
    let sniff = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if sniff.contains(&0) {
        return Err(ReadSkip::Binary {
            path: path.to_path_buf(),
        });
    }
    let blake3 = blake3::hash(&bytes).to_hex().to_string();
    let is_utf8 = std::str::from_utf8(&bytes).is_ok();
    Ok(FileBytes {
        bytes,
        size,
        mtime_ns: mtime,
        blake3,
        is_utf8,
    })
}

/// Size and mtime of `path`; a vanished file is `Changed` (retried), other errors unreadable.
fn stat(path: &Path) -> Result<(u64, i64), ReadSkip> {
    let meta = std::fs::metadata(path).map_err(|e| io_skip(path, e))?;
    Ok((meta.len(), mtime_ns(&meta)))
}

/// Maps an I/O error: `NotFound` means the file vanished since it was walked (retry later),
/// anything else is a lasting problem worth recording.
fn io_skip(path: &Path, source: std::io::Error) -> ReadSkip {
    if source.kind() == std::io::ErrorKind::NotFound {
        ReadSkip::Changed {
            path: path.to_path_buf(),
        }
    } else {
        ReadSkip::Unreadable {
            path: path.to_path_buf(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests unwrap freely")]

    use std::io::Write;

    use super::*;

    #[test]
    fn append_between_read_and_second_stat_is_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "one\n").unwrap();
        let result = read_stable_with(&path, 1024, || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            f.write_all(b"two\n").unwrap();
        });
        assert!(
            matches!(result, Err(ReadSkip::Changed { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn vanishing_between_read_and_second_stat_is_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "one\n").unwrap();
        let result = read_stable_with(&path, 1024, || std::fs::remove_file(&path).unwrap());
        assert!(
            matches!(result, Err(ReadSkip::Changed { .. })),
            "{result:?}"
        );
    }
}
