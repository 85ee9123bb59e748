//! The `host_metrics` receiver's configuration: otelcol's scraper controller keys
//! (`collection_interval`, `initial_delay`, `timeout`), `root_path`,
//! `metadata_collection_interval`, and `scrapers:` (scraper name to its own section).
//!
//! ```yaml
//! receivers:
//!   host_metrics:
//!     collection_interval: 30s
//!     root_path: /hostfs
//!     scrapers:
//!       cpu:
//!         metrics:
//!           system.cpu.utilization: { enabled: true }
//!       filesystem:
//!         exclude_fs_types: { fs_types: [tmpfs], match_type: strict }
//!       process:
//!         include: { names: [ferrotel, "java.*"], match_type: regexp }
//!         mute_process_exe_error: true
//! ```

use super::filter::{Filter, MatchType};
use super::metrics::{Defs, Switches};
use ferrotel_config::{GoDuration, Validate, Validator};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The receiver's section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostMetricsConfig {
    /// Time between two scrapes (default 1m).
    pub collection_interval: GoDuration,
    /// Time before the first scrape (default 1s).
    pub initial_delay: GoDuration,
    /// Deadline of one scrape (0: none).
    pub timeout: GoDuration,
    /// The host's root directory (`/proc`, `/sys`, `/etc` are read under it); every
    /// host_metrics receiver of a collector must use the same one.
    pub root_path: String,
    /// Period of host entity events (logs; accepted, entity events are not emitted).
    pub metadata_collection_interval: GoDuration,
    /// The scrapers to run, each with its options.
    pub scrapers: Scrapers,
}

impl Default for HostMetricsConfig {
    fn default() -> Self {
        HostMetricsConfig {
            collection_interval: GoDuration::from_secs(60),
            initial_delay: GoDuration::from_secs(1),
            timeout: GoDuration::default(),
            root_path: String::new(),
            metadata_collection_interval: GoDuration::from_secs(300),
            scrapers: Scrapers::default(),
        }
    }
}

impl Validate for HostMetricsConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.collection_interval.is_zero() {
            v.report("\"collection_interval\": requires positive value");
        }
        if self.scrapers.is_empty() {
            v.report("must specify at least one scraper when using hostmetrics receiver");
        }
        if let Err(e) = check_root_path(&self.root_path) {
            v.report_at("root_path", e);
        }
        self.scrapers.validate(&mut v.at("scrapers"));
    }
}

/// otelcol's check of `root_path`: empty or `/` is the host itself; anything else must exist.
pub fn check_root_path(root: &str) -> Result<(), String> {
    if root.is_empty() || root == "/" {
        return Ok(());
    }
    std::fs::metadata(root)
        .map(|_| ())
        .map_err(|e| format!("invalid root_path: stat {root}: {}", go_io_error(&e)))
}

/// Go's wording of the common `os.Stat` failures.
fn go_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// A scraper that only has metric switches (`metrics: <name>: {enabled: bool}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlainConfig {
    /// Metric switches; absent metrics keep otelcol's default.
    pub metrics: Switches,
}

/// `load`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadConfig {
    /// Divide the load averages by the number of logical CPUs.
    pub cpu_average: bool,
    /// Metric switches.
    pub metrics: Switches,
}

/// `disk`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskConfig {
    /// Only these devices.
    pub include: DeviceMatch,
    /// Not these devices.
    pub exclude: DeviceMatch,
    /// Metric switches.
    pub metrics: Switches,
}

/// `network`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Only these interfaces.
    pub include: InterfaceMatch,
    /// Not these interfaces.
    pub exclude: InterfaceMatch,
    /// Metric switches.
    pub metrics: Switches,
}

/// `filesystem`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesystemConfig {
    /// Only these devices.
    pub include_devices: DeviceMatch,
    /// Not these devices.
    pub exclude_devices: DeviceMatch,
    /// Only these filesystem types.
    pub include_fs_types: FsTypeMatch,
    /// Not these filesystem types.
    pub exclude_fs_types: FsTypeMatch,
    /// Only these mount points.
    pub include_mount_points: MountPointMatch,
    /// Not these mount points.
    pub exclude_mount_points: MountPointMatch,
    /// Also report virtual filesystems (tmpfs, proc, overlay, ...: `nodev` types).
    pub include_virtual_filesystems: bool,
    /// Metric switches.
    pub metrics: Switches,
}

/// `process`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessConfig {
    /// Only processes whose executable name matches.
    pub include: NameMatch,
    /// Not processes whose executable name matches.
    pub exclude: NameMatch,
    /// Log no per-process error at all.
    pub mute_process_all_errors: bool,
    /// Log no error for a process name that cannot be read.
    pub mute_process_name_error: bool,
    /// Log no error for an executable path that cannot be read (kernel threads, others' processes).
    pub mute_process_exe_error: bool,
    /// Log no error for `/proc/<pid>/io` that cannot be read.
    pub mute_process_io_error: bool,
    /// Log no error for an owner uid without a user name.
    pub mute_process_user_error: bool,
    /// Log no error for a cgroup that cannot be read.
    pub mute_process_cgroup_error: bool,
    /// Skip processes younger than this.
    pub scrape_process_delay: GoDuration,
    /// Metric switches.
    pub metrics: Switches,
    /// Resource attribute switches.
    pub resource_attributes: Switches,
}

