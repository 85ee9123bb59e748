//! Conversion of scraped rows to OTLP: types, values, start times, resets, staleness.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::prometheus::config::{GlobalConfig, ScrapeConfig};
use crate::prometheus::discovery::targets;
use crate::prometheus::parse::{parse, Format};
use crate::prometheus::rows::{append, SeriesState};
use ferrotel_core::pdata::attr_str;
use std::time::Duration;

struct Scraper {
    job: crate::prometheus::config::Job,
    target: Target,
    series: SeriesState,
    starts: StartTimes,
    settings: Settings,
}

fn scraper(instance: &str) -> Scraper {
    let sc: ScrapeConfig = serde_yaml_ng::from_str(&format!(
        "job_name: app\nstatic_configs: [{{targets: ['{instance}'], labels: {{env: prod}}}}]\n"
    ))
    .unwrap();
    let job = sc.resolve(&GlobalConfig::default()).unwrap();
    let target = targets(&job).remove(0);
    Scraper {
        job,
        target,
        series: SeriesState::default(),
        starts: StartTimes::new(Duration::from_secs(60)),
        settings: Settings {
            trim_suffixes: false,
            start_time_metric: None,
            scope_version: "1.2.3".into(),
        },
    }
}

impl Scraper {
    fn scrape(&mut self, body: &str, format: Format, ts_ms: i64) -> ExportMetricsServiceRequest {
        let exp = parse(body, format).unwrap();
        let mut rows = append(&self.job, &self.target, &exp, ts_ms).unwrap();
        let (_, previous) = self.series.good_scrape(&mut rows, &exp.meta, ts_ms);
        let meta = MetaLookup {
            current: &exp.meta,
            previous: &previous,
        };
        build(&rows, &meta, &self.target, &self.settings, &mut self.starts).unwrap()
    }
}

fn metrics(req: &ExportMetricsServiceRequest) -> Vec<&Metric> {
    req.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .collect()
}

fn metric<'a>(req: &'a ExportMetricsServiceRequest, name: &str) -> &'a Metric {
    metrics(req)
        .into_iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

fn sum_points(m: &Metric) -> &Sum {
    match m.data.as_ref().unwrap() {
        metric::Data::Sum(s) => s,
        o => panic!("{} is not a sum: {o:?}", m.name),
    }
}

fn gauge_points(m: &Metric) -> &Gauge {
    match m.data.as_ref().unwrap() {
        metric::Data::Gauge(g) => g,
        o => panic!("{} is not a gauge: {o:?}", m.name),
    }
}

fn value(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        _ => f64::NAN,
    }
}

const TEXT: &str = "# HELP requests_total Requests.\n# TYPE requests_total counter\n\
    requests_total{code=\"200\"} 10\n\
    # TYPE temperature gauge\ntemperature 21.5\n\
    untyped_thing 3\n\
    # TYPE latency_seconds histogram\n\
    latency_seconds_bucket{le=\"0.1\"} 2\nlatency_seconds_bucket{le=\"1\"} 5\n\
    latency_seconds_bucket{le=\"+Inf\"} 6\nlatency_seconds_sum 3.5\nlatency_seconds_count 6\n\
    # TYPE rpc summary\nrpc{quantile=\"0.5\"} 0.2\nrpc{quantile=\"0.99\"} 0.9\nrpc_sum 12\nrpc_count 40\n\
    # TYPE target_info gauge\ntarget_info{region=\"eu\"} 1\n";

