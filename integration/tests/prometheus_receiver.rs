//! ferrotel's `prometheus` receiver scraping real peers — a real Prometheus server's own
//! /metrics (the Debian `prometheus` binary) and an app instrumented with the official Python
//! client (`prometheus_client`, in .venv from scripts/setup-test-deps) — and, as otelcol's
//! default configuration does, the collector's own :8888-style telemetry; what it scrapes goes
//! over OTLP to an independent sink, where types, values, start times and resources are checked.

use ferrotel_integration::prometheus::Prometheus;
use ferrotel_integration::sink::Sink;
use ferrotel_integration::{
    base_config, base_config_on, eventually, workspace, Collector, Ports, ReservedPort,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AV;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Metric, ResourceMetrics,
};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn python() -> std::path::PathBuf {
    std::env::var("FERROTEL_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|_| workspace().join(".venv/bin/python"))
}

/// The Python app; killed on drop.
struct App {
    child: Child,
    port: u16,
    start: f64,
}

impl App {
    fn start() -> App {
        let mut child = Command::new(python())
            .arg(workspace().join("integration/python/prom_app.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {:?} (run scripts/setup-test-deps): {e}",
                    python()
                )
            });
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the app's port line");
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("bad line {line:?}: {e} (is prometheus_client installed?)"));
        App {
            child,
            port: v["port"].as_u64().expect("port") as u16,
            start: v["start"].as_f64().expect("start"),
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn attr(attrs: &[KeyValue], k: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == k)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            AV::StringValue(s) => Some(s.clone()),
            _ => None,
        })
}

fn resources(sink: &Sink, job: &str) -> Vec<ResourceMetrics> {
    let st = sink.lock();
    st.metrics
        .iter()
        .flat_map(|r| r.resource_metrics.clone())
        .filter(|r| {
            attr(
                &r.resource.clone().unwrap_or_default().attributes,
                "service.name",
            )
            .as_deref()
                == Some(job)
        })
        .collect()
}

fn metrics_named<'a>(rs: &'a [ResourceMetrics], name: &str) -> Vec<&'a Metric> {
    rs.iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == name)
        .collect()
}

fn number(p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        None => f64::NAN,
    }
}

fn up_values(rs: &[ResourceMetrics]) -> Vec<f64> {
    metrics_named(rs, "up")
        .iter()
        .filter_map(|m| match m.data.as_ref()? {
            Data::Gauge(g) => g.data_points.first().map(number),
            _ => None,
        })
        .collect()
}

fn exporter(sink: &Sink) -> String {
    format!(
        "  otlp:\n    endpoint: 127.0.0.1:{}\n    tls:\n      insecure: true",
        sink.port()
    )
}

fn with_receiver(cfg: String, jobs: &str) -> String {
    cfg.replace(
        "receivers:\n",
        &format!("receivers:\n  prometheus:\n    config:\n      scrape_configs:\n{jobs}"),
    )
}

fn job(name: &str, port: u16) -> String {
    format!("        - job_name: {name}\n          scrape_interval: 1s\n          static_configs:\n            - targets: ['127.0.0.1:{port}']\n")
}

