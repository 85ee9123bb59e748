#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]
//! Scrapers on a fake `root_path` tree (`testdata/host_metrics/root`) with exact expected
//! points, and against this machine's `/proc`.

use super::config::*;
use super::metrics::{Switches, Toggle, SCOPE_PREFIX};
use super::sys::Root;
use super::*;
use ferrotel_core::proto::common::v1::any_value::Value as AV;
use ferrotel_core::proto::metrics::v1::{metric::Data, number_data_point::Value as NV, Metric};

fn fixture() -> Root {
    Root::new(&format!(
        "{}/testdata/host_metrics/root",
        env!("CARGO_MANIFEST_DIR")
    ))
}

fn on(names: &[&str]) -> Switches {
    Switches(
        names
            .iter()
            .map(|n| (n.to_string(), Toggle { enabled: true }))
            .collect(),
    )
}

fn value(v: &Option<NV>) -> String {
    match v {
        Some(NV::AsInt(i)) => i.to_string(),
        Some(NV::AsDouble(d)) => format!("{d}"),
        None => "-".into(),
    }
}

fn av(v: &Option<ferrotel_core::proto::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(AV::StringValue(s)) => s.clone(),
        Some(AV::IntValue(i)) => i.to_string(),
        other => format!("{other:?}"),
    }
}

/// `name{k=v,...} value` per point, in emission order.
fn points(m: &Metric) -> Vec<String> {
    let dps = match &m.data {
        Some(Data::Sum(s)) => &s.data_points,
        Some(Data::Gauge(g)) => &g.data_points,
        _ => panic!("unexpected data"),
    };
    dps.iter()
        .map(|p| {
            let a: Vec<String> = p
                .attributes
                .iter()
                .map(|kv| format!("{}={}", kv.key, av(&kv.value)))
                .collect();
            format!("{}{{{}}} {}", m.name, a.join(","), value(&p.value))
        })
        .collect()
}

/// Runs `scrapers` once on the fixture: every point, and the errors.
fn run(cfg: Scrapers) -> (Vec<ResourceMetrics>, Vec<String>, Vec<String>) {
    let mut s = scrapers(&cfg).unwrap();
    let (req, errors, _) = scrape_all(&mut s, &fixture());
    let pts = req
        .resource_metrics
        .iter()
        .flat_map(|rm| {
            rm.scope_metrics
                .iter()
                .flat_map(|sm| sm.metrics.iter().flat_map(points))
        })
        .collect();
    (req.resource_metrics, pts, errors)
}

#[test]
fn cpu_times_and_counts() {
    let cfg = PlainConfig {
        metrics: on(&["system.cpu.logical.count"]),
    };
    let (rms, pts, errors) = run(Scrapers {
        cpu: Some(cfg),
        ..Default::default()
    });
    assert!(errors.is_empty(), "{errors:?}");
    let sm = &rms[0].scope_metrics[0];
    assert_eq!(
        sm.scope.as_ref().unwrap().name,
        format!("{SCOPE_PREFIX}cpuscraper")
    );
    assert_eq!(rms[0].schema_url, "https://opentelemetry.io/schemas/1.9.0");
    let time = &sm.metrics[0];
    assert_eq!(
        (time.name.as_str(), time.unit.as_str()),
        ("system.cpu.time", "s")
    );
    let Some(Data::Sum(s)) = &time.data else {
        panic!()
    };
    assert!(s.is_monotonic && s.aggregation_temporality == 2);
    assert_eq!(
        s.data_points[0].start_time_unix_nano,
        1_700_000_000_000_000_000
    );
    let tck = sys::clk_tck();
    let expect_cpu0: Vec<String> = [
        ("user", 200),
        ("nice", 10),
        ("system", 60),
        ("idle", 500),
        ("wait", 30),
        ("interrupt", 3),
        ("softirq", 4),
        ("steal", 2),
    ]
    .iter()
    .map(|(st, t)| format!("system.cpu.time{{cpu=cpu0,state={st}}} {}", *t as f64 / tck))
    .collect();
    assert_eq!(pts[..8], expect_cpu0[..]);
    assert_eq!(pts.len(), 17);
    assert_eq!(pts[16], "system.cpu.logical.count{} 2");
}