#[test]
fn types_values_resource_and_attributes_are_otelcols() {
    let mut s = scraper("10.0.0.5:9100");
    let req = s.scrape(TEXT, Format::Text, 1_000);
    assert_eq!(req.resource_metrics.len(), 1);
    let res = req.resource_metrics[0].resource.as_ref().unwrap();
    let a = &res.attributes;
    assert_eq!(attr_str(a, "service.name"), Some("app"));
    assert_eq!(attr_str(a, "service.instance.id"), Some("10.0.0.5:9100"));
    assert_eq!(attr_str(a, "server.address"), Some("10.0.0.5"));
    assert_eq!(attr_str(a, "server.port"), Some("9100"));
    assert_eq!(attr_str(a, "url.scheme"), Some("http"));
    assert_eq!(attr_str(a, "region"), Some("eu"));
    let scope = req.resource_metrics[0].scope_metrics[0]
        .scope
        .as_ref()
        .unwrap();
    assert_eq!(scope.name, SCOPE_NAME);
    assert_eq!(scope.version, "1.2.3");
    assert!(metrics(&req).iter().all(|m| m.name != "target_info"));

    let c = metric(&req, "requests_total");
    assert_eq!(c.description, "Requests.");
    let sum = sum_points(c);
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    let p = &sum.data_points[0];
    assert_eq!(value(p), 10.0);
    assert_eq!(p.time_unix_nano, 1_000_000_000);
    assert_eq!(p.start_time_unix_nano, 1_000_000_000);
    assert_eq!(attr_str(&p.attributes, "code"), Some("200"));
    assert_eq!(attr_str(&p.attributes, "env"), Some("prod"));
    assert_eq!(attr_str(&p.attributes, "job"), None);
    assert_eq!(attr_str(&p.attributes, "instance"), None);

    let g = gauge_points(metric(&req, "temperature"));
    assert_eq!(value(&g.data_points[0]), 21.5);
    assert_eq!(g.data_points[0].start_time_unix_nano, 0);
    assert_eq!(
        value(&gauge_points(metric(&req, "untyped_thing")).data_points[0]),
        3.0
    );

    let metric::Data::Histogram(h) = metric(&req, "latency_seconds").data.as_ref().unwrap() else {
        panic!("not a histogram");
    };
    let hp = &h.data_points[0];
    assert_eq!(hp.explicit_bounds, vec![0.1, 1.0]);
    assert_eq!(hp.bucket_counts, vec![2, 3, 1]);
    assert_eq!((hp.count, hp.sum), (6, Some(3.5)));
    assert!(hp.attributes.is_empty() || attr_str(&hp.attributes, "le").is_none());

    let metric::Data::Summary(sm) = metric(&req, "rpc").data.as_ref().unwrap() else {
        panic!("not a summary");
    };
    let sp = &sm.data_points[0];
    assert_eq!((sp.count, sp.sum), (40, 12.0));
    assert_eq!(sp.quantile_values.len(), 2);
    assert_eq!(sp.quantile_values[1].quantile, 0.99);
    assert_eq!(sp.quantile_values[1].value, 0.9);

    for name in ["up", "scrape_duration_seconds"] {
        assert!(
            metrics(&req).iter().all(|m| m.name != name),
            "{name} is added by the scrape loop"
        );
    }
}

#[test]
fn start_times_persist_and_reset_when_a_counter_goes_down() {
    let mut s = scraper("localhost:1");
    let body = |v: u32| {
        format!("# TYPE c_total counter\nc_total {v}\n# TYPE h histogram\nh_bucket{{le=\"+Inf\"}} {v}\nh_sum {v}\nh_count {v}\n")
    };
    let start = |req: &ExportMetricsServiceRequest| {
        sum_points(metric(req, "c_total")).data_points[0].start_time_unix_nano
    };
    let hstart = |req: &ExportMetricsServiceRequest| match metric(req, "h").data.as_ref().unwrap() {
        metric::Data::Histogram(h) => h.data_points[0].start_time_unix_nano,
        _ => 0,
    };
    let r1 = s.scrape(&body(5), Format::Text, 1_000);
    let r2 = s.scrape(&body(8), Format::Text, 2_000);
    let r3 = s.scrape(&body(2), Format::Text, 3_000);
    let r4 = s.scrape(&body(4), Format::Text, 4_000);
    assert_eq!(
        [start(&r1), start(&r2), start(&r3), start(&r4)],
        [1, 1, 3, 3].map(|x| x * 1_000_000_000)
    );
    assert_eq!(
        [hstart(&r1), hstart(&r2), hstart(&r3), hstart(&r4)],
        [1, 1, 3, 3].map(|x| x * 1_000_000_000)
    );
    let res = r1.resource_metrics[0].resource.as_ref().unwrap();
    assert_eq!(
        attr_str(&res.attributes, "server.address"),
        None,
        "localhost is not discernible"
    );
}

