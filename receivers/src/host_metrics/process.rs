//! `process`: per-process metrics, one resource per process (`process.pid`,
//! `process.executable.name`, `process.command`, ...), as otelcol on Linux: a process whose
//! name, executable path (kernel threads have none), command, parent or start time cannot be
//! read is skipped with an error; an unreadable owner or `/proc/<pid>/io` only loses that
//! part. Errors are collected per scrape (each kind mutable) and never stop the scrape. At
//! most [`MAX_PROCESSES`] processes are reported per scrape; the rest are counted.

use super::config::ProcessConfig;
use super::filter::IncludeExclude;
use super::metrics::{gauge, sum, Builder, Defs};
use super::process_proc::*;
use super::sys::{clk_tck, field, go_error, page_size, Root};
use super::{ScrapeCtx, Scraper};
use ferrotel_core::pdata::{kv, kv_str};
use ferrotel_core::proto::common::v1::{any_value, KeyValue};
use ferrotel_core::proto::metrics::v1::ResourceMetrics;
use std::collections::HashMap;

pub const METRICS: Defs = &[
    sum("process.cpu.time", "Total CPU seconds broken down by different states.", "s", true, false, true),
    gauge("process.cpu.utilization", "Percentage of total CPU time used by the process since last scrape, expressed as a value between 0 and 1. On the first scrape, no data point is emitted for this metric.", "1", false, false),
    sum("process.memory.usage", "The amount of physical memory in use.", "By", false, true, true),
    sum("process.memory.virtual", "Virtual memory size.", "By", false, true, true),
    gauge("process.memory.utilization", "Percentage of total physical memory that is used by the process.", "1", false, false),
    sum("process.disk.io", "Disk bytes transferred.", "By", true, true, true),
    sum("process.disk.operations", "Number of disk operations performed by the process.", "{operations}", true, true, false),
    sum("process.paging.faults", "Number of page faults the process has made.", "{faults}", true, true, false),
    sum("process.signals_pending", "Number of pending signals for the process.", "{signals}", false, true, false),
    sum("process.threads", "Process threads count.", "{threads}", false, true, false),
    sum("process.open_file_descriptors", "Number of file descriptors in use by the process.", "{count}", false, true, false),
    sum("process.context_switches", "Number of times the process has been context switched.", "{count}", true, true, false),
];

/// Resource attributes with otelcol's defaults.
pub const RESOURCE: &[(&str, bool)] = &[
    ("process.pid", true),
    ("process.parent_pid", true),
    ("process.executable.name", true),
    ("process.executable.path", true),
    ("process.command", true),
    ("process.command_line", true),
    ("process.owner", true),
    ("process.cgroup", false),
];

/// Processes reported per scrape at most.
pub const MAX_PROCESSES: usize = 32_768;

/// A process's identity, read before its metrics.
pub struct Meta {
    pub pid: u32,
    pub name: String,
    pub exe: String,
    pub args: Vec<String>,
    pub owner: Option<String>,
    pub cgroup: Option<String>,
    pub stat: Stat,
    pub status: Status,
    /// Start, Unix nanoseconds.
    pub start_ns: u64,
}

/// Which error kinds are logged.
#[derive(Debug, Clone, Copy)]
struct Mutes {
    name: bool,
    exe: bool,
    io: bool,
    user: bool,
    cgroup: bool,
    all: bool,
}

pub struct ProcessScraper {
    enabled: Vec<bool>,
    resource: Vec<bool>,
    filter: IncludeExclude,
    mutes: Mutes,
    delay_ns: u64,
    /// pid -> (start, user+system+wait seconds, when), for utilization.
    previous: HashMap<u32, (u64, [f64; 3], u64)>,
    /// Processes left out by the bound, since last taken.
    pub dropped: u64,
}

impl ProcessScraper {
    pub fn new(c: &ProcessConfig) -> Result<Self, String> {
        Ok(ProcessScraper {
            enabled: c.metrics.resolve(METRICS),
            resource: RESOURCE
                .iter()
                .map(|(n, d)| c.resource_attributes.on(n, *d))
                .collect(),
            filter: IncludeExclude {
                include: c.include.filter()?,
                exclude: c.exclude.filter()?,
            },
            mutes: Mutes {
                name: c.mute_process_name_error,
                exe: c.mute_process_exe_error,
                io: c.mute_process_io_error,
                user: c.mute_process_user_error,
                cgroup: c.mute_process_cgroup_error,
                all: c.mute_process_all_errors,
            },
            delay_ns: c.scrape_process_delay.0.as_nanos() as u64,
            previous: HashMap::new(),
            dropped: 0,
        })
    }

    fn wants(&self, attr: &str) -> bool {
        RESOURCE
            .iter()
            .position(|(n, _)| *n == attr)
            .is_some_and(|i| self.resource[i])
    }

    fn note(&self, errors: &mut Vec<String>, muted: bool, e: String) {
        if !(muted || self.mutes.all) {
            errors.push(e);
        }
    }
}