#[test]
fn cpu_utilization_is_the_share_of_elapsed_ticks() {
    let prev = cpu::parse_stat("cpu0 100 0 100 800 0 0 0 0 0 0\n");
    let now = cpu::parse_stat("cpu0 150 0 150 900 0 0 0 0 0 0\n");
    let enabled = [false, true, false, false, false];
    let mut b = metrics::Builder::new(cpu::METRICS, &enabled, 0, 1);
    cpu::utilization(&mut b, &prev[0], &now[0]);
    let rm = b.finish("cpuscraper", vec![]).unwrap();
    let pts = points(&rm.scope_metrics[0].metrics[0]);
    assert_eq!(pts[0], "system.cpu.utilization{cpu=cpu0,state=user} 0.25");
    assert_eq!(pts[2], "system.cpu.utilization{cpu=cpu0,state=system} 0.25");
    assert_eq!(pts[3], "system.cpu.utilization{cpu=cpu0,state=idle} 0.5");
}

#[test]
fn memory_states_add_up_to_total() {
    let cfg = PlainConfig {
        metrics: on(&["system.memory.limit", "system.linux.memory.available"]),
    };
    let (_, pts, errors) = run(Scrapers {
        memory: Some(cfg),
        ..Default::default()
    });
    assert!(errors.is_empty(), "{errors:?}");
    let k = 1024;
    assert_eq!(
        pts,
        [
            format!("system.memory.usage{{state=used}} {}", 410_000 * k),
            format!("system.memory.usage{{state=free}} {}", 200_000 * k),
            format!("system.memory.usage{{state=buffered}} {}", 50_000 * k),
            format!("system.memory.usage{{state=cached}} {}", 340_000 * k),
            format!(
                "system.memory.usage{{state=slab_reclaimable}} {}",
                40_000 * k
            ),
            format!(
                "system.memory.usage{{state=slab_unreclaimable}} {}",
                10_000 * k
            ),
            format!("system.memory.limit{{}} {}", 1_000_000 * k),
            format!("system.linux.memory.available{{}} {}", 600_000 * k),
        ]
    );
}

#[test]
fn load_and_uptime() {
    let (_, pts, errors) = run(Scrapers {
        load: Some(LoadConfig::default()),
        system: Some(PlainConfig::default()),
        ..Default::default()
    });
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        pts,
        [
            "system.cpu.load_average.1m{} 0.5",
            "system.cpu.load_average.5m{} 1.25",
            "system.cpu.load_average.15m{} 2",
            "system.uptime{} 12345.67",
        ]
    );
}

#[test]
fn disk_per_device_with_filter() {
    let mut cfg = DiskConfig::default();
    cfg.exclude = DeviceMatch {
        devices: vec!["loop.*".into()],
        match_type: "regexp".into(),
    };
    let (_, pts, errors) = run(Scrapers {
        disk: Some(cfg),
        ..Default::default()
    });
    assert!(errors.is_empty(), "{errors:?}");
    let sda: Vec<&String> = pts
        .iter()
        .filter(|p| p.contains("device=sda,") || p.contains("device=sda}"))
        .collect();
    assert_eq!(
        sda,
        [
            "system.disk.io{device=sda,direction=read} 1024000",
            "system.disk.io{device=sda,direction=write} 2048000",
            "system.disk.operations{device=sda,direction=read} 100",
            "system.disk.operations{device=sda,direction=write} 200",
            "system.disk.io_time{device=sda} 0.7",
            "system.disk.operation_time{device=sda,direction=read} 0.3",
            "system.disk.operation_time{device=sda,direction=write} 0.5",
            "system.disk.weighted_io_time{device=sda} 0.9",
            "system.disk.pending_operations{device=sda} 2",
            "system.disk.merged{device=sda,direction=read} 10",
            "system.disk.merged{device=sda,direction=write} 20",
        ]
    );
    assert_eq!(
        pts.len(),
        22,
        "sda and sda1, not loop0 nor the short line: {pts:#?}"
    );
    assert!(!pts
        .iter()
        .any(|p| p.contains("loop0") || p.contains("short")));
}

