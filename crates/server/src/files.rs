//! Files other local users must not read. The data directory holds the
//! database (password hashes, mail addresses), the server key and the
//! outbox (mails with live reset links), so what Postroom creates there is
//! for its own user only: directories 0700, files 0600. On other systems
//! than unix these functions create files and directories as usual.

use std::io;
use std::path::{Path, PathBuf};

/// Creates `dir` and any missing parents, each readable by this user only.
/// A directory that already exists is left as it is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` as a new, empty file readable by this user only; fails if
/// it exists.
pub fn create_private_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// The lock a running server holds on its data directory
/// (`<data_dir>/server.lock`), so that a second server, or a restore, does
/// not use the same database under it. The operating system lets go of it
/// when the process ends, however it ends.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

/// What holds a data directory's lock when it is taken.
#[derive(Debug)]
pub struct Locked {
    /// The process that wrote its id into the lock file, when it did.
    pub pid: Option<u32>,
}

/// Takes the data directory's lock; `Err(Locked)` inside when a running
/// process holds it.
pub fn lock_data_dir(dir: &Path) -> io::Result<Result<DataDirLock, Locked>> {
    use std::io::{Read, Seek, Write};
    create_private_dir(dir)?;
    let path = dir.join("server.lock");
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Ok(Err(Locked {
                pid: text.trim().parse().ok(),
            }));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(Ok(DataDirLock { _file: file }))
}

/// Creates `path` empty and readable by this user only, unless it exists.
pub fn ensure_private_file(path: &Path) -> io::Result<()> {
    match create_private_file(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Takes from other users what an older version left open to them: each
/// path that exists and allows more than `mode` (0600 for a file, 0700 for
/// a directory) is set to `mode`. Returns the paths changed.
#[cfg(unix)]
pub fn tighten(paths: &[(PathBuf, u32)]) -> io::Result<Vec<PathBuf>> {
    use std::os::unix::fs::PermissionsExt;
    let mut changed = Vec::new();
    for (path, mode) in paths {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.file_type().is_symlink() || meta.permissions().mode() & 0o777 & !mode == 0 {
            continue;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode))?;
        changed.push(path.clone());
    }
    Ok(changed)
}

#[cfg(not(unix))]
pub fn tighten(_paths: &[(PathBuf, u32)]) -> io::Result<Vec<PathBuf>> {
    Ok(Vec::new())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_private_and_loose_ones_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700);
        let file = dir.join("f");
        ensure_private_file(&file).unwrap();
        ensure_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert!(create_private_file(&file).is_err(), "never overwrites");

        let loose = root.path().join("loose");
        std::fs::write(&loose, "x").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        let strict = root.path().join("strict");
        std::fs::write(&strict, "x").unwrap();
        std::fs::set_permissions(&strict, std::fs::Permissions::from_mode(0o400)).unwrap();
        let wanted = [
            (loose.clone(), 0o600),
            (strict.clone(), 0o600),
            (root.path().join("absent"), 0o600),
        ];
        assert_eq!(tighten(&wanted).unwrap(), vec![loose.clone()]);
        assert_eq!(mode(&loose), 0o600);
        assert_eq!(mode(&strict), 0o400, "stricter than asked stays so");
        assert!(tighten(&wanted).unwrap().is_empty());
    }
}
