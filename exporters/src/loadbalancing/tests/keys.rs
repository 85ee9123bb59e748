//! The routing keys other than `traceID` (otelcol's `service`, `resource`, `metric` and
//! `streamID`), which signal takes which, and metrics through the exporter.
//!
//! ```yaml
//! exporters:
//!   loadbalancing:
//!     routing_key: streamID
//!     resolver: { static: { hostnames: [a:4317, b:4317, c:4317] } }
//! ```

use super::*;

/// A data point, identified by its value, with what routing keys look at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Point {
    service: String,
    host: String,
    scope: String,
    metric: String,
    stream: String,
    id: i64,
}

const RESOURCES: usize = 6;
const METRICS: usize = 6;
const POINTS: usize = 8;
/// Every point of [`metrics_request`].
const ALL: usize = RESOURCES * 2 * METRICS * POINTS;

fn point(id: i64, k: &str) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![kv("k", k)],
        value: Some(ferrotel_core::proto::metrics::v1::number_data_point::Value::AsInt(id)),
        ..Default::default()
    }
}

/// 6 resources (4 services), 2 scopes each, 6 metrics per scope (gauges and monotonic sums),
/// 8 points per metric over 4 streams (`k`); point values count from 0.
fn metrics_request() -> ExportMetricsServiceRequest {
    let mut id = 0;
    let mut resource_metrics = vec![];
    for r in 0..RESOURCES {
        let attrs = vec![
            kv("service.name", &format!("svc-{}", r % 4)),
            kv("host", &format!("h{r}")),
        ];
        let mut rm = ResourceMetrics {
            resource: Some(Resource {
                attributes: attrs,
                ..Default::default()
            }),
            ..Default::default()
        };
        for s in 0..2 {
            let mut sm = ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: format!("scope-{s}"),
                    ..Default::default()
                }),
                ..Default::default()
            };
            for m in 0..METRICS {
                let data_points: Vec<_> = (0..POINTS)
                    .map(|p| {
                        id += 1;
                        point(id - 1, &format!("p{}", p % 4))
                    })
                    .collect();
                let data = if m % 2 == 0 {
                    metric::Data::Gauge(Gauge { data_points })
                } else {
                    metric::Data::Sum(Sum {
                        data_points,
                        aggregation_temporality: 2,
                        is_monotonic: true,
                    })
                };
                sm.metrics.push(Metric {
                    name: format!("m{m}"),
                    data: Some(data),
                    ..Default::default()
                });
            }
            rm.scope_metrics.push(sm);
        }
        resource_metrics.push(rm);
    }
    ExportMetricsServiceRequest { resource_metrics }
}

fn metrics_batch(req: ExportMetricsServiceRequest) -> Batch {
    Batch::from_bytes(
        Signal::Metrics,
        Data::Metrics(req).encode(),
        None,
        Default::default(),
    )
}

/// The points of a metrics request, checking that sums stayed monotonic cumulative sums.
fn points_of(req: &ExportMetricsServiceRequest) -> Vec<Point> {
    let mut out = vec![];
    for rm in &req.resource_metrics {
        let attrs = &rm.resource.as_ref().unwrap().attributes;
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let points = match m.data.as_ref().unwrap() {
                    metric::Data::Gauge(g) => &g.data_points,
                    metric::Data::Sum(s) => {
                        assert!(s.is_monotonic && s.aggregation_temporality == 2);
                        &s.data_points
                    }
                    other => panic!("{other:?}"),
                };
                for p in points {
                    let Some(ferrotel_core::proto::metrics::v1::number_data_point::Value::AsInt(
                        id,
                    )) = p.value
                    else {
                        panic!("{p:?}")
                    };
                    let scope = sm.scope.as_ref().unwrap().name.clone();
                    let host = attr_str(attrs, "host").unwrap().to_string();
                    out.push(Point {
                        service: attr_str(attrs, "service.name").unwrap().into(),
                        stream: format!(
                            "{host}/{scope}/{}/{}",
                            m.name,
                            attr_str(&p.attributes, "k").unwrap()
                        ),
                        host,
                        scope,
                        metric: m.name.clone(),
                        id,
                    });
                }
            }
        }
    }
    out
}