#[test]
fn network_interfaces_and_connections() {
    let mut cfg = NetworkConfig::default();
    cfg.exclude = InterfaceMatch {
        interfaces: vec!["lo".into()],
        match_type: "strict".into(),
    };
    let (_, pts, errors) = run(Scrapers {
        network: Some(cfg),
        ..Default::default()
    });
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!pts.iter().any(|p| p.contains("device=lo")));
    for want in [
        "system.network.io{device=eth0,direction=receive} 5000000",
        "system.network.io{device=eth0,direction=transmit} 3000000",
        "system.network.packets{device=eth0,direction=receive} 4000",
        "system.network.errors{device=eth0,direction=transmit} 3",
        "system.network.dropped{device=eth0,direction=receive} 2",
        "system.network.connections{protocol=tcp,state=LISTEN} 2",
        "system.network.connections{protocol=tcp,state=ESTABLISHED} 1",
        "system.network.connections{protocol=tcp,state=TIME_WAIT} 1",
        "system.network.connections{protocol=tcp,state=CLOSE_WAIT} 0",
    ] {
        assert!(pts.iter().any(|p| p == want), "missing {want}: {pts:#?}");
    }
    assert_eq!(pts.len(), 8 + 12);
}

#[test]
fn paging_and_processes() {
    let (_, pts, errors) = run(Scrapers {
        paging: Some(PlainConfig::default()),
        processes: Some(PlainConfig::default()),
        ..Default::default()
    });
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        pts,
        [
            "system.paging.usage{device=/swapfile,state=used} 102400000",
            "system.paging.usage{device=/swapfile,state=free} 421888000",
            "system.paging.operations{direction=page_in,type=major} 12288",
            "system.paging.operations{direction=page_out,type=major} 16384",
            "system.paging.operations{direction=page_in,type=minor} 409600",
            "system.paging.operations{direction=page_out,type=minor} 819200",
            "system.paging.faults{type=major} 40960",
            "system.paging.faults{type=minor} 4055040",
            "system.processes.count{status=blocked} 1",
            "system.processes.count{status=running} 3",
            "system.processes.count{status=sleeping} 2",
            "system.processes.created{} 4242",
        ]
    );
}

