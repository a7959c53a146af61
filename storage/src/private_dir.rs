//! Directories that hold customers' data (the store, backups restored into it): readable by the
//! service's own user only. Feedback texts and device hashes are personal data; a data directory
//! other local users can list or read would hand them out whatever the API checks.

use std::io;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::Path;

/// Permission bits of a private directory: owner only.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// Creates `path` (and missing parents) as owner-only, and takes group and other access away from
/// `path` itself if it existed with more and belongs to this process's user. Parents that existed
/// keep their mode: they may be shared directories such as `/var/lib`. A directory that belongs to
/// someone else (a Kubernetes volume's root: root's, group-writable through `fsGroup`) keeps its
/// mode too, since only its owner may change it; what svea creates inside it is owner-only.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(PRIVATE_DIR_MODE).create(path)?;
    let meta = std::fs::metadata(path)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700)) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
            other => other?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_and_existing_directories_end_owner_only() {
        let tmp = tempfile::tempdir().expect("tmp");
        let fresh = tmp.path().join("a/b");
        create_private_dir(&fresh).expect("create");
        assert_eq!(std::fs::metadata(&fresh).expect("meta").permissions().mode() & 0o777, PRIVATE_DIR_MODE);
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        create_private_dir(&open).expect("tighten");
        assert_eq!(std::fs::metadata(&open).expect("meta").permissions().mode() & 0o777, 0o700);
    }
}