#[test]
fn openmetrics_counter_uses_family_name_created_and_unit() {
    let mut s = scraper("h:1");
    let body = "# TYPE foo_seconds counter\n# UNIT foo_seconds seconds\n\
        foo_seconds_total{a=\"b\"} 17 1520879607.789\nfoo_seconds_created{a=\"b\"} 1520872607.123\n# EOF\n";
    let req = s.scrape(body, Format::OpenMetrics, 5);
    let m = metric(&req, "foo_seconds");
    assert_eq!(m.unit, "s", "OpenMetrics unit words become UCUM");
    assert_eq!(attr_str(&m.metadata, "prometheus.type"), Some("counter"));
    let p = &sum_points(m).data_points[0];
    assert_eq!(p.time_unix_nano, 1_520_879_607_789_000_000);
    // otelcol's float-seconds conversion truncates: .123 is 122999906 ns.
    assert_eq!(p.start_time_unix_nano, 1_520_872_607_122_999_906);
    assert_eq!(value(p), 17.0);
    s.settings.trim_suffixes = true;
    let req = s.scrape(body, Format::OpenMetrics, 6);
    assert!(metrics(&req).iter().any(|m| m.name == "foo"));
}

#[test]
fn vanished_series_are_stale_points() {
    let mut s = scraper("h:1");
    s.scrape(
        "# TYPE c counter\nc{x=\"1\"} 1\nc{x=\"2\"} 2\n",
        Format::Text,
        1_000,
    );
    let req = s.scrape("# TYPE c counter\nc{x=\"1\"} 1\n", Format::Text, 2_000);
    let pts = &sum_points(metric(&req, "c")).data_points;
    assert_eq!(pts.len(), 2);
    let stale = pts
        .iter()
        .find(|p| attr_str(&p.attributes, "x") == Some("2"))
        .unwrap();
    assert_eq!(stale.flags, 1);
    assert_eq!(stale.value, None);
    assert_eq!(stale.start_time_unix_nano, 1_000_000_000);
    assert_eq!(pts[0].flags, 0);
}

#[test]
fn scope_labels_make_scopes_and_otel_scope_info_their_attributes() {
    let mut s = scraper("h:1");
    let body = "a{otel_scope_name=\"lib\",otel_scope_version=\"2\",k=\"v\"} 1\n\
        otel_scope_info{otel_scope_name=\"lib\",otel_scope_version=\"2\",team=\"x\"} 1\nb 2\n";
    let req = s.scrape(body, Format::Text, 1);
    let scopes = &req.resource_metrics[0].scope_metrics;
    assert_eq!(scopes.len(), 2);
    let lib = scopes[0].scope.as_ref().unwrap();
    assert_eq!((lib.name.as_str(), lib.version.as_str()), ("lib", "2"));
    assert_eq!(attr_str(&lib.attributes, "team"), Some("x"));
    let p = &gauge_points(&scopes[0].metrics[0]).data_points[0];
    assert_eq!(p.attributes.len(), 2);
    assert_eq!(attr_str(&p.attributes, "otel_scope_name"), None);
    assert_eq!(scopes[1].scope.as_ref().unwrap().name, SCOPE_NAME);
}

#[test]
fn start_time_metric_sets_every_cumulative_start() {
    let mut s = scraper("h:1");
    s.settings.start_time_metric =
        Some(Regex::new(crate::prometheus::config::DEFAULT_START_TIME_METRIC_REGEX).unwrap());
    let req = s.scrape(
        "process_start_time_seconds 400\n# TYPE c counter\nc 1\n",
        Format::Text,
        1_000_000,
    );
    assert_eq!(
        sum_points(metric(&req, "c")).data_points[0].start_time_unix_nano,
        400_000_000_000
    );
    let exp = parse("c 1\n", Format::Text).unwrap();
    let rows = append(&s.job, &s.target, &exp, 1).unwrap();
    let meta = MetaLookup {
        current: &exp.meta,
        previous: &exp.meta,
    };
    let e = build(&rows, &meta, &s.target, &s.settings, &mut s.starts).unwrap_err();
    assert_eq!(e, "start time metric not found");
}

#[test]
fn suffix_trimming_is_otelcols() {
    assert_eq!(
        trim_suffixes("http_requests_total", Kind::Counter, ""),
        "http_requests"
    );
    assert_eq!(
        trim_suffixes("req_duration_seconds", Kind::Histogram, "seconds"),
        "req_duration"
    );
    assert_eq!(trim_suffixes("up_total", Kind::Gauge, ""), "up_total");
    assert_eq!(trim_suffixes("seconds", Kind::Gauge, "seconds"), "seconds");
}

