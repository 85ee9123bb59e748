//! Process accounting from `/proc`: CPU time (utime + stime) and memory (VmHWM, VmRSS).

use std::sync::OnceLock;

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux).
fn clk_tck() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// User + system CPU seconds consumed so far by `pid` ("self" for this process).
pub fn cpu_seconds(pid: &str) -> std::io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => Ok((u + s) as f64 / clk_tck()),
        _ => Err(std::io::Error::other(format!(
            "unexpected /proc/{pid}/stat"
        ))),
    }
}

/// A `Vm*` line of `/proc/<pid>/status` in KiB (`VmHWM` is the peak RSS, `VmRSS` the current).
pub fn status_kib(pid: &str, key: &str) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| {
            let v = l.strip_prefix(key)?.strip_prefix(':')?;
            v.split_whitespace().next()?.parse().ok()
        })
        .ok_or_else(|| std::io::Error::other(format!("no {key} in /proc/{pid}/status")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        // Spin until 0.1 s of CPU is seen (a busy machine gives less CPU per wall second), for
        // at most 20 s of wall time: a reader stuck at one value fails.
        let before = cpu_seconds("self").expect("stat");
        let mut x = 0u64;
        let start = std::time::Instant::now();
        let mut after = before;
        while after - before < 0.1 && start.elapsed().as_secs() < 20 {
            for _ in 0..1_000_000 {
                x = x.wrapping_mul(31).wrapping_add(7);
            }
            after = cpu_seconds("self").expect("stat");
        }
        assert!(x != 1);
        assert!(after - before >= 0.1, "{before} -> {after}");
        let hwm = status_kib("self", "VmHWM").expect("VmHWM");
        let rss = status_kib("self", "VmRSS").expect("VmRSS");
        // The kernel updates the high-water mark lazily: it may trail the current RSS a little.
        assert!(hwm + 1024 >= rss && rss > 100, "{hwm} {rss}");
    }
}