#[test]
fn scrapes_a_real_prometheus_and_a_python_app() {
    let app = App::start();
    let reserved = ReservedPort::new();
    let prom_port = reserved.port();
    drop(reserved);
    let prom = Prometheus::start(
        "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
        prom_port,
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sink = rt.block_on(Sink::start());
    let cfg = base_config(
        "  batch:\n    timeout: 50ms",
        &exporter(&sink),
        "    metrics: {receivers: [prometheus], processors: [batch], exporters: [otlp]}",
    );
    let cfg = with_receiver(
        cfg,
        &format!("{}{}", job("app", app.port), job("prom", prom_port)),
    );
    let _collector = Collector::start(&cfg, &[]);
    assert!(
        eventually(Duration::from_secs(20), || {
            up_values(&resources(&sink, "app")).len() >= 3
                && up_values(&resources(&sink, "prom")).len() >= 3
        }),
        "scrapes of both jobs; prometheus log: {}",
        prom.log()
    );
    check_app(&resources(&sink, "app"), &app);
    check_prometheus(&resources(&sink, "prom"), prom_port);
}

fn check_app(rs: &[ResourceMetrics], app: &App) {
    assert!(up_values(rs).iter().all(|&v| v == 1.0));
    let res = rs[0].resource.clone().unwrap_or_default().attributes;
    assert_eq!(
        attr(&res, "service.instance.id"),
        Some(format!("127.0.0.1:{}", app.port))
    );
    assert_eq!(attr(&res, "server.port"), Some(app.port.to_string()));
    assert_eq!(attr(&res, "url.scheme").as_deref(), Some("http"));
    assert_eq!(
        attr(&res, "server.address"),
        None,
        "loopback is not a discernible host"
    );
    // An OpenMetrics counter is named by its family, starts at its _created time.
    let req = metrics_named(rs, "app_requests");
    assert!(req.len() >= 3);
    for m in &req {
        let Some(Data::Sum(s)) = &m.data else {
            panic!("app_requests is not a sum: {m:?}")
        };
        assert!(s.is_monotonic);
        let get = s
            .data_points
            .iter()
            .find(|p| attr(&p.attributes, "method").as_deref() == Some("get"))
            .expect("a point with method=get");
        assert_eq!(number(get), 7.0);
        let start = get.start_time_unix_nano as f64 / 1e9;
        assert!(
            (start - app.start).abs() < 1.0,
            "start {start} vs created ~{}",
            app.start
        );
        assert!(get.time_unix_nano > get.start_time_unix_nano);
    }
    let Some(Data::Gauge(g)) = &metrics_named(rs, "app_temperature_celsius")[0].data else {
        panic!("gauge")
    };
    assert_eq!(number(&g.data_points[0]), 21.5);
    let Some(Data::Histogram(h)) = &metrics_named(rs, "app_latency_seconds")[0].data else {
        panic!("histogram")
    };
    let hp = &h.data_points[0];
    assert_eq!(hp.explicit_bounds, vec![0.1, 0.5, 1.0]);
    assert_eq!(hp.bucket_counts, vec![1, 2, 1, 1]);
    assert_eq!((hp.count, hp.sum), (5, Some(3.25)));
    let Some(Data::Summary(sm)) = &metrics_named(rs, "app_payload_bytes")[0].data else {
        panic!("summary")
    };
    assert_eq!((sm.data_points[0].count, sm.data_points[0].sum), (2, 400.0));
    let Some(Data::Sum(info)) = &metrics_named(rs, "app_build")[0].data else {
        panic!("info as a sum")
    };
    assert!(!info.is_monotonic);
    assert_eq!(
        attr(&info.data_points[0].attributes, "version").as_deref(),
        Some("1.2.3")
    );
}

fn check_prometheus(rs: &[ResourceMetrics], port: u16) {
    assert!(up_values(rs).iter().all(|&v| v == 1.0));
    let res = rs[0].resource.clone().unwrap_or_default().attributes;
    assert_eq!(
        attr(&res, "service.instance.id"),
        Some(format!("127.0.0.1:{port}"))
    );
    let build = metrics_named(rs, "prometheus_build_info");
    let Some(Data::Gauge(g)) = &build[0].data else {
        panic!("prometheus_build_info is a gauge")
    };
    assert_eq!(number(&g.data_points[0]), 1.0);
    assert!(attr(&g.data_points[0].attributes, "version").is_some_and(|v| v.starts_with("2.")));
    // A counter keeps the start of its first scrape while it does not go down.
    let mut starts = vec![];
    for m in metrics_named(rs, "prometheus_http_requests_total") {
        let Some(Data::Sum(s)) = &m.data else {
            panic!("prometheus_http_requests_total is a sum")
        };
        assert!(s.is_monotonic);
        for p in &s.data_points {
            assert!(p.start_time_unix_nano <= p.time_unix_nano);
            if attr(&p.attributes, "handler").as_deref() == Some("/metrics") && p.flags == 0 {
                starts.push(p.start_time_unix_nano);
            }
        }
    }
    assert!(
        starts.len() >= 2 && starts.iter().all(|&s| s == starts[0]),
        "{starts:?}"
    );
    let Some(Data::Summary(gc)) = &metrics_named(rs, "go_gc_duration_seconds")[0].data else {
        panic!("summary")
    };
    assert!(gc.data_points[0]
        .quantile_values
        .iter()
        .any(|q| q.quantile == 0.5));
    let hist = metrics_named(rs, "prometheus_http_request_duration_seconds");
    let Some(Data::Histogram(h)) = &hist[0].data else {
        panic!("histogram")
    };
    let p = &h.data_points[0];
    assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1);
    assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
}

#[test]
fn scrapes_its_own_telemetry_as_otelcols_default_config_does() {
    let reserved = ReservedPort::new();
    let ports = Ports {
        metrics: reserved.port(),
        ..Ports::ANY
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sink = rt.block_on(Sink::start());
    let cfg = base_config_on(
        &ports,
        "  batch:\n    timeout: 50ms",
        &exporter(&sink),
        "    metrics: {receivers: [prometheus], processors: [batch], exporters: [otlp]}",
    );
    let cfg = with_receiver(cfg, &job("otel-collector", ports.metrics));
    drop(reserved);
    let collector = Collector::start(&cfg, &[]);
    assert!(
        eventually(Duration::from_secs(20), || {
            let rs = resources(&sink, "otel-collector");
            up_values(&rs).len() >= 2
                && !metrics_named(&rs, "otelcol_receiver_accepted_metric_points").is_empty()
        }),
        "self-scrape: {}",
        collector.stderr()
    );
    let rs = resources(&sink, "otel-collector");
    assert!(up_values(&rs).iter().all(|&v| v == 1.0));
    // The receiver counted what it pushed, and that count is itself scraped.
    let accepted = collector.metric(
        "otelcol_receiver_accepted_metric_points{receiver=\"prometheus\",transport=\"http\"}",
    );
    assert!(accepted > 0.0, "{accepted}");
}
