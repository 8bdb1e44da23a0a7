//! The machine a run measured: CPU, cores, memory, kernel, compiler, commit, and how long the
//! disk takes to make a small write durable, which bounds any engine that commits each
//! request on its own.

use std::{io::Write, path::Path, process::Command, time::Instant};

use serde::Serialize;
use tributary_harness::machine;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub rustc: String,
    pub commit: String,
    /// Median time of a 4 KiB write followed by `fdatasync`, in the directory the databases use.
    pub fdatasync_ms: f64,
    pub build: &'static str,
}

impl Machine {
    pub fn describe(scratch: &Path) -> Self {
        let commit = output("git", &["rev-parse", "--short=12", "HEAD"]);
        let dirty = !output("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
        Self {
            cpu: machine::cpu().unwrap_or_else(|| "unknown".into()),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: machine::memory_kib().map_or(0.0, |kib| kib as f64 / 1024.0 / 1024.0),
            kernel: machine::kernel(),
            rustc: output("rustc", &["--version"]),
            commit: if dirty {
                format!("{commit} (with uncommitted changes)")
            } else {
                commit
            },
            fdatasync_ms: fdatasync_ms(scratch).unwrap_or(f64::NAN),
            build: if cfg!(debug_assertions) { "debug" } else { "release" },
        }
    }

    pub fn headline(&self) -> String {
        format!(
            "machine: {} × {} cores, {:.1} GiB, Linux {}, {}, commit {}, fdatasync {:.2} ms, {} build",
            self.cpu, self.cores, self.memory_gib, self.kernel, self.rustc, self.commit, self.fdatasync_ms, self.build
        )
    }
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn fdatasync_ms(dir: &Path) -> std::io::Result<f64> {
    let path = dir.join("fdatasync-probe");
    let mut file = std::fs::File::create(&path)?;
    let block = [7u8; 4096];
    let mut times = Vec::with_capacity(100);
    for _ in 0..100 {
        let started = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    std::fs::remove_file(&path)?;
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
