//! The `system` detector: `host.name` from the first `hostname_sources` entry that answers
//! (`dns`: the hosts file, then the canonical name, then a reverse lookup; `os`: the kernel's
//! host name; `cname`: the canonical name; `lookup`: a reverse lookup of the host's addresses),
//! `os.type`, and, when switched on, `host.id` (/etc/machine-id), `host.arch`,
//! `os.description`, `host.ip`, `host.mac` and `host.cpu.*` (/proc/cpuinfo).
//!
//! ```yaml
//! resource_detection:
//!   detectors: [system]
//!   system:
//!     hostname_sources: [os]
//!     resource_attributes:
//!       host.id: { enabled: true }
//!       host.cpu.model.name: { enabled: true }
//! ```

use super::attrs::{Builder, Detected, SYSTEM};
use super::config::SystemConfig;
use super::host;
use super::SCHEMA_URL;

/// Detects the host's attributes.
pub fn detect(cfg: &SystemConfig) -> Result<Detected, String> {
    let mut b = Builder::new(&cfg.resource_attributes, SYSTEM, SCHEMA_URL);
    if b.wants("host.name") {
        b.str("host.name", hostname(&cfg.hostname_sources)?);
    }
    b.str("os.type", os_type());
    if b.wants("host.id") {
        b.str("host.id", host_id()?);
    }
    b.str("host.arch", host_arch());
    if b.wants("os.description") {
        b.str("os.description", os_description()?);
    }
    if b.wants("host.ip") {
        let ips = host::interface_ips()?;
        b.strs("host.ip", ips.iter().map(|ip| ip.to_string()).collect());
    }
    if b.wants("host.mac") {
        b.strs(
            "host.mac",
            interfaces().into_iter().filter_map(|i| i.mac).collect(),
        );
    }
    if b.wants("host.interface") {
        b.strs(
            "host.interface",
            interfaces().into_iter().map(|i| i.name).collect(),
        );
    }
    let release = os_release();
    for (attr, key) in [
        ("os.name", "NAME"),
        ("os.version", "VERSION_ID"),
        ("os.build.id", "BUILD_ID"),
    ] {
        if let Some(v) = release.as_deref().and_then(|r| os_release_value(r, key)) {
            b.str(attr, v);
        }
    }
    if [
        "vendor.id",
        "family",
        "model.id",
        "model.name",
        "stepping",
        "cache.l2.size",
    ]
    .iter()
    .any(|a| b.wants(&format!("host.cpu.{a}")))
    {
        cpu(
            &mut b,
            &std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default(),
        );
    }
    Ok(b.finish())
}

/// `host.name` from the first source that answers.
pub fn hostname(sources: &[String]) -> Result<String, String> {
    let mut errors = Vec::new();
    for s in sources {
        let got = match s.as_str() {
            "dns" => fqdn(),
            "os" => host::os_hostname(),
            "cname" => host::os_hostname().and_then(|h| host::canonical_name(&h)),
            "lookup" => lookup(),
            other => Err(format!("unknown hostname source {other:?}")),
        };
        match got {
            Ok(name) if !name.is_empty() => return Ok(name),
            Ok(_) => errors.push(format!("{s}: empty")),
            Err(e) => errors.push(format!("{s}: {e}")),
        }
    }
    Err(format!(
        "failed to get host name from any of {sources:?}: {}",
        errors.join("; ")
    ))
}

/// The fully qualified name: the hosts file, the canonical name, then a reverse lookup.
fn fqdn() -> Result<String, String> {
    let name = host::os_hostname()?;
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    if let Some(f) = from_hosts(&hosts, &name) {
        return Ok(f);
    }
    host::canonical_name(&name).or_else(|_| lookup())
}

/// The canonical (first) name of the hosts-file line that lists `name`.
pub fn from_hosts(hosts: &str, name: &str) -> Option<String> {
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let names: Vec<&str> = line.split_whitespace().skip(1).collect();
        names.contains(&name).then(|| names[0].to_string())
    })
}

/// A reverse lookup of the first of the host's addresses that has a name.
fn lookup() -> Result<String, String> {
    let ips = host::resolve(&host::os_hostname()?)?;
    let mut last = "no address".to_string();
    for ip in ips {
        match host::reverse_lookup(ip) {
            Ok(n) => return Ok(n),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `os.type`, as Go's GOOS names it.
pub fn os_type() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// `host.arch` in the semantic conventions' values.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "arm" => "arm32",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

/// The machine id: /etc/machine-id, else /var/lib/dbus/machine-id.
pub fn host_id() -> Result<String, String> {
    for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.trim().is_empty() {
                return Ok(s.trim().to_string());
            }
        }
    }
    Err("no machine id in /etc/machine-id or /var/lib/dbus/machine-id".into())
}

/// `PRETTY_NAME (sysname nodename release version machine)`, as the Go SDK writes it.
pub fn os_description() -> Result<String, String> {
    let u = host::uname()?;
    let uname = format!(
        "{} {} {} {} {}",
        u.sysname, u.nodename, u.release, u.version, u.machine
    );
    let release = os_release()
        .and_then(|s| os_release_value(&s, "PRETTY_NAME").or_else(|| os_release_value(&s, "NAME")));
    Ok(match release {
        Some(r) => format!("{r} ({uname})"),
        None => uname,
    })
}

fn os_release() -> Option<String> {
    ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
}

/// The value of `key` in an os-release file, unquoted.
pub fn os_release_value(os_release: &str, key: &str) -> Option<String> {
    os_release.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix('=')?;
        Some(v.trim().trim_matches('"').trim_matches('\'').to_string())
    })
}

/// A network interface: its name, and its MAC address as `AA-BB-CC-DD-EE-FF` when it has one.
struct Interface {
    name: String,
    mac: Option<String>,
}

/// The interfaces other than loopback, in interface index order.
fn interfaces() -> Vec<Interface> {
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    let mut found: Vec<(u32, Interface)> = dir
        .flatten()
        .filter_map(|e| {
            let read = |f: &str| std::fs::read_to_string(e.path().join(f)).ok();
            let index = read("ifindex")?.trim().parse().ok()?;
            // ARPHRD_LOOPBACK
            if read("type")?.trim() == "772" {
                return None;
            }
            let mac = read("address").map(|m| m.trim().to_uppercase().replace(':', "-"));
            let mac = mac.filter(|m| !m.is_empty() && m != "00-00-00-00-00-00");
            let name = e.file_name().to_string_lossy().into_owned();
            Some((index, Interface { name, mac }))
        })
        .collect();
    found.sort_by_key(|(i, _)| *i);
    found.into_iter().map(|(_, i)| i).collect()
}

/// The `host.cpu.*` attributes of the first processor of /proc/cpuinfo.
pub fn cpu(b: &mut Builder<'_>, cpuinfo: &str) {
    let first = cpuinfo.split("\n\n").next().unwrap_or("");
    let field = |name: &str| {
        first.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    if let Some(v) = field("vendor_id") {
        b.str("host.cpu.vendor.id", v);
    }
    if let Some(v) = field("cpu family") {
        b.str("host.cpu.family", v);
    }
    if let Some(v) = field("model") {
        b.str("host.cpu.model.id", v);
    }
    if let Some(v) = field("model name") {
        b.str("host.cpu.model.name", v);
    }
    if let Some(v) = field("stepping") {
        b.str("host.cpu.stepping", v);
    }
    let cache = field("cache size").and_then(|v| v.split_whitespace().next()?.parse().ok());
    if let Some(kb) = cache {
        b.int("host.cpu.cache.l2.size", kb);
    }
}