#[test]
fn filesystem_mounts_and_usage() {
    let fs = filesystem::FilesystemScraper::new(&FilesystemConfig::default()).unwrap();
    let mounts = fs.mounts(&fixture()).unwrap();
    let got: Vec<(&str, &str, &str, &str)> = mounts
        .iter()
        .map(|m| {
            (
                m.device.as_str(),
                m.mountpoint.as_str(),
                m.fs_type.as_str(),
                m.mode,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/dev/sda1", "/", "ext4", "rw"),
            ("/dev/sda2", "/boot/efi", "vfat", "ro"),
            ("/dev/sdb1", "/mnt/my disk", "ext4", "rw"),
        ]
    );
    let mut cfg = FilesystemConfig {
        include_virtual_filesystems: true,
        ..Default::default()
    };
    cfg.exclude_fs_types = FsTypeMatch {
        fs_types: vec!["proc".into()],
        match_type: "strict".into(),
    };
    let all = filesystem::FilesystemScraper::new(&cfg)
        .unwrap()
        .mounts(&fixture())
        .unwrap();
    assert_eq!(all.len(), 4, "tmpfs kept, proc excluded");
    let stat = sys::FsStat {
        block_size: 4096,
        blocks: 1000,
        blocks_free: 300,
        blocks_avail: 200,
        files: 500,
        files_free: 100,
    };
    let enabled = [true, true, true];
    let mut b = metrics::Builder::new(filesystem::METRICS, &enabled, 1, 2);
    filesystem::record(&mut b, &mounts[0], &stat);
    let rm = b.finish("filesystemscraper", vec![]).unwrap();
    let pts: Vec<String> = rm.scope_metrics[0]
        .metrics
        .iter()
        .flat_map(points)
        .collect();
    let a = "device=/dev/sda1,mode=rw,mountpoint=/,type=ext4";
    assert_eq!(
        pts,
        [
            format!("system.filesystem.usage{{{a},state=used}} 2867200"),
            format!("system.filesystem.usage{{{a},state=free}} 819200"),
            format!("system.filesystem.usage{{{a},state=reserved}} 409600"),
            format!("system.filesystem.inodes.usage{{{a},state=used}} 400"),
            format!("system.filesystem.inodes.usage{{{a},state=free}} 100"),
            format!("system.filesystem.utilization{{{a}}} 0.7777777777777778"),
        ]
    );
}

#[test]
fn process_resource_and_metrics() {
    let mut cfg = ProcessConfig::default();
    cfg.metrics = on(&[
        "process.threads",
        "process.context_switches",
        "process.paging.faults",
    ]);
    let (rms, pts, errors) = run(Scrapers {
        process: Some(cfg),
        ..Default::default()
    });
    // pid 1 has no exe link, pid 2 (a kernel thread) neither: both skipped with an error.
    assert_eq!(rms.len(), 1, "{pts:#?}");
    let exe_errors: Vec<&String> = errors
        .iter()
        .filter(|e| e.starts_with("error reading process executable for pid"))
        .collect();
    assert_eq!(exe_errors.len(), 2, "{errors:?}");
    assert!(
        exe_errors[1].contains("pid 2: readlink ")
            && exe_errors[1].ends_with("/proc/2/exe: no such file or directory"),
        "{errors:?}"
    );
    let res: Vec<String> = rms[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, av(&kv.value)))
        .collect();
    assert_eq!(
        res,
        [
            "process.pid=42",
            "process.parent_pid=1",
            "process.executable.name=my (odd) app",
            "process.executable.path=/opt/app/bin/my-app",
            "process.command=/opt/app/bin/my-app",
            "process.command_line=/opt/app/bin/my-app --port 8080",
            "process.owner=alice",
        ]
    );
    let tck = sys::clk_tck();
    let page = sys::page_size();
    assert_eq!(
        pts,
        [
            format!("process.cpu.time{{state=user}} {}", 250.0 / tck),
            format!("process.cpu.time{{state=system}} {}", 150.0 / tck),
            format!("process.cpu.time{{state=wait}} {}", 30.0 / tck),
            format!("process.memory.usage{{}} {}", 2560 * page),
            "process.memory.virtual{} 104857600".to_string(),
            "process.disk.io{direction=read} 4096".to_string(),
            "process.disk.io{direction=write} 8192".to_string(),
            "process.paging.faults{type=major} 7".to_string(),
            "process.paging.faults{type=minor} 500".to_string(),
            "process.threads{} 4".to_string(),
            "process.context_switches{type=involuntary} 5".to_string(),
            "process.context_switches{type=voluntary} 11".to_string(),
        ]
    );
    let Some(Data::Sum(s)) = &rms[0].scope_metrics[0].metrics[0].data else {
        panic!()
    };
    let start = 1_700_000_000_000_000_000u64 + (10000.0 / tck * 1e9) as u64;
    assert_eq!(
        s.data_points[0].start_time_unix_nano, start,
        "process start time"
    );
}

#[test]
fn process_filters_and_mutes() {
    let mut cfg = ProcessConfig {
        mute_process_exe_error: true,
        ..Default::default()
    };
    cfg.exclude = NameMatch {
        names: vec!["my.*".into()],
        match_type: "regexp".into(),
    };
    let (rms, _, errors) = run(Scrapers {
        process: Some(cfg),
        ..Default::default()
    });
    assert!(rms.is_empty());
    assert!(errors.is_empty(), "exe errors muted: {errors:?}");
}

