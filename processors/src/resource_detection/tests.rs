//! Config errors and defaults, system detection against this machine, and how the detected
//! resource is applied (override, schema URL, every signal).

use super::attrs::str_kv;
use super::*;
use crate::golden;
use ferrotel_core::proto::common::v1::{any_value, KeyValue};
use ferrotel_core::AnyFactory;
use std::sync::Arc;
use std::time::Duration;

const DIR: &str = "resource_detection";

fn errors(case: &str) -> Vec<(String, String)> {
    let e = golden::create(&ResourceDetectionFactory, DIR, case, Signal::Traces)
        .err()
        .unwrap_or_else(|| panic!("{case} was accepted"));
    e.0.into_iter().map(|e| (e.path, e.message)).collect()
}

fn config(case: &str) -> ResourceDetectionConfig {
    ferrotel_config::decode("processors.x", &golden::config_case(DIR, case)).unwrap()
}

#[test]
fn valid_config_and_otelcols_defaults() {
    assert!(golden::create(&ResourceDetectionFactory, DIR, "valid", Signal::Traces).is_ok());
    let c = config("defaults");
    assert_eq!(c.timeout.0, Duration::from_secs(5));
    assert!(c.override_existing);
    assert_eq!(c.system.hostname_sources, vec!["dns", "os"]);
    let info = ResourceDetectionFactory.describe();
    assert!(info.answers_to("resourcedetection") && info.answers_to("resource_detection"));
    assert!(info.supports(Signal::Profiles));
}

#[test]
fn config_errors_name_what_is_wrong() {
    let e = errors("typo");
    assert_eq!(e[0].0, "processors.resource_detection/x.overide", "{e:?}");
    let e = errors("unknown_detector");
    assert_eq!(e[0].0, "processors.resource_detection/x.detectors[1]");
    assert!(
        e[0].1
            .starts_with("invalid detector key: sytem (valid detectors: akamai,"),
        "{e:?}"
    );
    assert!(e[0].1.contains("system"), "{e:?}");
    let e = errors("not_implemented");
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].0, "processors.resource_detection/x.detectors[1]");
    assert!(
        e[0].1
            .starts_with("detector \"eks\" is not implemented in ferrotel"),
        "{e:?}"
    );
    assert!(
        e[1].1.starts_with("detector \"ecs\" is not implemented"),
        "{e:?}"
    );
    let e = errors("bad_system");
    assert_eq!(
        e[0].0,
        "processors.resource_detection/x.system.hostname_sources"
    );
    assert_eq!(e[0].1, "hostname_sources contains invalid value: \"fqdn\"");
    assert_eq!(
        e[1].0,
        "processors.resource_detection/x.system.resource_attributes.host.nmae"
    );
    let e = errors("bad_values");
    let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
    let p = |k: &str| format!("processors.resource_detection/x.{k}");
    assert_eq!(
        paths,
        [
            p("timeout"),
            p("refresh_interval"),
            p("ec2.tags"),
            p("azure.tags[0]")
        ],
        "{e:?}"
    );
}

fn attr<'a>(d: &'a Detected, key: &str) -> Option<&'a any_value::Value> {
    let kv = d.attributes.iter().find(|kv| kv.key == key)?;
    kv.value.as_ref()?.value.as_ref()
}

fn str_attr(d: &Detected, key: &str) -> Option<String> {
    match attr(d, key)? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        other => panic!("{key}: {other:?}"),
    }
}

fn everything_on() -> config::SystemConfig {
    let mut c = config::SystemConfig {
        hostname_sources: vec!["os".into()],
        ..Default::default()
    };
    for (name, _) in attrs::SYSTEM {
        c.resource_attributes
            .0
            .insert(name.to_string(), attrs::Toggle { enabled: true });
    }
    c
}

