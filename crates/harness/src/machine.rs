//! The machine a run used, as both tools record it beside their results, read from /proc:
//! figures mean little without the CPU and memory they were made on.

/// The CPU's model name.
pub fn cpu() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo").ok()?.lines().find_map(|l| {
        l.strip_prefix("model name")?
            .split_once(':')
            .map(|(_, m)| m.trim().to_string())
    })
}

/// Total memory, in KiB.
pub fn memory_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo").ok()?.lines().find_map(|l| {
        l.strip_prefix("MemTotal:")?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// The kernel's release, e.g. `6.8.0-45-generic`; empty if unknown.
pub fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_default()
}
