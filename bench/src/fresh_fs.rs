//! A fresh filesystem for each tool's run, so that no tool inherits another's deleted
//! inodes or dirty journal.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;

/// A fresh ext4 filesystem in a sparse image, loop-mounted on a directory; unmounted and
/// deleted on drop.
pub struct FreshFs {
    mount: PathBuf,
    image: PathBuf,
}

impl FreshFs {
    /// Whether one can be made here: needs root and `mkfs.ext4`.
    pub fn available() -> bool {
        rustix::process::geteuid().is_root() && Command::new("mkfs.ext4").arg("-V").output().is_ok()
    }

    /// Makes a sparse image of `bytes` bytes beside `dir` (`dir` with the extension `img`),
    /// formats it and mounts it on `dir`, which must exist.
    pub fn make(dir: &Path, bytes: u64) -> anyhow::Result<FreshFs> {
        let image = dir.with_extension("img");
        fs::File::create(&image)?.set_len(bytes)?;
        let ok = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"])
            .arg(&image)
            .status()?
            .success()
            && Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(dir)
                .status()?
                .success();
        if !ok {
            let _ = fs::remove_file(&image);
            bail!(
                "cannot make a fresh filesystem for the bench in {}",
                dir.display()
            );
        }
        Ok(FreshFs {
            mount: dir.to_path_buf(),
            image,
        })
    }
}

impl Drop for FreshFs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.mount)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !unmounted {
            // Still busy: detach it now; the kernel frees it when the last user goes.
            let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        }
        let _ = fs::remove_file(&self.image);
    }
}