// ---- against this machine ----

fn host() -> Root {
    Root::new("")
}

#[test]
fn real_memory_used_free_buffered_cached_is_memtotal() {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let m = memory::MemInfo::parse(&text);
    let total = sys::field(&text, "MemTotal").unwrap() * 1024;
    let s = m.states();
    assert_eq!(s[0].1 + s[1].1 + s[2].1 + s[3].1, total, "{s:?}");
}

#[test]
fn real_cpu_time_is_monotonic() {
    let mut s = scrapers(&Scrapers {
        cpu: Some(PlainConfig::default()),
        ..Default::default()
    })
    .unwrap();
    let first = scrape_all(&mut s, &host()).0;
    std::thread::sleep(std::time::Duration::from_millis(50));
    let second = scrape_all(&mut s, &host()).0;
    let vals = |r: &ExportMetricsServiceRequest| -> Vec<f64> {
        let Some(Data::Sum(s)) = &r.resource_metrics[0].scope_metrics[0].metrics[0].data else {
            panic!()
        };
        s.data_points
            .iter()
            .map(|p| match p.value {
                Some(NV::AsDouble(d)) => d,
                _ => panic!(),
            })
            .collect()
    };
    let (a, b) = (vals(&first), vals(&second));
    let cpus = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(a.len(), cpus * 8);
    assert!(a.iter().zip(&b).all(|(x, y)| y >= x), "{a:?} -> {b:?}");
    assert!(b.iter().sum::<f64>() > 0.0);
}

#[test]
fn real_root_filesystem_matches_stat_f() {
    let out = std::process::Command::new("stat")
        .args(["-f", "-c", "%S %b %f %a %c %d", "/"])
        .output()
        .unwrap();
    let f: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let s = sys::statvfs(std::path::Path::new("/")).unwrap();
    assert_eq!((s.block_size, s.blocks, s.files), (f[0], f[1], f[4]));
    // Free counts move as the machine writes; they agree within 1%.
    let near = |a: u64, b: u64| a.abs_diff(b) <= b / 100 + 16;
    assert!(
        near(s.blocks_free, f[2]) && near(s.blocks_avail, f[3]) && near(s.files_free, f[5]),
        "{s:?} vs {f:?}"
    );
}

#[test]
fn real_scrape_of_every_scraper() {
    let v: ferrotel_config::Value = serde_yaml_ng::from_str(
        "{cpu: , disk: , filesystem: , load: , memory: , network: , paging: , processes: , process: {mute_process_all_errors: true}, system: }",
    )
    .unwrap();
    let cfg: Scrapers = serde_yaml_ng::from_value(v).unwrap();
    let mut s = scrapers(&cfg).unwrap();
    let (req, _errors, dropped) = scrape_all(&mut s, &host());
    assert_eq!(dropped, 0);
    let names: std::collections::BTreeSet<String> = req
        .resource_metrics
        .iter()
        .flat_map(|rm| {
            rm.scope_metrics
                .iter()
                .flat_map(|sm| sm.metrics.iter().map(|m| m.name.clone()))
        })
        .collect();
    for want in [
        "system.cpu.time",
        "system.memory.usage",
        "system.cpu.load_average.1m",
        "system.network.io",
        "system.network.connections",
        "system.processes.count",
        "system.processes.created",
        "system.uptime",
        "process.cpu.time",
        "process.memory.usage",
    ] {
        assert!(names.contains(want), "{want} missing from {names:?}");
    }
    // This test process is among the processes.
    let me = std::process::id() as i64;
    assert!(req.resource_metrics.iter().any(|rm| rm.resource.as_ref().unwrap().attributes.iter().any(|kv| kv.key == "process.pid" && matches!(kv.value.as_ref().and_then(|v| v.value.as_ref()), Some(AV::IntValue(p)) if *p == me))));
}
