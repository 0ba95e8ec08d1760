//! The free-space reserve of the recordings spool: the room the node keeps free on the spool's file system so that
//! sessions that need their recording never run into a full disk half-way through a write.
//!
//! A session is refused when the spool is already below the reserve, and a live one stops recording (and, when its
//! policy requires the recording, ends) once it falls below. The check asks the file system (`statvfs`), counting
//! only the blocks an unprivileged writer may use.

use std::path::{Path, PathBuf};

use crate::RecordingError;

/// How much room the spool keeps free; zero turns the check off (write errors still end sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolReserve {
    bytes: u64,
}

impl SpoolReserve {
    pub const fn bytes(bytes: u64) -> SpoolReserve {
        SpoolReserve { bytes }
    }

    pub const fn megabytes(megabytes: u64) -> SpoolReserve {
        SpoolReserve { bytes: megabytes.saturating_mul(1024 * 1024) }
    }

    pub const fn as_bytes(self) -> u64 {
        self.bytes
    }

    /// `Ok` while the file system holding `path` has at least the reserve free; `SpoolFull` once it has less, and
    /// `SpoolSpace` when the file system cannot be asked (which also stops a recording: fail closed).
    pub fn check(self, path: &Path) -> Result<(), RecordingError> {
        if self.bytes == 0 {
            return Ok(());
        }
        let free = free_bytes(path)?;
        if free < self.bytes { Err(RecordingError::SpoolFull { free, reserve: self.bytes }) } else { Ok(()) }
    }
}

/// The bytes an unprivileged process may still write on the file system holding `path`.
pub fn free_bytes(path: &Path) -> Result<u64, RecordingError> {
    let stat = rustix::fs::statvfs(path)
        .map_err(|errno| RecordingError::SpoolSpace { path: PathBuf::from(path), source: errno.into() })?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_met_or_not_by_the_real_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).unwrap();
        assert!(free > 0);
        assert_eq!(SpoolReserve::bytes(0).check(dir.path()).ok(), Some(()));
        assert!(SpoolReserve::bytes(1).check(dir.path()).is_ok());
        match SpoolReserve::bytes(u64::MAX).check(dir.path()) {
            Err(RecordingError::SpoolFull { free: reported, reserve }) => {
                assert_eq!(reserve, u64::MAX);
                assert!(reported > 0);
            }
            other => panic!("expected SpoolFull, got {other:?}"),
        }
        assert_eq!(SpoolReserve::megabytes(3).as_bytes(), 3 * 1024 * 1024);
    }

    #[test]
    fn a_spool_that_cannot_be_asked_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        assert!(matches!(SpoolReserve::bytes(1).check(&missing), Err(RecordingError::SpoolSpace { .. })));
    }
}