#[test]
fn histogram_edge_cases_are_otelcols() {
    let mut s = scraper("h:1");
    let body =
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 4\nh_count 3\n\
        # TYPE nb histogram\nnb_sum 2\nnb_count 5\n\
        # TYPE nocount histogram\nnocount_bucket{le=\"+Inf\"} 1\n\
        # TYPE g gauge\ng 1\ng_created 5\n";
    let req = s.scrape(body, Format::Text, 1_000);
    let hist = |req: &ExportMetricsServiceRequest, name: &str| match metric(req, name)
        .data
        .clone()
        .unwrap()
    {
        metric::Data::Histogram(h) => h.data_points[0].clone(),
        o => panic!("{o:?}"),
    };
    let nb = hist(&req, "nb");
    assert_eq!(
        (nb.explicit_bounds.len(), nb.bucket_counts.clone()),
        (0, vec![5])
    );
    assert!(
        metrics(&req).iter().all(|m| m.name != "nocount"),
        "no _count: no point, no metric"
    );
    assert_eq!(value(&gauge_points(metric(&req, "g")).data_points[0]), 1.0);
    assert_eq!(
        value(&gauge_points(metric(&req, "g_created")).data_points[0]),
        5.0
    );
    let req = s.scrape("# TYPE g gauge\ng 1\n", Format::Text, 2_000);
    let stale = hist(&req, "h");
    assert_eq!(stale.flags, 1);
    assert_eq!(stale.explicit_bounds, vec![1.0]);
    assert_eq!(stale.bucket_counts, vec![0, 0]);
    assert_eq!((stale.count, stale.sum), (0, None));
}

#[test]
fn otel_scope_labels_are_scope_attributes_and_federated_samples_keep_their_job() {
    let mut s = scraper("h:1");
    s.job.cfg.honor_labels = true;
    let body = "a{otel_scope_name=\"lib\",otel_scope_schema_url=\"https://s\",otel_scope_team=\"x\",k=\"v\"} 1\n\
        b{job=\"other\",instance=\"i:9\"} 2\nc{job=\"\",instance=\"\"} 3\n";
    let req = s.scrape(body, Format::Text, 1);
    assert_eq!(req.resource_metrics.len(), 2);
    let first = &req.resource_metrics[0];
    let sm = &first.scope_metrics[0];
    assert_eq!(sm.schema_url, "https://s");
    let scope = sm.scope.as_ref().unwrap();
    assert_eq!(attr_str(&scope.attributes, "team"), Some("x"));
    let p = &gauge_points(&sm.metrics[0]).data_points[0];
    assert_eq!(attr_str(&p.attributes, "otel_scope_team"), None);
    assert_eq!(attr_str(&p.attributes, "k"), Some("v"));
    assert!(
        metrics(&req).iter().any(|m| m.name == "c"),
        "c has the target's job (empty labels are dropped)"
    );
    let other = &req.resource_metrics[1];
    let a = &other.resource.as_ref().unwrap().attributes;
    assert_eq!(attr_str(a, "service.name"), Some("other"));
    assert_eq!(attr_str(a, "service.instance.id"), Some("i:9"));
}

/// Parse + append + convert of a 50 000-sample body, twice (the second scrape hits the
/// start-time and staleness caches). Prints the time per scrape; run with
/// `cargo test --release -p ferrotel-receivers scrape_cost -- --ignored --nocapture`.
#[test]
#[ignore]
#[allow(clippy::print_stdout)] // a measurement: it prints what it measured
fn scrape_cost() {
    let mut body = String::from("# TYPE c counter\n# TYPE h histogram\n");
    for i in 0..10_000 {
        body.push_str(&format!("c{{a=\"{i}\",b=\"x\"}} {i}\n"));
        for le in ["0.1", "1", "+Inf"] {
            body.push_str(&format!("h_bucket{{a=\"{i}\",le=\"{le}\"}} 1\n"));
        }
        body.push_str(&format!("h_count{{a=\"{i}\"}} 1\n"));
    }
    let mut s = scraper("h:1");
    for round in 0..2 {
        let t = std::time::Instant::now();
        let req = s.scrape(&body, Format::Text, 1_000 + round);
        let points = metrics(&req)
            .iter()
            .map(|m| ferrotel_core::pdata::metric_points(m))
            .sum::<usize>();
        println!(
            "round {round}: {} bytes, {points} points in {:?}",
            body.len(),
            t.elapsed()
        );
        assert_eq!(points, 20_000);
    }
}
