#![allow(clippy::unwrap_used)]
use super::config::*;
use ferrotel_config::{decode_valid, ConfigErrors, GoDuration, Value};

fn load(name: &str) -> Result<HostMetricsConfig, ConfigErrors> {
    let path = format!(
        "{}/testdata/host_metrics/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let v: Value = serde_yaml_ng::from_str(&text).unwrap();
    decode_valid::<HostMetricsConfig>("receivers.hostmetrics", &v).map(|(c, _)| c)
}

fn errors(name: &str) -> String {
    load(name).unwrap_err().to_string()
}

#[test]
fn defaults_are_otelcols() {
    let c = HostMetricsConfig::default();
    assert_eq!(c.collection_interval, GoDuration::from_secs(60));
    assert_eq!(c.initial_delay, GoDuration::from_secs(1));
    assert_eq!(c.timeout, GoDuration::default());
    assert_eq!(c.root_path, "");
    assert_eq!(c.metadata_collection_interval, GoDuration::from_secs(300));
    assert!(c.scrapers.is_empty());
}

#[test]
fn valid_config_reads_every_key() {
    let c = load("valid.yaml").unwrap();
    assert_eq!(c.collection_interval, GoDuration::from_secs(30));
    assert_eq!(c.initial_delay, GoDuration::from_secs(2));
    let s = &c.scrapers;
    let cpu = s.cpu.as_ref().unwrap();
    assert!(cpu.metrics.on("system.cpu.utilization", false));
    assert!(!cpu.metrics.on("system.cpu.time", true));
    assert_eq!(s.memory, Some(PlainConfig::default()));
    assert!(s.load.as_ref().unwrap().cpu_average);
    let disk = s.disk.as_ref().unwrap().include.filter().unwrap().unwrap();
    assert!(disk.matches("nvme0n1") && !disk.matches("vda"));
    let fs = s.filesystem.as_ref().unwrap();
    assert_eq!(fs.exclude_fs_types.fs_types, ["tmpfs", "overlay"]);
    assert!(fs.include_virtual_filesystems);
    assert_eq!(s.network.as_ref().unwrap().exclude.interfaces, ["lo"]);
    let p = s.process.as_ref().unwrap();
    assert_eq!(p.include.names, ["ferrotel"]);
    assert!(p.mute_process_exe_error && p.mute_process_io_error && p.mute_process_cgroup_error);
    assert_eq!(p.scrape_process_delay, GoDuration::from_secs(10));
    assert!(p.resource_attributes.on("process.cgroup", false));
    assert!(s.paging.is_some() && s.processes.is_some() && s.system.is_some());
    assert!(super::scrapers(s).unwrap().len() == 10);
}

#[test]
fn unknown_scraper_is_otelcols_error() {
    let e = errors("unknown_scraper.yaml");
    assert!(e.contains("invalid scraper key: gpu"), "{e}");
}

#[test]
fn typo_in_a_scraper_is_refused() {
    let e = errors("typo.yaml");
    assert!(
        e.contains("scrapers.load") && e.contains("cpu_averag"),
        "{e}"
    );
}

#[test]
fn no_scraper_is_otelcols_error() {
    let e = errors("no_scrapers.yaml");
    assert!(
        e.contains("must specify at least one scraper when using hostmetrics receiver"),
        "{e}"
    );
}

#[test]
fn bad_match_type_and_unknown_metric() {
    let e = errors("bad_match_type.yaml");
    assert!(
        e.contains("scrapers.disk.include")
            && e.contains("unrecognized match_type: '', valid types are: [regexp strict]"),
        "{e}"
    );
    assert!(
        e.contains("scrapers.cpu.metrics") && e.contains("has invalid keys: system.cpu.nonsense"),
        "{e}"
    );
}

#[test]
fn missing_root_path_is_otelcols_error() {
    let e = errors("bad_root.yaml");
    assert!(
        e.contains("invalid root_path: stat /definitely/not/here: no such file or directory"),
        "{e}"
    );
}

#[test]
fn zero_interval_is_refused() {
    let v: Value = serde_yaml_ng::from_str("collection_interval: 0s\nscrapers: {cpu: }").unwrap();
    let e = decode_valid::<HostMetricsConfig>("r", &v)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"collection_interval\": requires positive value"),
        "{e}"
    );
}

#[test]
fn inconsistent_root_paths_are_refused() {
    let here = env!("CARGO_MANIFEST_DIR");
    let other = format!("{here}/testdata");
    assert!(super::claim_root(here).is_ok());
    let e = super::claim_root(&other).unwrap_err();
    assert_eq!(
        e,
        format!("inconsistent root_path configuration detected between hostmetricsreceivers: `{here}` != `{other}`")
    );
    super::release_root(here);
    assert!(super::claim_root(&other).is_ok());
    super::release_root(&other);
}