#[test]
fn system_detection_matches_this_machine() {
    let d = system::detect(&everything_on()).unwrap();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(str_attr(&d, "host.name").unwrap(), kernel.trim());
    assert_eq!(str_attr(&d, "os.type").unwrap(), "linux");
    let machine = std::process::Command::new("uname")
        .arg("-m")
        .output()
        .unwrap();
    let machine = String::from_utf8(machine.stdout).unwrap();
    let want = match machine.trim() {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(str_attr(&d, "host.arch").unwrap(), want);
    let release = std::process::Command::new("uname")
        .arg("-r")
        .output()
        .unwrap();
    let release = String::from_utf8(release.stdout).unwrap();
    let desc = str_attr(&d, "os.description").unwrap();
    assert!(
        desc.contains(&format!("Linux {} {}", kernel.trim(), release.trim())),
        "{desc}"
    );
    if let Ok(id) = std::fs::read_to_string("/etc/machine-id") {
        assert_eq!(str_attr(&d, "host.id").unwrap(), id.trim());
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let first = |k: &str| {
        let line = cpuinfo.lines().find(|l| l.starts_with(k))?;
        Some(line.split_once(':')?.1.trim().to_string())
    };
    assert_eq!(str_attr(&d, "host.cpu.model.name"), first("model name"));
    assert_eq!(str_attr(&d, "host.cpu.vendor.id"), first("vendor_id"));
    assert_eq!(str_attr(&d, "host.cpu.family"), first("cpu family"));
    let l2 = first("cache size").map(|s| s.split(' ').next().unwrap().parse::<i64>().unwrap());
    assert_eq!(
        attr(&d, "host.cpu.cache.l2.size"),
        l2.map(any_value::Value::IntValue).as_ref()
    );
    let Some(any_value::Value::ArrayValue(ips)) = attr(&d, "host.ip") else {
        panic!("host.ip");
    };
    assert!(ips.values.iter().all(|v| !matches!(&v.value,
        Some(any_value::Value::StringValue(s)) if s == "127.0.0.1" || s == "::1")));
    if let Ok(r) = std::fs::read_to_string("/etc/os-release") {
        assert_eq!(
            str_attr(&d, "os.name"),
            system::os_release_value(&r, "NAME")
        );
        assert_eq!(
            str_attr(&d, "os.version"),
            system::os_release_value(&r, "VERSION_ID")
        );
    }
    let Some(any_value::Value::ArrayValue(ifs)) = attr(&d, "host.interface") else {
        panic!("host.interface");
    };
    assert!(!format!("{ifs:?}").contains("\"lo\""), "{ifs:?}");
    assert_eq!(d.schema_url, SCHEMA_URL);
}

#[test]
fn system_defaults_are_host_name_and_os_type_only() {
    let d = system::detect(&config::SystemConfig::default()).unwrap();
    let keys: Vec<&str> = d.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["host.name", "os.type"]);
}

#[test]
fn hostname_sources_in_order() {
    let os = system::hostname(&["os".into()]).unwrap();
    // `dns` ends at a name that starts with the OS host name's first label (hosts file,
    // canonical name or reverse lookup), or fails and `os` answers.
    let dns_then_os = system::hostname(&["dns".into(), "os".into()]).unwrap();
    assert!(!dns_then_os.is_empty());
    assert_eq!(
        system::from_hosts(
            "127.0.0.1 localhost\n10.0.0.5 web1.example.com web1 # me\n",
            "web1"
        ),
        Some("web1.example.com".into())
    );
    assert_eq!(system::from_hosts("# web1 x\n", "web1"), None);
    assert!(!os.is_empty());
}

#[test]
fn env_detector_reads_otel_resource_attributes() {
    // The only test that touches this variable.
    std::env::set_var("OTEL_RESOURCE_ATTRIBUTES", "service.name=shop,team=a%20b");
    let d = env::detect(&config::EnvConfig::default()).unwrap();
    assert_eq!(str_attr(&d, "service.name").as_deref(), Some("shop"));
    assert_eq!(str_attr(&d, "team").as_deref(), Some("a b"));
    assert_eq!(d.schema_url, "");
    let allow = config::EnvConfig {
        allowlist: Some(vec!["team".into()]),
    };
    assert_eq!(env::detect(&allow).unwrap().attributes.len(), 1);
    std::env::set_var("OTEL_RESOURCE_ATTRIBUTES", "oops");
    let e = env::detect(&config::EnvConfig::default()).unwrap_err();
    assert_eq!(e, "invalid resource format: \"oops\"");
    std::env::remove_var("OTEL_RESOURCE_ATTRIBUTES");
}

fn detected() -> Detected {
    Detected {
        attributes: vec![str_kv("host.name", "detected"), str_kv("os.type", "linux")],
        schema_url: SCHEMA_URL.into(),
    }
}

fn run(p: &dyn Processor, signal: Signal) -> Data {
    let mut input = ferrotel_testkit::fixtures::data(signal, 3);
    if let Data::Traces(t) = &mut input {
        t.resource_spans[0].schema_url = "https://example.com/s".into();
    }
    let mut out = vec![];
    p.process(
        Batch::from_data(input, Arc::new(RequestMeta::default())),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    out.remove(0).view().unwrap().clone()
}

fn resources(d: &Data) -> Vec<(Vec<KeyValue>, String)> {
    let one =
        |r: &Option<Resource>, s: &String| (r.clone().unwrap_or_default().attributes, s.clone());
    match d {
        Data::Traces(t) => t
            .resource_spans
            .iter()
            .map(|r| one(&r.resource, &r.schema_url))
            .collect(),
        Data::Metrics(m) => m
            .resource_metrics
            .iter()
            .map(|r| one(&r.resource, &r.schema_url))
            .collect(),
        Data::Logs(l) => l
            .resource_logs
            .iter()
            .map(|r| one(&r.resource, &r.schema_url))
            .collect(),
        Data::Profiles(p) => p
            .resource_profiles
            .iter()
            .map(|r| one(&r.resource, &r.schema_url))
            .collect(),
    }
}

fn value(attrs: &[KeyValue], key: &str) -> Option<String> {
    let v = attrs
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()?;
    match v {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

#[test]
fn applies_to_every_signal_with_override() {
    let mut cfg = config("defaults");
    for signal in [
        Signal::Traces,
        Signal::Metrics,
        Signal::Logs,
        Signal::Profiles,
    ] {
        for over in [true, false] {
            cfg.override_existing = over;
            let p = ResourceDetectionProcessor::with_detected(cfg.clone(), detected());
            let before = resources(&ferrotel_testkit::fixtures::data(signal, 3));
            let after = resources(&run(&p, signal));
            assert!(!after.is_empty(), "{signal:?}");
            for ((b, _), (a, _)) in before.iter().zip(&after) {
                assert_eq!(value(a, "os.type").as_deref(), Some("linux"), "{signal:?}");
                let host = value(a, "host.name");
                match value(b, "host.name") {
                    Some(old) if !over => assert_eq!(host, Some(old)),
                    _ => assert_eq!(host.as_deref(), Some("detected"), "{signal:?} {over}"),
                }
                // Every other attribute is kept.
                for kv in b
                    .iter()
                    .filter(|kv| kv.key != "host.name" && kv.key != "os.type")
                {
                    assert!(a.contains(kv), "{signal:?}: {} lost", kv.key);
                }
            }
        }
    }
}

#[test]
fn schema_url_is_set_only_where_empty() {
    let p = ResourceDetectionProcessor::with_detected(config("defaults"), detected());
    let after = resources(&run(&p, Signal::Traces));
    assert_eq!(after[0].1, "https://example.com/s");
    assert!(after[1..].iter().all(|(_, s)| s == SCHEMA_URL), "{after:?}");
}

#[test]
fn nothing_detected_passes_batches_untouched() {
    let p = ResourceDetectionProcessor::with_detected(config("defaults"), Detected::default());
    let input = ferrotel_testkit::fixtures::data(Signal::Logs, 2);
    let before = resources(&input);
    let mut out = vec![];
    p.process(
        Batch::from_data(input, Arc::new(RequestMeta::default())),
        &mut out,
    )
    .unwrap();
    assert_eq!(resources(out[0].view().unwrap()), before);
}

#[test]
fn merge_first_detector_wins_and_attributes_filter() {
    let a = Detected {
        attributes: vec![str_kv("host.name", "a"), str_kv("x", "1")],
        schema_url: String::new(),
    };
    let b = Detected {
        attributes: vec![str_kv("host.name", "b"), str_kv("y", "2")],
        schema_url: SCHEMA_URL.into(),
    };
    let m = detect::merge([a.clone(), b.clone()], None);
    assert_eq!(str_attr(&m, "host.name").as_deref(), Some("a"));
    assert_eq!(m.attributes.len(), 3);
    assert_eq!(m.schema_url, SCHEMA_URL);
    let keep = ["y".to_string()];
    let m = detect::merge([a, b], Some(&keep));
    assert_eq!(m.attributes, vec![str_kv("y", "2")]);
}

/// The processor sections of otel-demo's and SigNoz's collector configs.
#[test]
fn realworld_configs_load() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../collector/tests/compat/realworld"
    );
    for (file, id) in [
        ("otel-demo_otelcol-config.yaml", "resource_detection"),
        ("signoz_otel-collector.yaml", "resourcedetection"),
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        let doc: ferrotel_config::Value = serde_yaml_ng::from_str(&text).unwrap();
        let section = &doc["processors"][id];
        let ctx = ferrotel_testkit::conformance::processor_context(id, Signal::Traces);
        let f: &dyn AnyFactory<Box<dyn Processor>> = &ResourceDetectionFactory;
        if let Err(e) = f.create_from(&ctx, section) {
            panic!("{file}: {e}");
        }
    }
}

/// The instances of one processor id in several pipelines share one detection, as otelcol's
/// factory shares one provider per id; another id detects on its own.
#[test]
fn pipelines_share_one_detection_per_id() {
    let f: &dyn AnyFactory<Box<dyn Processor>> = &ResourceDetectionFactory;
    let yaml = golden::config_case(DIR, "defaults");
    let a = shared_detection("resource_detection/shared", &config("defaults"));
    let _ = a.set(detected());
    for signal in [Signal::Traces, Signal::Logs] {
        let ctx =
            ferrotel_testkit::conformance::processor_context("resource_detection/shared", signal);
        let p = f.create_from(&ctx, &yaml).unwrap();
        let out = resources(&run(p.as_ref(), Signal::Logs));
        assert_eq!(value(&out[0].0, "host.name").as_deref(), Some("detected"));
    }
    let other = shared_detection("resource_detection/other", &config("defaults"));
    assert!(other.get().is_none());
}

/// The golden pairs of `testdata/resource_detection` (system's `os.type` alone: the same on
/// every Linux machine).
#[test]
fn golden_pairs() {
    assert!(golden::run(DIR, &ResourceDetectionFactory) >= 2);
}