macro_rules! match_config {
    ($name:ident, $field:ident, $what:literal) => {
        #[doc = concat!("A list of ", $what, " and how to match them.")]
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            #[doc = concat!("The ", $what, " (names or regular expressions).")]
            pub $field: Vec<String>,
            /// `strict` or `regexp`.
            pub match_type: String,
        }

        impl $name {
            /// The filter; an empty list matches nothing and filters nothing.
            pub fn filter(&self) -> Result<Option<Filter>, String> {
                if self.$field.is_empty() {
                    return Ok(None);
                }
                let kind = MatchType::parse(&self.match_type)?;
                Filter::new(kind, &self.$field).map(Some)
            }
        }
    };
}

match_config!(DeviceMatch, devices, "devices");
match_config!(FsTypeMatch, fs_types, "filesystem types");
match_config!(MountPointMatch, mount_points, "mount points");
match_config!(InterfaceMatch, interfaces, "interfaces");
match_config!(NameMatch, names, "process names");

/// The `scrapers:` map. Unknown names are refused with otelcol's text.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scrapers {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<PlainConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<FilesystemConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<PlainConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paging: Option<PlainConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<PlainConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<PlainConfig>,
}

impl Scrapers {
    pub fn is_empty(&self) -> bool {
        *self == Scrapers::default()
    }

    fn validate(&self, v: &mut Validator<'_>) {
        use super::{cpu, disk, filesystem, load, memory, network, paging, process, processes};
        let plain: [(&str, &Option<PlainConfig>, Defs); 5] = [
            ("cpu", &self.cpu, cpu::METRICS),
            ("memory", &self.memory, memory::METRICS),
            ("paging", &self.paging, paging::METRICS),
            ("processes", &self.processes, processes::METRICS),
            ("system", &self.system, super::system::METRICS),
        ];
        for (name, cfg, defs) in plain {
            if let Some(c) = cfg {
                c.metrics.check(defs, &mut v.at(name).at("metrics"));
            }
        }
        if let Some(c) = &self.load {
            c.metrics
                .check(load::METRICS, &mut v.at("load").at("metrics"));
        }
        if let Some(c) = &self.disk {
            let mut v = v.at("disk");
            c.metrics.check(disk::METRICS, &mut v.at("metrics"));
            check_filter(&mut v, "include", c.include.filter());
            check_filter(&mut v, "exclude", c.exclude.filter());
        }
        if let Some(c) = &self.network {
            let mut v = v.at("network");
            c.metrics.check(network::METRICS, &mut v.at("metrics"));
            check_filter(&mut v, "include", c.include.filter());
            check_filter(&mut v, "exclude", c.exclude.filter());
        }
        if let Some(c) = &self.filesystem {
            validate_filesystem(c, &mut v.at("filesystem"), filesystem::METRICS);
        }
        if let Some(c) = &self.process {
            let mut v = v.at("process");
            c.metrics.check(process::METRICS, &mut v.at("metrics"));
            c.resource_attributes
                .check_names(process::RESOURCE, &mut v.at("resource_attributes"));
            check_filter(&mut v, "include", c.include.filter());
            check_filter(&mut v, "exclude", c.exclude.filter());
        }
    }
}

fn validate_filesystem(c: &FilesystemConfig, v: &mut Validator<'_>, defs: Defs) {
    c.metrics.check(defs, &mut v.at("metrics"));
    check_filter(v, "include_devices", c.include_devices.filter());
    check_filter(v, "exclude_devices", c.exclude_devices.filter());
    check_filter(v, "include_fs_types", c.include_fs_types.filter());
    check_filter(v, "exclude_fs_types", c.exclude_fs_types.filter());
    check_filter(v, "include_mount_points", c.include_mount_points.filter());
    check_filter(v, "exclude_mount_points", c.exclude_mount_points.filter());
}

fn check_filter(v: &mut Validator<'_>, key: &str, f: Result<Option<Filter>, String>) {
    if let Err(e) = f {
        v.report_at(key, e);
    }
}

impl<'de> Deserialize<'de> for Scrapers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_option(ScrapersVisitor)
    }
}

struct ScrapersVisitor;

impl<'de> Visitor<'de> for ScrapersVisitor {
    type Value = Scrapers;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of scraper names to their settings")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Scrapers, E> {
        Ok(Scrapers::default())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Scrapers, E> {
        Ok(Scrapers::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scrapers, D::Error> {
        d.deserialize_map(ScrapersVisitor)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scrapers, A::Error> {
        let mut s = Scrapers::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "cpu" => s.cpu = Some(value(&mut map)?),
                "disk" => s.disk = Some(value(&mut map)?),
                "filesystem" => s.filesystem = Some(value(&mut map)?),
                "load" => s.load = Some(value(&mut map)?),
                "memory" => s.memory = Some(value(&mut map)?),
                "network" => s.network = Some(value(&mut map)?),
                "paging" => s.paging = Some(value(&mut map)?),
                "processes" => s.processes = Some(value(&mut map)?),
                "process" => s.process = Some(value(&mut map)?),
                "system" => s.system = Some(value(&mut map)?),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "invalid scraper key: {other}"
                    )))
                }
            }
        }
        Ok(s)
    }
}

/// A scraper's section; an empty one (`cpu:`) is its defaults.
fn value<'de, A: MapAccess<'de>, T: Deserialize<'de> + Default>(
    map: &mut A,
) -> Result<T, A::Error> {
    Ok(map.next_value::<Option<T>>()?.unwrap_or_default())
}
