//! Parsers of the per-process `/proc/<pid>` files the `process` scraper reads.

use super::sys::field;
use std::collections::HashMap;

/// What `/proc/<pid>/stat` gives (times in ticks, vsize in bytes, rss in pages).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stat {
    pub state: char,
    pub ppid: i64,
    pub minflt: u64,
    pub majflt: u64,
    pub utime: u64,
    pub stime: u64,
    pub threads: i64,
    pub starttime: u64,
    pub vsize: u64,
    pub rss_pages: u64,
    pub iowait: u64,
}

pub fn parse_stat(text: &str) -> Option<Stat> {
    // The command may hold spaces and parentheses: fields start after the last ") ".
    let rest = text.rsplit_once(") ")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        state: f.first()?.chars().next()?,
        ppid: n(1)? as i64,
        minflt: n(7)?,
        majflt: n(9)?,
        utime: n(11)?,
        stime: n(12)?,
        threads: n(17)? as i64,
        starttime: n(19)?,
        vsize: n(20)?,
        rss_pages: n(21)?,
        iowait: n(39).unwrap_or(0),
    })
}

/// What `/proc/<pid>/status` gives.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Status {
    pub name: String,
    pub uid: Option<u32>,
    pub voluntary: u64,
    pub involuntary: u64,
    pub signals_pending: u64,
}

pub fn parse_status(text: &str) -> Status {
    let value = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix(':').map(str::trim))
    };
    Status {
        name: value("Name").unwrap_or("").to_string(),
        uid: value("Uid").and_then(|u| u.split_whitespace().next()?.parse().ok()),
        voluntary: field(text, "voluntary_ctxt_switches").unwrap_or(0),
        involuntary: field(text, "nonvoluntary_ctxt_switches").unwrap_or(0),
        signals_pending: value("SigQ")
            .and_then(|q| q.split('/').next()?.parse().ok())
            .unwrap_or(0),
    }
}

/// `/proc/<pid>/io`: bytes read and written from storage, read and write calls.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Io {
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub syscr: u64,
    pub syscw: u64,
}

pub fn parse_io(text: &str) -> Io {
    Io {
        read_bytes: field(text, "read_bytes").unwrap_or(0),
        write_bytes: field(text, "write_bytes").unwrap_or(0),
        syscr: field(text, "syscr").unwrap_or(0),
        syscw: field(text, "syscw").unwrap_or(0),
    }
}

/// The arguments of `/proc/<pid>/cmdline` (NUL-separated).
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let mut args: Vec<String> = bytes
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    while args.last().is_some_and(|a| a.is_empty()) {
        args.pop();
    }
    args
}

/// The process name as gopsutil gives it: `Name` of status, or, when the kernel truncated
/// it to 15 bytes, the base name of the first argument that it begins.
pub fn process_name(status_name: &str, args: &[String]) -> String {
    if status_name.len() >= 15 {
        if let Some(first) = args.first() {
            let base = first.rsplit('/').next().unwrap_or(first);
            if base.starts_with(status_name) {
                return base.to_string();
            }
        }
    }
    status_name.to_string()
}

/// uid to user name, from an `/etc/passwd` text.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f.first()?.to_string()))
        })
        .collect()
}
