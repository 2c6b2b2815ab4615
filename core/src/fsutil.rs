//! Atomic file and directory writes: nothing a user made is ever left half-written.

use crate::error::{CoreError, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: the data goes to a temporary file in the same
/// directory, is flushed to disk, and is then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let file_name = path
        .file_name()
        .ok_or_else(|| CoreError::file(path, "not a file path"))?
        .to_string_lossy();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(CoreError::io(path, e));
    }
    Ok(())
}

/// What to put in one file of [`write_dir_atomic_streamed`]: bytes, or a function that
/// writes them (for files too large to hold in memory twice).
pub enum FileContent<'a> {
    /// The whole file.
    Bytes(&'a [u8]),
    /// Writes the file's content to the given writer.
    Writer(&'a dyn Fn(&mut dyn Write) -> Result<()>),
}

/// Writes the files `(name, bytes)` as the directory `dir`, replacing any directory already
/// there atomically: everything goes to a sibling `.NAME.saving-PID` directory, flushed to
/// disk, which is then swapped in with two renames (the old one is kept as `.NAME.old-PID`
/// between them and removed after).
pub fn write_dir_atomic(dir: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    let files: Vec<(&str, FileContent)> = files.iter().map(|(n, b)| (*n, FileContent::Bytes(b))).collect();
    write_dir_atomic_streamed(dir, &files)
}

/// [`write_dir_atomic`] with files that may be written by a function.
pub fn write_dir_atomic_streamed(dir: &Path, files: &[(&str, FileContent)]) -> Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| CoreError::io(&parent, e))?;
    let name = dir
        .file_name()
        .ok_or_else(|| CoreError::file(dir, "a directory to write needs a name"))?
        .to_string_lossy()
        .to_string();
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.saving-{pid}"));
    let old = parent.join(format!(".{name}.old-{pid}"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
    for (file, content) in files {
        let path = tmp.join(file);
        let f = std::fs::File::create(&path).map_err(|e| CoreError::io(&path, e))?;
        let mut w = std::io::BufWriter::new(f);
        match content {
            FileContent::Bytes(bytes) => w.write_all(bytes).map_err(|e| CoreError::io(&path, e))?,
            FileContent::Writer(write) => write(&mut w)?,
        }
        let f = w.into_inner().map_err(|e| CoreError::io(&path, e.into_error()))?;
        f.sync_all().map_err(|e| CoreError::io(&path, e))?;
    }
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|e| CoreError::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| CoreError::io(dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
