//! Small filesystems to put a hub's SQLite data directory on, and break while it runs:
//!
//! - a **tmpfs**, filled to the last block (disk full) and emptied again;
//! - an **ext4 image** on a loop device, mounted `errors=remount-ro`, which the kernel turns
//!   read-only on an error (`/sys/fs/ext4/<dev>/trigger_fs_error`), as it does a real disk
//!   that fails. A plain `mount -o remount,ro` cannot do this to a running hub: Linux refuses
//!   it (EBUSY) while a file is open for writing, and SQLite keeps its files open. An ext4
//!   turned read-only by an error stays so until it is unmounted and checked, so recovery
//!   means stopping the hub, `e2fsck`, mounting again and starting it.
//!
//! Both need root. Each mount is undone when dropped, on failure too.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};

pub struct Mount {
    path: PathBuf,
    kind: Kind,
    mounted: bool,
}

enum Kind {
    Tmpfs,
    Ext4 { image: PathBuf },
}

const FILLER: &str = "filler";
/// "No space left on device".
const ENOSPC: i32 = 28;

impl Mount {
    /// A tmpfs of `megabytes` at `path` (created if missing).
    pub fn tmpfs(path: &Path, megabytes: u32) -> anyhow::Result<Self> {
        std::fs::create_dir_all(path)?;
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(path))
        .context("mounting a tmpfs (this scenario needs root)")?;
        Ok(Self {
            path: path.to_owned(),
            kind: Kind::Tmpfs,
            mounted: true,
        })
    }

    /// An ext4 filesystem of `megabytes` in the file `image`, mounted at `path` through a
    /// loop device, turned read-only by the kernel on its first error.
    pub fn ext4(path: &Path, image: &Path, megabytes: u32) -> anyhow::Result<Self> {
        std::fs::create_dir_all(path)?;
        std::fs::File::create(image)?.set_len(u64::from(megabytes) << 20)?;
        run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(image)).context("mkfs.ext4")?;
        let mut mount = Self {
            path: path.to_owned(),
            kind: Kind::Ext4 {
                image: image.to_owned(),
            },
            mounted: false,
        };
        mount.mount_ext4()?;
        Ok(mount)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn mount_ext4(&mut self) -> anyhow::Result<()> {
        let Kind::Ext4 { image } = &self.kind else {
            bail!("not an ext4 image");
        };
        run(Command::new("mount")
            .args(["-o", "loop,errors=remount-ro"])
            .arg(image)
            .arg(&self.path))
        .context("mounting an ext4 image on a loop device (this scenario needs root)")?;
        self.mounted = true;
        Ok(())
    }

    /// Takes every free block with one file; returns how many bytes it took.
    pub fn fill(&self) -> anyhow::Result<u64> {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.path.join(FILLER))?;
        let mut taken = 0;
        // Big writes first, then page-sized ones for the last scraps.
        for chunk in [1 << 20, 4096] {
            let zeros = vec![0u8; chunk];
            loop {
                match filler.write(&zeros) {
                    Ok(written) => taken += written as u64,
                    Err(error) if error.raw_os_error() == Some(ENOSPC) => break,
                    Err(error) => return Err(error).context("filling the filesystem"),
                }
            }
        }
        Ok(taken)
    }

    /// Gives the space [`Mount::fill`] took back.
    pub fn empty(&self) -> anyhow::Result<()> {
        std::fs::remove_file(self.path.join(FILLER)).context("removing the filler")
    }

    /// Makes the kernel see an error on the filesystem, which `errors=remount-ro` turns into
    /// a read-only filesystem at once, under every open file.
    pub fn break_filesystem(&self) -> anyhow::Result<()> {
        let source = output(Command::new("findmnt").args(["-n", "-o", "SOURCE"]).arg(&self.path))?;
        let device = Path::new(source.trim())
            .file_name()
            .and_then(|d| d.to_str())
            .with_context(|| format!("no device under {}", self.path.display()))?;
        std::fs::write(format!("/sys/fs/ext4/{device}/trigger_fs_error"), "1")
            .with_context(|| format!("triggering an error on {device}"))
    }

    /// After [`Mount::break_filesystem`] and once nothing holds a file open on it: unmount,
    /// repair with `e2fsck`, mount again read-write.
    pub fn repair(&mut self) -> anyhow::Result<()> {
        let Kind::Ext4 { image } = &self.kind else {
            bail!("only an ext4 image can be repaired");
        };
        run(Command::new("umount").arg(&self.path))?;
        self.mounted = false;
        // e2fsck exits 1 when it fixed something, which is what it is here for.
        let status = Command::new("e2fsck").args(["-f", "-y"]).arg(image).output()?.status;
        if !matches!(status.code(), Some(0 | 1)) {
            bail!("e2fsck {} failed ({status})", image.display());
        }
        self.mount_ext4()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.mounted
            && run(Command::new("umount").arg(&self.path)).is_err()
            && let Err(error) = run(Command::new("umount").arg("-l").arg(&self.path))
        {
            eprintln!("could not unmount {}: {error:#}", self.path.display());
        }
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    output(command).map(drop)
}

fn output(command: &mut Command) -> anyhow::Result<String> {
    let output = command.output().with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