/// Splits [`metrics_request`] with `routing_key: key` over three backends; checks every point
/// is in exactly one part and all points with the same `group` in the same part; returns how
/// many backends got something.
fn check_metrics_split(key: &str, group: impl Fn(&Point) -> String) -> usize {
    let e = build(&format!("routing_key: {key}\n{THREE}"));
    let parts = e
        .split(&metrics_batch(metrics_request()), &e.members())
        .unwrap();
    let mut ids = BTreeSet::new();
    let mut backend_of = HashMap::new();
    for p in &parts {
        let Data::Metrics(req) = p.batch.view().unwrap() else {
            panic!()
        };
        for pt in points_of(req) {
            assert!(ids.insert(pt.id), "point {} twice", pt.id);
            let was = *backend_of.entry(group(&pt)).or_insert(p.backend);
            assert_eq!(was, p.backend, "{key}: {pt:?} split from its group");
        }
    }
    assert_eq!(ids.len(), ALL, "{key}: points lost");
    parts.len()
}

#[test]
fn metrics_by_service_keep_each_service_together() {
    let used = check_metrics_split("service", |p| p.service.clone());
    assert!(used > 1, "{used}");
    // The default key for metrics is service.
    let e = build(THREE);
    let by_default = e
        .split(&metrics_batch(metrics_request()), &e.members())
        .unwrap();
    assert_eq!(by_default.len(), used);
}

#[test]
fn metrics_by_resource_keep_each_resource_together() {
    assert!(check_metrics_split("resource", |p| p.host.clone()) > 1);
}

#[test]
fn metrics_by_name_keep_each_metric_together() {
    assert!(check_metrics_split("metric", |p| p.metric.clone()) > 1);
}

#[test]
fn metrics_by_stream_keep_each_stream_together() {
    assert!(check_metrics_split("streamID", |p| p.stream.clone()) > 1);
    // Streams of one metric do spread: some metric is cut over several backends.
    let e = build(&format!("routing_key: streamID\n{THREE}"));
    let parts = e
        .split(&metrics_batch(metrics_request()), &e.members())
        .unwrap();
    let mut backends_of_metric: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for p in &parts {
        let Data::Metrics(req) = p.batch.view().unwrap() else {
            panic!()
        };
        for pt in points_of(req) {
            let id = format!("{}/{}/{}", pt.host, pt.scope, pt.metric);
            backends_of_metric.entry(id).or_default().insert(p.backend);
        }
    }
    assert!(backends_of_metric.values().any(|b| b.len() > 1));
}

#[test]
fn the_metric_name_is_what_is_hashed() {
    let e = build(&format!("routing_key: metric\n{THREE}"));
    for p in e
        .split(&metrics_batch(metrics_request()), &e.members())
        .unwrap()
    {
        let Data::Metrics(req) = p.batch.view().unwrap() else {
            panic!()
        };
        for pt in points_of(req) {
            assert_eq!(
                e.members().ring.endpoint_for(pt.metric.as_bytes()),
                p.backend
            );
        }
    }
}