/// Shared facts of one scrape.
struct Host {
    boot_ns: u64,
    tck: f64,
    users: HashMap<u32, String>,
    mem_total: u64,
    cpus: f64,
}

impl ProcessScraper {
    /// Reads a process's identity; `Err` skips the process (with the error, if any, to log).
    fn meta(&self, root: &Root, pid: u32, host: &Host, errors: &mut Vec<String>) -> Option<Meta> {
        let dir = format!("proc/{pid}");
        let status = match root.read(&format!("{dir}/status")) {
            Ok(t) => parse_status(&t),
            Err(e) => {
                let p = root.path(&format!("{dir}/status"));
                let e = format!(
                    "error reading process name for pid {pid}: {}",
                    go_error("open", &p, &e)
                );
                self.note(errors, self.mutes.name, e);
                return None;
            }
        };
        let exe_path = root.path(&format!("{dir}/exe"));
        let exe = match std::fs::read_link(&exe_path) {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) => {
                let e = format!(
                    "error reading process executable for pid {pid}: {}",
                    go_error("readlink", &exe_path, &e)
                );
                self.note(errors, self.mutes.exe, e);
                return None;
            }
        };
        let cmd_path = root.path(&format!("{dir}/cmdline"));
        let args = match std::fs::read(&cmd_path) {
            Ok(b) => parse_cmdline(&b),
            Err(e) => {
                let e = format!(
                    "error reading command for process {:?} (pid {pid}): {}",
                    status.name,
                    go_error("open", &cmd_path, &e)
                );
                self.note(errors, false, e);
                return None;
            }
        };
        let name = process_name(&status.name, &args);
        let stat = match root
            .read(&format!("{dir}/stat"))
            .ok()
            .and_then(|t| parse_stat(&t))
        {
            Some(s) => s,
            None => {
                let e = format!("error reading create time for process {name:?} (pid {pid}): unreadable /proc/{pid}/stat");
                self.note(errors, false, e);
                return None;
            }
        };
        let owner = status.uid.and_then(|u| host.users.get(&u).cloned());
        if owner.is_none() && self.wants("process.owner") {
            let uid = status.uid.map_or("?".into(), |u| u.to_string());
            let e = format!("error reading username for process {name:?} (pid {pid}): user: unknown userid {uid}");
            self.note(errors, self.mutes.user, e);
        }
        let cgroup = self.cgroup(root, pid, &name, errors);
        let start_ns = host.boot_ns + (stat.starttime as f64 / host.tck * 1e9) as u64;
        Some(Meta {
            pid,
            name,
            exe,
            args,
            owner,
            cgroup,
            stat,
            status,
            start_ns,
        })
    }

    fn cgroup(
        &self,
        root: &Root,
        pid: u32,
        name: &str,
        errors: &mut Vec<String>,
    ) -> Option<String> {
        if !self.wants("process.cgroup") {
            return None;
        }
        match root.read(&format!("proc/{pid}/cgroup")) {
            Ok(t) => Some(t.trim_end().to_string()),
            Err(e) => {
                let p = root.path(&format!("proc/{pid}/cgroup"));
                let e = format!(
                    "error reading process cgroup for process {name:?} (pid {pid}): {}",
                    go_error("open", &p, &e)
                );
                self.note(errors, self.mutes.cgroup, e);
                None
            }
        }
    }

    fn resource(&self, m: &Meta) -> Vec<KeyValue> {
        let int = |k: &str, v: i64| kv(k, any_value::Value::IntValue(v));
        let candidates = [
            ("process.pid", Some(int("process.pid", m.pid as i64))),
            (
                "process.parent_pid",
                Some(int("process.parent_pid", m.stat.ppid)),
            ),
            (
                "process.executable.name",
                Some(kv_str("process.executable.name", &m.name)),
            ),
            (
                "process.executable.path",
                Some(kv_str("process.executable.path", &m.exe)),
            ),
            (
                "process.command",
                Some(kv_str("process.command", m.args.first().map_or("", |a| a))),
            ),
            (
                "process.command_line",
                Some(kv_str("process.command_line", &m.args.join(" "))),
            ),
            (
                "process.owner",
                m.owner.as_deref().map(|o| kv_str("process.owner", o)),
            ),
            (
                "process.cgroup",
                m.cgroup.as_deref().map(|c| kv_str("process.cgroup", c)),
            ),
        ];
        candidates
            .into_iter()
            .filter(|(k, _)| self.wants(k))
            .filter_map(|(_, v)| v)
            .collect()
    }
}

