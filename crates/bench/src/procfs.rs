//! Readings from `/proc`: a process's resident memory and CPU time, PostgreSQL's server
//! processes, and the machine's CPU time, so that every phase can say how much of the machine
//! each party used and whether the machine was busy, idle or waiting on the disk.

use std::time::{Duration, Instant};

use serde::Serialize;

/// Linux reports CPU times in `USER_HZ` ticks, fixed at 100 on x86 and arm64 whatever the
/// kernel's own tick rate (`sysconf(_SC_CLK_TCK)` says so too).
const TICKS_PER_SECOND: f64 = 100.0;

/// `VmHWM` (peak resident set) and `VmRSS` of a process, in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// Resets a process's peak resident set to its current one (Linux 4.0+), so that a phase
/// reports its own peak rather than the process's lifetime peak. False when not allowed.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// User plus system CPU ticks of a process, all threads included.
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis
    // start at field 3, so utime and stime (fields 14 and 15) are the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks of every PostgreSQL server process (there is one per connection).
fn postgres_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "postgres"))
        .filter_map(|pid| process_ticks(&pid))
        .sum()
}

/// The machine's busy and I/O-wait ticks, from the first line of `/proc/stat`.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let values: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let at = |i: usize| values.get(i).copied().unwrap_or(0);
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    (busy, at(4))
}

/// What a phase used, in CPU cores (1.0 = one core busy for the whole phase).
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub seconds: f64,
    pub server_cores: f64,
    pub bench_cores: f64,
    /// PostgreSQL's server processes (zero on SQLite, which runs inside the hub).
    pub postgres_cores: f64,
    pub machine_busy_cores: f64,
    pub machine_iowait_cores: f64,
    /// Busy cores not accounted for by the server, the bench or PostgreSQL: other work on a
    /// shared machine, which the figures of this phase then understate.
    pub other_cores: f64,
    /// The server's (the hub's, or the no-op server's) peak resident set during the phase, in MiB.
    pub server_peak_rss_mib: f64,
}

/// Measures one phase of a server under load: started before it, finished after it.
pub struct Meter {
    server: u32,
    started: Instant,
    server_ticks: u64,
    bench_ticks: u64,
    postgres_ticks: u64,
    machine: (u64, u64),
}

impl Meter {
    pub fn start(server: u32) -> Self {
        reset_peak(server);
        Self {
            server,
            started: Instant::now(),
            server_ticks: process_ticks(&server.to_string()).unwrap_or(0),
            bench_ticks: process_ticks("self").unwrap_or(0),
            postgres_ticks: postgres_ticks(),
            machine: machine_ticks(),
        }
    }

    pub fn finish(&self) -> Usage {
        let seconds = self.started.elapsed().max(Duration::from_millis(1)).as_secs_f64();
        let cores = |now: u64, then: u64| now.saturating_sub(then) as f64 / TICKS_PER_SECOND / seconds;
        let machine = machine_ticks();
        let server_cores = cores(process_ticks(&self.server.to_string()).unwrap_or(0), self.server_ticks);
        let bench_cores = cores(process_ticks("self").unwrap_or(0), self.bench_ticks);
        let postgres_cores = cores(postgres_ticks(), self.postgres_ticks);
        let machine_busy_cores = cores(machine.0, self.machine.0);
        Usage {
            seconds,
            server_cores,
            bench_cores,
            postgres_cores,
            machine_busy_cores,
            machine_iowait_cores: cores(machine.1, self.machine.1),
            other_cores: (machine_busy_cores - server_cores - bench_cores - postgres_cores).max(0.0),
            server_peak_rss_mib: memory_kib(self.server).map_or(0.0, |(peak, _)| peak as f64 / 1024.0),
        }
    }
}