#[test]
fn logs_by_resource_keep_each_resource_together() {
    let e = build(&format!("routing_key: resource\n{THREE}"));
    let resource_logs = (0..12)
        .map(|r| ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("host", &format!("h{r}"))],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: (0..5)
                    .map(|i| LogRecord {
                        trace_id: trace_id(i),
                        time_unix_nano: r * 10 + i,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    let req = ExportLogsServiceRequest { resource_logs };
    let batch = Batch::from_bytes(
        Signal::Logs,
        Data::Logs(req).encode(),
        None,
        Default::default(),
    );
    let parts = e.split(&batch, &e.members()).unwrap();
    assert!(parts.len() > 1);
    let mut seen = BTreeSet::new();
    let mut backend_of = HashMap::new();
    for p in &parts {
        let Data::Logs(req) = p.batch.view().unwrap() else {
            panic!()
        };
        for rl in &req.resource_logs {
            let host = attr_str(&rl.resource.as_ref().unwrap().attributes, "host").unwrap();
            assert_eq!(
                *backend_of.entry(host.to_string()).or_insert(p.backend),
                p.backend
            );
            for l in rl.scope_logs.iter().flat_map(|s| &s.log_records) {
                assert!(seen.insert(l.time_unix_nano));
            }
        }
    }
    assert_eq!(seen.len(), 60);
}

#[test]
fn each_signal_takes_otelcols_keys() {
    use RoutingKey::*;
    let ok = [
        (Signal::Traces, vec![Unset, TraceId, Service, Attributes]),
        (Signal::Logs, vec![Unset, TraceId, Service, Resource]),
        (
            Signal::Metrics,
            vec![Unset, Service, Resource, Metric, StreamId],
        ),
    ];
    for (signal, keys) in ok {
        for key in [
            Unset, TraceId, Service, Resource, Metric, StreamId, Attributes,
        ] {
            let got = key_for(key, signal);
            if keys.contains(&key) {
                assert!(got.is_ok(), "{signal} {key:?}");
            } else {
                // otelcol's texts: unquoted for traces, quoted for logs and metrics.
                let want = match signal {
                    Signal::Traces => format!("unsupported routing_key: {}", key.as_str()),
                    _ => format!("unsupported routing_key: {:?}", key.as_str()),
                };
                assert_eq!(got, Err(want));
            }
        }
    }
    assert_eq!(key_for(Unset, Signal::Traces), Ok(TraceId));
    assert_eq!(key_for(Unset, Signal::Logs), Ok(TraceId));
    assert_eq!(key_for(Unset, Signal::Metrics), Ok(Service));
}

#[test]
fn a_key_the_signal_does_not_take_refuses_the_batch_permanently() {
    let e = build(&format!("routing_key: streamID\n{THREE}"));
    let err = e
        .split(&traces_batch(traces_request(10, 3)), &e.members())
        .err()
        .unwrap();
    assert!(err.is_permanent());
    assert!(
        err.to_string()
            .contains("unsupported routing_key: streamID"),
        "{err}"
    );
    let e = build(&format!("routing_key: traceID\n{THREE}"));
    let err = e
        .split(&metrics_batch(metrics_request()), &e.members())
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("unsupported routing_key: \"traceID\""),
        "{err}"
    );
}

#[test]
fn the_engine_asks_which_signals_the_key_takes() {
    let parts = create(&format!("routing_key: metric\n{THREE}")).unwrap();
    let e = &parts.exporter;
    assert_eq!(
        e.accepts(Signal::Traces),
        Err("unsupported routing_key: metric".into())
    );
    assert_eq!(
        e.accepts(Signal::Logs),
        Err("unsupported routing_key: \"metric\"".into())
    );
    assert_eq!(e.accepts(Signal::Metrics), Ok(()));
    let parts = create(THREE).unwrap();
    for signal in Signal::ALL {
        assert_eq!(parts.exporter.accepts(signal), Ok(()), "{signal}");
    }
}

#[test]
fn config_takes_otelcols_keys_and_refuses_the_others() {
    for key in [
        "traceID",
        "service",
        "attributes",
        "resource",
        "metric",
        "streamID",
        "''",
    ] {
        let cfg = format!("routing_key: {key}\n{THREE}");
        assert!(create(&cfg).is_ok(), "{key}");
    }
    for key in ["spanID", "Service"] {
        let cfg = format!("routing_key: {key}\n{THREE}");
        assert_eq!(
            error_paths(&cfg),
            ["exporters.loadbalancing.routing_key"],
            "{key}"
        );
        let message = refused(create(&cfg), &cfg).0.remove(0).message;
        assert!(
            message.contains(&format!("unsupported routing_key \"{key}\"")),
            "{message}"
        );
    }
}

impl Server {
    fn metric_points(&self) -> Vec<Point> {
        let accepted = self.accepted.lock().unwrap();
        accepted
            .iter()
            .flat_map(|body| {
                points_of(&ExportMetricsServiceRequest::decode(body.as_ref()).unwrap())
            })
            .collect()
    }
}

#[tokio::test]
async fn every_metric_point_reaches_its_backend_once() {
    let (b1, a1) = Server::start().await;
    let (b2, a2) = Server::start().await;
    let (parts, _) = exporter_for(&[&a1, &a2], "routing_key: streamID").await;
    parts
        .exporter
        .export(metrics_batch(metrics_request()))
        .await
        .unwrap();
    let (p1, p2) = (b1.metric_points(), b2.metric_points());
    assert!(
        !p1.is_empty() && !p2.is_empty(),
        "{} / {}",
        p1.len(),
        p2.len()
    );
    let streams1: BTreeSet<_> = p1.iter().map(|p| &p.stream).collect();
    assert!(p2.iter().all(|p| !streams1.contains(&p.stream)));
    let ids: BTreeSet<i64> = p1.iter().chain(&p2).map(|p| p.id).collect();
    assert_eq!(p1.len() + p2.len(), ALL);
    assert_eq!(ids.len(), ALL);
}
