//! Golden input/output pairs for processors: each `testdata/<component>/*.json` holds a config,
//! request metadata, an input request (OTLP/JSON) and the expected output (or `null` when the
//! processor drops everything). Outputs are compared structurally, attribute lists sorted by key.

use ferrotel_core::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use ferrotel_core::{AnyFactory, Batch, Data, Processor, RequestMeta, Signal};
use serde_json::Value as J;
use std::path::PathBuf;
use std::sync::Arc;

fn parse_data(signal: Signal, v: &J) -> Data {
    match signal {
        Signal::Traces => Data::Traces(
            serde_json::from_value::<ExportTraceServiceRequest>(v.clone()).expect("traces json"),
        ),
        Signal::Metrics => Data::Metrics(
            serde_json::from_value::<ExportMetricsServiceRequest>(v.clone()).expect("metrics json"),
        ),
        Signal::Logs => Data::Logs(
            serde_json::from_value::<ExportLogsServiceRequest>(v.clone()).expect("logs json"),
        ),
        Signal::Profiles => {
            Data::Profiles(serde_json::from_value(v.clone()).expect("profiles json"))
        }
    }
}

fn to_json(d: &Data) -> J {
    match d {
        Data::Traces(t) => serde_json::to_value(t),
        Data::Metrics(m) => serde_json::to_value(m),
        Data::Logs(l) => serde_json::to_value(l),
        Data::Profiles(p) => serde_json::to_value(p),
    }
    .expect("serializable")
}

/// Sorts attribute lists and kvlist values by key so their order does not matter.
fn canonical(v: &mut J) {
    match v {
        J::Object(o) => {
            for (k, x) in o.iter_mut() {
                canonical(x);
                // Attribute lists and kvlist values are maps: order carries no meaning.
                if k == "attributes" || k == "values" {
                    if let Some(a) = x
                        .as_array_mut()
                        .filter(|a| a.iter().all(|e| e.get("key").is_some()))
                    {
                        a.sort_by(|p, q| p["key"].as_str().cmp(&q["key"].as_str()));
                    }
                }
            }
        }
        J::Array(a) => a.iter_mut().for_each(canonical),
        _ => {}
    }
}

fn meta(v: &J) -> RequestMeta {
    let mut m = RequestMeta {
        transport: if v["transport"] == "http" {
            "http"
        } else {
            "grpc"
        },
        ..Default::default()
    };
    if let Some(p) = v["peer"].as_str() {
        m.peer = Some(p.parse().expect("peer address"));
    }
    let pairs = |x: &J| -> Vec<(String, String)> {
        x.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    m.headers = pairs(&v["headers"]);
    m.auth = pairs(&v["auth"]);
    m
}

/// Runs every golden file of `testdata/<dir>`; returns how many ran.
pub(crate) fn run(dir: &str, factory: &dyn AnyFactory<Box<dyn Processor>>) -> usize {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .expect("testdata dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for f in &files {
        let name = f.display().to_string();
        let case: J = serde_json::from_str(&std::fs::read_to_string(f).expect("read"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let signal = Signal::parse(case["signal"].as_str().expect("signal")).expect("signal");
        let config: ferrotel_config::Value =
            serde_yaml_ng::to_value(&case["config"]).expect("config");
        let ctx =
            ferrotel_testkit::conformance::processor_context(factory.describe().type_name, signal);
        let p = factory
            .create_from(&ctx, &config)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let input = Batch::from_data(
            parse_data(signal, &case["input"]),
            Arc::new(meta(&case["meta"])),
        );
        let mut out = vec![];
        p.process(input, &mut out)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Buffering processors (tail_sampling) emit at flush: `"flush": true` adds that step.
        if case["flush"].as_bool() == Some(true) {
            p.flush(&mut out);
        }
        if case["expected"].is_null() {
            assert!(out.is_empty(), "{name}: expected everything dropped");
            continue;
        }
        assert_eq!(out.len(), 1, "{name}: one batch out");
        let mut got = to_json(out[0].view().expect("decodable"));
        let mut want = to_json(&parse_data(signal, &case["expected"]));
        canonical(&mut got);
        canonical(&mut want);
        assert_eq!(
            got,
            want,
            "{name}: output differs\n got: {}",
            serde_json::to_string(&got).unwrap_or_default()
        );
    }
    files.len()
}

/// The config named `name` in `testdata/<dir>/config.yaml`.
pub(crate) fn config_case(dir: &str, name: &str) -> ferrotel_config::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(dir)
        .join("config.yaml");
    let all: ferrotel_config::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&path).expect("config.yaml"))
            .expect("config.yaml is YAML");
    all.get(name)
        .cloned()
        .unwrap_or_else(|| panic!("no case {name} in {}", path.display()))
}

/// Creates `factory`'s processor from config case `name` for `signal`, path `processors.<id>`.
pub(crate) fn create(
    factory: &dyn AnyFactory<Box<dyn Processor>>,
    dir: &str,
    name: &str,
    signal: Signal,
) -> Result<Box<dyn Processor>, ferrotel_config::ConfigErrors> {
    let ctx = ferrotel_testkit::conformance::processor_context(&format!("{dir}/x"), signal);
    factory.create_from(&ctx, &config_case(dir, name))
}
