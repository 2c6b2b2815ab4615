//! Atomic file and directory writes: nothing a user made is ever left half-written, and
//! nothing of the user's is replaced unless it is one of ours.
//!
//! A directory is only ever replaced when it is one this tool writes (a model directory, a
//! checkpoint, an exported Hugging Face checkpoint), recognised by its files ([`DirKind`]);
//! anything else in its place is an error naming the path. Temporary files and directories of
//! a save that was killed (`.NAME.saving-PID`, `.NAME.old-PID`, `.NAME.PID.tmp`) are removed by
//! the next save once their process is gone.

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
    let file_name =
        path.file_name().ok_or_else(|| CoreError::file(path, "not a file path"))?.to_string_lossy();
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(CoreError::file(path, "is a directory; expected a file path to write"));
    }
    remove_stale(dir, &format!(".{file_name}."), ".tmp");
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

/// A kind of directory this tool writes, recognised by its files: an existing directory is
/// replaced only when it is empty, or when it holds `signature` and nothing but plain files
/// named in `files`.
#[derive(Debug, Clone, Copy)]
pub struct DirKind {
    /// What it is, for messages ("model directory").
    pub what: &'static str,
    /// Every file name such a directory may hold.
    pub files: &'static [&'static str],
    /// Files that mark it as one of ours; at least one must be present.
    pub signature: &'static [&'static str],
}

