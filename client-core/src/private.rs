//! Files and folders only their owner may open. A database holds every customer, and the
//! server's also password and token hashes, so databases are created (and, when opened,
//! narrowed to) mode 0600 and their folders 0700, whatever the process's umask.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::path::Path;

use redb::backends::FileBackend;
use redb::{Builder, Database, DatabaseError};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// Opens (or creates) the redb database at `path` as `builder` says, private to its owner.
pub fn database(builder: &Builder, path: &Path) -> Result<Database, DatabaseError> {
    let file = private_file(path, false)?;
    builder.create_with_backend(FileBackend::new(file)?)
}

/// A new file at `path` (refusing one that exists when `new`), readable by its owner only.
pub fn private_file(path: &Path, new: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    if new {
        options.create_new(true);
    } else {
        options.create(true).truncate(false);
    }
    #[cfg(unix)]
    options.mode(FILE_MODE);
    let file = options.open(path)?;
    // A file created by an earlier version under a looser umask is narrowed too.
    #[cfg(unix)]
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Creates `dir` and any missing parents; `dir` itself ends up readable by its owner only.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir)?;
    #[cfg(unix)]
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))?;
    Ok(())
}
