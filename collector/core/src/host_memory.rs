//! The memory this process may use: the cgroup limit (cgroup v2 `memory.max`, cgroup v1
//! `memory.limit_in_bytes`), capped at the host's `MemTotal`. The memory limiter takes its
//! percentages of it, and the process-wide [`crate::memory_budget`] its default.

/// cgroups report "no limit" as `max` (v2) or as a huge number (v1: 0x7FFFFFFFFFFFF000).
const UNLIMITED_ABOVE: u64 = 1 << 60;

/// A cgroup memory limit file's content, `None` when it means no limit.
pub fn parse_cgroup_limit(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "max" {
        return None;
    }
    s.parse::<u64>()
        .ok()
        .filter(|&v| v > 0 && v < UNLIMITED_ABOVE)
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
pub fn parse_meminfo_total(s: &str) -> Option<u64> {
    let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The cgroup memory limit of this process, if any: the files of its own cgroup (from
/// `/proc/self/cgroup`), then those at the cgroup mount's root (the usual view in a container).
fn cgroup_limit() -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let own = read("/proc/self/cgroup").unwrap_or_default();
    let mut candidates = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        let path = path.trim_end_matches('/');
        if controllers.is_empty() {
            candidates.push(format!("/sys/fs/cgroup{path}/memory.max"));
        } else if controllers.split(',').any(|c| c == "memory") {
            candidates.push(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"));
        }
    }
    candidates.push("/sys/fs/cgroup/memory.max".into());
    candidates.push("/sys/fs/cgroup/memory/memory.limit_in_bytes".into());
    candidates
        .iter()
        .find_map(|p| read(p).as_deref().and_then(parse_cgroup_limit))
}

/// The memory percentages are taken of: the cgroup limit, capped at the host's memory.
pub fn total_memory() -> Option<u64> {
    let host = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .as_deref()
        .and_then(parse_meminfo_total);
    match (cgroup_limit(), host) {
        (Some(c), Some(h)) => Some(c.min(h)),
        (c, h) => c.or(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cgroup_limits() {
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("536870912\n"), Some(536870912));
        assert_eq!(parse_cgroup_limit("9223372036854771712\n"), None);
        assert_eq!(parse_cgroup_limit("garbage"), None);
    }

    #[test]
    fn parses_meminfo() {
        let text = "MemTotal:       16310712 kB\nMemFree:         1234 kB\n";
        assert_eq!(parse_meminfo_total(text), Some(16310712 * 1024));
        assert_eq!(parse_meminfo_total("MemFree: 1 kB"), None);
    }

    #[test]
    fn reads_this_machine() {
        let total = total_memory().expect("linux test machines have /proc/meminfo");
        assert!(total > 16 * 1024 * 1024, "{total}");
    }
}
