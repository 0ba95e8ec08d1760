//! A small file system for one process: a server started through [`SmallDisk::launcher`] sees a tmpfs of a fixed
//! size mounted over a directory, in a mount namespace of its own (`unshare --mount`), so a test can fill that
//! disk for real without touching the machine's. Needs the right to create a mount namespace (root here).
//!
//! The test itself still sees the empty directory underneath; [`SmallDisk::path_seen_by`] names the same
//! directory as the server sees it (through `/proc/PID/root`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::s3::required;

const REQUIRE_ENV: &str = "LATCH_REQUIRE_SMALL_DISK";

/// A directory that a launched process sees as a tmpfs of `size_mb` MiB.
#[derive(Debug)]
pub struct SmallDisk {
    _root: tempfile::TempDir,
    dir: PathBuf,
    size_mb: u32,
}

impl SmallDisk {
    /// The directory the tmpfs is mounted over (empty outside the launched process).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The command that runs the rest of its command line with the tmpfs mounted over [`dir`](Self::dir), in the
    /// same process (so its pid is the server's).
    pub fn launcher(&self) -> Vec<String> {
        vec![
            "unshare".to_owned(),
            "--mount".to_owned(),
            "--propagation".to_owned(),
            "private".to_owned(),
            "--".to_owned(),
            "sh".to_owned(),
            "-c".to_owned(),
            format!("mount -t tmpfs -o size={}m,mode=0700 latch-small-disk \"$0\" && exec \"$@\"", self.size_mb),
            self.dir.display().to_string(),
        ]
    }

    /// `relative` inside the tmpfs, as the process `pid` (started by the launcher) sees it.
    pub fn path_seen_by(&self, pid: u32, relative: &str) -> PathBuf {
        let inside = self.dir.strip_prefix("/").unwrap_or(&self.dir);
        PathBuf::from(format!("/proc/{pid}/root")).join(inside).join(relative)
    }
}

/// A [`SmallDisk`] of `size_mb` MiB, or `Ok(None)` (saying why on stderr) when this machine does not let the test
/// mount one, unless the environment variable `LATCH_REQUIRE_SMALL_DISK` is `1`: then that is an error.
pub fn small_disk_or_skip(size_mb: u32) -> anyhow::Result<Option<SmallDisk>> {
    let root = tempfile::tempdir().context("creating the small disk's directory")?;
    let dir = root.path().join("disk");
    std::fs::create_dir(&dir).context("creating the small disk's mount point")?;
    let disk = SmallDisk { _root: root, dir, size_mb };
    let mut probe = disk.launcher();
    probe.extend(["true".to_owned()]);
    let output = Command::new(&probe[0]).args(&probe[1..]).output();
    match output {
        Ok(output) if output.status.success() => Ok(Some(disk)),
        outcome => {
            let why = match outcome {
                Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                Err(error) => error.to_string(),
            };
            if required(REQUIRE_ENV) {
                bail!("cannot mount a private tmpfs: {why}");
            }
            eprintln!(
                "latch-testkit: skipping small-disk test: cannot mount a private tmpfs: {why} (set {REQUIRE_ENV}=1 to fail instead)"
            );
            Ok(None)
        }
    }
}