impl ProcessScraper {
    /// Records one process's metrics into its own resource.
    fn record(
        &mut self,
        root: &Root,
        m: &Meta,
        cx: &ScrapeCtx<'_>,
        host: &Host,
        errors: &mut Vec<String>,
    ) -> Option<ResourceMetrics> {
        let mut b = Builder::new(METRICS, &self.enabled, m.start_ns, cx.now_ns);
        let s = &m.stat;
        let secs = [
            s.utime as f64 / host.tck,
            s.stime as f64 / host.tck,
            s.iowait as f64 / host.tck,
        ];
        for (state, v) in ["user", "system", "wait"].iter().zip(secs) {
            b.double("process.cpu.time", v, &[("state", state)]);
        }
        if let Some((start, prev, at)) = self.previous.get(&m.pid) {
            let elapsed = cx.now_ns.saturating_sub(*at) as f64 / 1e9;
            if *start == m.start_ns && elapsed > 0.0 {
                for (i, state) in ["user", "system", "wait"].iter().enumerate() {
                    let u = (secs[i] - prev[i]).max(0.0) / elapsed / host.cpus;
                    b.double("process.cpu.utilization", u, &[("state", state)]);
                }
            }
        }
        self.previous.insert(m.pid, (m.start_ns, secs, cx.now_ns));
        let rss = s.rss_pages * page_size();
        b.int("process.memory.usage", rss as i64, &[]);
        b.int("process.memory.virtual", s.vsize as i64, &[]);
        if host.mem_total > 0 {
            b.double(
                "process.memory.utilization",
                rss as f64 / host.mem_total as f64,
                &[],
            );
        }
        self.record_io(root, m, &mut b, errors);
        b.int(
            "process.paging.faults",
            s.majflt as i64,
            &[("type", "major")],
        );
        b.int(
            "process.paging.faults",
            s.minflt as i64,
            &[("type", "minor")],
        );
        b.int(
            "process.signals_pending",
            m.status.signals_pending as i64,
            &[],
        );
        b.int("process.threads", s.threads, &[]);
        b.int(
            "process.context_switches",
            m.status.involuntary as i64,
            &[("type", "involuntary")],
        );
        b.int(
            "process.context_switches",
            m.status.voluntary as i64,
            &[("type", "voluntary")],
        );
        if b.enabled("process.open_file_descriptors") {
            match std::fs::read_dir(root.path(&format!("proc/{}/fd", m.pid))) {
                Ok(d) => b.int("process.open_file_descriptors", d.count() as i64, &[]),
                Err(e) => errors.push(format!(
                    "error reading open file descriptor count for process {:?} (pid {}): {e}",
                    m.name, m.pid
                )),
            }
        }
        b.finish("processscraper", self.resource(m))
    }

    fn record_io(&self, root: &Root, m: &Meta, b: &mut Builder<'_>, errors: &mut Vec<String>) {
        if !b.enabled("process.disk.io") && !b.enabled("process.disk.operations") {
            return;
        }
        let path = root.path(&format!("proc/{}/io", m.pid));
        match std::fs::read_to_string(&path) {
            Ok(t) => {
                let io = parse_io(&t);
                b.int(
                    "process.disk.io",
                    io.read_bytes as i64,
                    &[("direction", "read")],
                );
                b.int(
                    "process.disk.io",
                    io.write_bytes as i64,
                    &[("direction", "write")],
                );
                b.int(
                    "process.disk.operations",
                    io.syscr as i64,
                    &[("direction", "read")],
                );
                b.int(
                    "process.disk.operations",
                    io.syscw as i64,
                    &[("direction", "write")],
                );
            }
            Err(e) => {
                let e = format!(
                    "error reading disk usage for process {:?} (pid {}): {}",
                    m.name,
                    m.pid,
                    go_error("open", &path, &e)
                );
                self.note(errors, self.mutes.io, e);
            }
        }
    }
}

impl Scraper for ProcessScraper {
    fn scrape(&mut self, cx: &ScrapeCtx<'_>, out: &mut Vec<ResourceMetrics>) -> Vec<String> {
        let pids = match super::processes::pids(cx.root) {
            Ok(p) => p,
            Err(e) => return vec![format!("error reading pids: {e}")],
        };
        let host = Host {
            boot_ns: cx.boot_ns,
            tck: clk_tck(),
            users: parse_passwd(&cx.root.read("etc/passwd").unwrap_or_default()),
            mem_total: cx
                .root
                .read("proc/meminfo")
                .ok()
                .and_then(|t| field(&t, "MemTotal"))
                .unwrap_or(0)
                * 1024,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
        };
        let mut errors = vec![];
        let mut seen = HashMap::new();
        let mut reported = 0usize;
        for pid in pids {
            let Some(m) = self.meta(cx.root, pid, &host, &mut errors) else {
                continue;
            };
            if !self.filter.keeps(&m.name) || m.start_ns + self.delay_ns > cx.now_ns {
                continue;
            }
            if reported >= MAX_PROCESSES {
                self.dropped += 1;
                continue;
            }
            reported += 1;
            if let Some(prev) = self.previous.remove(&m.pid) {
                seen.insert(m.pid, prev);
            }
            std::mem::swap(&mut self.previous, &mut seen);
            let rm = self.record(cx.root, &m, cx, &host, &mut errors);
            std::mem::swap(&mut self.previous, &mut seen);
            out.extend(rm);
        }
        // Only processes seen this scrape are remembered: the map is bounded by the bound.
        self.previous = seen;
        errors
    }

    fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }
}