impl DirKind {
    /// Whether the existing `dir` may be replaced by a directory of this kind; `Err` says why not.
    pub fn check_replaceable(&self, dir: &Path) -> Result<()> {
        let meta = match std::fs::symlink_metadata(dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(CoreError::io(dir, e)),
        };
        let refuse = |why: String| {
            Err(CoreError::file(
                dir,
                format!(
                    "{why}; refusing to replace it with a {} (choose another path, or remove it yourself)",
                    self.what
                ),
            ))
        };
        if meta.file_type().is_symlink() {
            return refuse("is a symbolic link".into());
        }
        if !meta.is_dir() {
            return refuse("exists and is not a directory".into());
        }
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| CoreError::io(dir, e))? {
            let entry = entry.map_err(|e| CoreError::io(dir, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            let plain_file = entry.file_type().is_ok_and(|t| t.is_file());
            if !plain_file || !self.files.contains(&name.as_str()) {
                return refuse(format!("holds `{name}`, which is not part of a {}", self.what));
            }
            names.push(name);
        }
        if !names.is_empty() && !self.signature.iter().any(|s| names.iter().any(|n| n == s)) {
            return refuse(format!(
                "is not a {} (it has none of {})",
                self.what,
                self.signature.join(", ")
            ));
        }
        Ok(())
    }
}

/// Refuses to write `output` (given by `flag`) when it is one of `inputs` (the same file by
/// path or, on Unix, by device and inode), so an output never overwrites what it is made from.
pub fn refuse_overwriting_inputs(inputs: &[&Path], output: &Path, flag: &str) -> Result<()> {
    for input in inputs {
        if same_file(input, output) {
            return Err(CoreError::file(
                output,
                format!(
                    "{flag} is the input file {}; write the output to another path",
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Writes the files `(name, bytes)` as the directory `dir` of `kind`, replacing a directory of
/// that kind already there atomically: everything goes to a sibling `.NAME.saving-PID`
/// directory, flushed to disk, which is then swapped in with two renames (the old one is kept as
/// `.NAME.old-PID` between them and removed after). A `dir` that is not of `kind` is an error.
pub fn write_dir_atomic(dir: &Path, kind: &DirKind, files: &[(&str, &[u8])]) -> Result<()> {
    let files: Vec<(&str, FileContent)> =
        files.iter().map(|(n, b)| (*n, FileContent::Bytes(b))).collect();
    write_dir_atomic_streamed(dir, kind, &files)
}

/// [`write_dir_atomic`] with files that may be written by a function.
pub fn write_dir_atomic_streamed(
    dir: &Path,
    kind: &DirKind,
    files: &[(&str, FileContent)],
) -> Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dir
        .file_name()
        .ok_or_else(|| CoreError::file(dir, "a directory to write needs a name"))?
        .to_string_lossy()
        .to_string();
    if let Some((file, _)) = files.iter().find(|(f, _)| !kind.files.contains(f)) {
        return Err(CoreError::file(
            dir,
            format!("internal error: `{file}` is not a file of a {}", kind.what),
        ));
    }
    kind.check_replaceable(dir)?;
    std::fs::create_dir_all(&parent).map_err(|e| CoreError::io(&parent, e))?;
    remove_leftovers(dir);
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.saving-{pid}"));
    let old = parent.join(format!(".{name}.old-{pid}"));
    let _ = std::fs::remove_dir_all(&tmp);
    let written = write_files(&tmp, files);
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|e| CoreError::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| CoreError::io(dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    remove_leftovers(dir);
    Ok(())
}

/// Removes what saves of `dir` that were killed (by a signal, a full disk) left beside it: their
/// `.NAME.saving-PID` directories, and — once `dir` itself is in place, so that they are not
/// the only copy — their `.NAME.old-PID` ones. Only those of processes no longer running.
pub fn remove_leftovers(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else { return };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    let name = name.to_string_lossy();
    remove_stale(parent, &format!(".{name}.saving-"), "");
    if dir.is_dir() {
        remove_stale(parent, &format!(".{name}.old-"), "");
    }
}

/// Creates `tmp` and writes `files` into it, each flushed to disk.
fn write_files(tmp: &Path, files: &[(&str, FileContent)]) -> Result<()> {
    std::fs::create_dir_all(tmp).map_err(|e| CoreError::io(tmp, e))?;
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
    Ok(())
}

/// Removes the entries of `dir` named `PREFIX<pid>SUFFIX` whose process `pid` is no longer
/// running (leftovers of a save that was killed or ran out of disk). Best effort: an entry
/// that cannot be removed stays.
pub fn remove_stale(dir: &Path, prefix: &str, suffix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(suffix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let path = entry.path();
        let _ = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// Whether process `pid` is running. Where that cannot be told (no `/proc`), it is assumed to
/// be, so nothing is removed.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
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
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    const KIND: DirKind = DirKind {
        what: "model directory",
        files: &["config.json", "model.bpk"],
        signature: &["model.bpk"],
    };

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn only_a_directory_of_ours_is_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let files: &[(&str, &[u8])] = &[("config.json", b"{}"), ("model.bpk", b"w")];
        // new, then ours: replaced
        let m = tmp.path().join("m");
        write_dir_atomic(&m, &KIND, files).unwrap();
        write_dir_atomic(&m, &KIND, &[("config.json", b"{2}"), ("model.bpk", b"w2")]).unwrap();
        assert_eq!(std::fs::read(m.join("model.bpk")).unwrap(), b"w2");
        // an empty directory holds nothing to lose
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        write_dir_atomic(&empty, &KIND, files).unwrap();
        // a user's directory: refused, untouched
        let victim = tmp.path().join("important");
        std::fs::create_dir(&victim).unwrap();
        std::fs::write(victim.join("notes.txt"), "mine").unwrap();
        let e = write_dir_atomic(&victim, &KIND, files).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "{}: holds `notes.txt`, which is not part of a model directory; refusing",
                victim.display()
            )),
            "{e}"
        );
        assert_eq!(names(&victim), ["notes.txt"]);
        // our file names without the signature (a user's config.json alone): refused
        let cfg_only = tmp.path().join("cfg");
        std::fs::create_dir(&cfg_only).unwrap();
        std::fs::write(cfg_only.join("config.json"), "mine").unwrap();
        let e = write_dir_atomic(&cfg_only, &KIND, files).unwrap_err().to_string();
        assert!(e.contains("is not a model directory (it has none of model.bpk)"), "{e}");
        // a subdirectory, a file and a link in the way: refused
        std::fs::create_dir(m.join("sub")).unwrap();
        assert!(
            write_dir_atomic(&m, &KIND, files).unwrap_err().to_string().contains("holds `sub`")
        );
        let file = tmp.path().join("file");
        std::fs::write(&file, "data").unwrap();
        assert!(
            write_dir_atomic(&file, &KIND, files)
                .unwrap_err()
                .to_string()
                .contains("exists and is not a directory")
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"data");
        #[cfg(unix)]
        {
            let link = tmp.path().join("link");
            std::os::unix::fs::symlink(&empty, &link).unwrap();
            assert!(
                write_dir_atomic(&link, &KIND, files)
                    .unwrap_err()
                    .to_string()
                    .contains("is a symbolic link")
            );
        }
        // no temporary directory is left beside them
        assert!(names(tmp.path()).iter().all(|n| !n.starts_with('.')), "{:?}", names(tmp.path()));
    }

    #[test]
    fn leftovers_of_dead_processes_are_removed_by_the_next_save() {
        let tmp = tempfile::tempdir().unwrap();
        let m = tmp.path().join("m");
        write_dir_atomic(&m, &KIND, &[("model.bpk", b"w")]).unwrap();
        // pid 2^22 + 1 is above Linux's pid_max limit, so no such process runs
        let dead = 4_194_305;
        let live = 1; // init: always running, so its files are never removed
        for stale in [format!(".m.saving-{dead}"), format!(".m.old-{dead}")] {
            std::fs::create_dir(tmp.path().join(&stale)).unwrap();
            std::fs::write(tmp.path().join(&stale).join("model.bpk"), "x").unwrap();
        }
        std::fs::write(tmp.path().join(format!(".a.json.{dead}.tmp")), "x").unwrap();
        std::fs::create_dir(tmp.path().join(format!(".m.saving-{live}"))).unwrap();
        std::fs::create_dir(tmp.path().join(".other.saving-1x")).unwrap();
        write_dir_atomic(&m, &KIND, &[("model.bpk", b"w2")]).unwrap();
        write_atomic(&tmp.path().join("a.json"), b"{}").unwrap();
        let mut want = vec![
            format!(".m.saving-{live}"),
            ".other.saving-1x".to_string(),
            "a.json".into(),
            "m".into(),
        ];
        want.sort();
        assert_eq!(names(tmp.path()), want);
    }

    #[test]
    fn an_output_that_is_its_input_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a.jsonl");
        std::fs::write(&a, "x").unwrap();
        let same = tmp.path().join(".").join("a.jsonl");
        let e = refuse_overwriting_inputs(&[&a], &same, "--out").unwrap_err().to_string();
        assert!(e.contains("--out is the input file"), "{e}");
        #[cfg(unix)]
        {
            let hard = tmp.path().join("hard.jsonl");
            std::fs::hard_link(&a, &hard).unwrap();
            assert!(refuse_overwriting_inputs(&[&a], &hard, "--out").is_err());
        }
        refuse_overwriting_inputs(&[&a], &tmp.path().join("b.jsonl"), "--out").unwrap();
    }
}
