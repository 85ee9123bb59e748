use super::graph::{Graph, Meters, Settings};
use super::series::{REQUEST_CLIENT, REQUEST_FAILED_TOTAL, REQUEST_SERVER, REQUEST_TOTAL};
use super::*;
use ferrotel_core::pdata;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, KeyValue};
use ferrotel_core::proto::metrics::v1::{
    metric, number_data_point, AggregationTemporality, HistogramDataPoint, Metric,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{
    span::SpanKind, status::StatusCode, ResourceSpans, ScopeSpans, Span, Status,
};
use ferrotel_core::{AnyFactory, Telemetry};
use ferrotel_testkit::config::{create_context, refused, yaml};
use ferrotel_testkit::metrics;
use std::sync::atomic::{AtomicU64, Ordering};

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
/// When the connector starts in these tests.
const T0: u64 = 1_700_000_000 * SEC;

fn config(text: &str) -> ServiceGraphConfig {
    ferrotel_config::decode_valid::<ServiceGraphConfig>("connectors.service_graph", &yaml(text))
        .unwrap()
        .0
}

fn graph(text: &str) -> (Graph, Telemetry) {
    graph_with(Settings::new(&config(text)))
}

fn graph_with(settings: Settings) -> (Graph, Telemetry) {
    let telemetry = Telemetry::new();
    let meters = Meters::new(&telemetry, "service_graph");
    (Graph::new(settings, meters, T0), telemetry)
}

fn self_metric(t: &Telemetry, series: &str) -> f64 {
    metrics::read(t, series).unwrap_or_else(|| panic!("no {series}:\n{}", t.render()))
}

/// A span of `trace`, id `id`, parent `parent` (0: none), lasting `millis`.
fn span(kind: SpanKind, trace: u8, id: u8, parent: u8, millis: u64) -> Span {
    Span {
        name: "op".into(),
        kind: kind as i32,
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: if parent == 0 { vec![] } else { vec![parent; 8] },
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + millis * MS,
        ..Default::default()
    }
}

fn client(trace: u8, id: u8, millis: u64) -> Span {
    span(SpanKind::Client, trace, id, 0, millis)
}

fn server(trace: u8, parent: u8, millis: u64) -> Span {
    span(
        SpanKind::Server,
        trace,
        parent.wrapping_add(100),
        parent,
        millis,
    )
}

fn failed(mut s: Span) -> Span {
    s.status = Some(Status {
        code: StatusCode::Error as i32,
        ..Default::default()
    });
    s
}

fn with_attrs(mut s: Span, attrs: &[(&str, &str)]) -> Span {
    s.attributes = attrs.iter().map(|(k, v)| pdata::kv_str(k, v)).collect();
    s
}

/// Resource attributes and the spans of that resource.
type ResourceOf<'a> = (&'a [(&'a str, &'a str)], Vec<Span>);

/// One resource per (resource attributes, spans).
fn traces(resources: Vec<ResourceOf>) -> ExportTraceServiceRequest {
    let resource_spans = resources
        .into_iter()
        .map(|(attrs, spans)| ResourceSpans {
            resource: Some(Resource {
                attributes: attrs.iter().map(|(k, v)| pdata::kv_str(k, v)).collect(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

fn of(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    let attrs = [("service.name", service)];
    traces(vec![(&attrs, spans)])
}

fn find<'a>(out: &'a ExportMetricsServiceRequest, name: &str) -> Option<&'a Metric> {
    let scope = &out.resource_metrics[0].scope_metrics[0];
    scope.metrics.iter().find(|m| m.name == name)
}

fn attrs_of(attrs: &[KeyValue]) -> Vec<(String, String)> {
    attrs
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                Some(any_value::Value::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

fn matches(attrs: &[KeyValue], want: &[(&str, &str)]) -> bool {
    let have = attrs_of(attrs);
    want.iter()
        .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
}

/// The value of `name`'s data point with `want` (None: no such point or metric).
fn count(out: &ExportMetricsServiceRequest, name: &str, want: &[(&str, &str)]) -> Option<i64> {
    let Some(metric::Data::Sum(sum)) = &find(out, name)?.data else {
        panic!("{name} is not a sum")
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    let p = sum
        .data_points
        .iter()
        .find(|p| matches(&p.attributes, want))?;
    match p.value {
        Some(number_data_point::Value::AsInt(v)) => Some(v),
        other => panic!("{other:?}"),
    }
}

fn hist<'a>(
    out: &'a ExportMetricsServiceRequest,
    name: &str,
    want: &[(&str, &str)],
) -> &'a HistogramDataPoint {
    let m = find(out, name).unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(m.unit, "s");
    let Some(metric::Data::Histogram(h)) = &m.data else {
        panic!("{name} is not a histogram")
    };
    h.data_points
        .iter()
        .find(|p| matches(&p.attributes, want))
        .unwrap_or_else(|| panic!("no point {want:?} in {h:?}"))
}

const WEB_API: [(&str, &str); 4] = [
    ("client", "web"),
    ("server", "api"),
    ("connection_type", ""),
    ("failed", "false"),
];

#[test]
fn pairs_a_client_and_its_server_span_in_one_batch() {
    let (mut g, t) = graph("{}");
    let req = traces(vec![
        (&[("service.name", "web")], vec![client(1, 1, 100)]),
        (&[("service.name", "api")], vec![server(1, 1, 50)]),
        // Spans of a resource without service.name are skipped.
        (&[("host.name", "h")], vec![client(2, 2, 1)]),
    ]);
    g.add_request(&req, T0);
    assert_eq!(
        g.store().len(),
        0,
        "paired, and the span without service is not stored"
    );
    let out = g.metrics(T0 + SEC).unwrap();
    let scope = &out.resource_metrics[0].scope_metrics[0];
    assert_eq!(scope.scope.as_ref().unwrap().name, "traces_service_graph");
    let names: Vec<&str> = scope.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, [REQUEST_TOTAL, REQUEST_SERVER, REQUEST_CLIENT]);
    assert_eq!(count(&out, REQUEST_TOTAL, &WEB_API), Some(1));
    let Some(metric::Data::Sum(sum)) = &find(&out, REQUEST_TOTAL).unwrap().data else {
        panic!()
    };
    let p = &sum.data_points[0];
    assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (T0, T0 + SEC));
    let keys: Vec<String> = attrs_of(&p.attributes)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["client", "server", "connection_type", "failed"]);
    let s = hist(&out, REQUEST_SERVER, &WEB_API);
    assert_eq!((s.count, s.sum), (1, Some(0.05)));
    assert_eq!(s.explicit_bounds, config::DEFAULT_BUCKETS_S.to_vec());
    // 50ms is in (10ms, 50ms]: bucket 5.
    assert_eq!(s.bucket_counts[5], 1, "{:?}", s.bucket_counts);
    let c = hist(&out, REQUEST_CLIENT, &WEB_API);
    assert_eq!((c.count, c.sum), (1, Some(0.1)));
    assert_eq!(c.bucket_counts[6], 1, "100ms is in (50ms, 100ms]");
    // One edge: started by the client span, completed by the server span.
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_total_edges"),
        1.0
    );
}

#[test]
fn pairs_across_batches_in_either_order() {
    let (mut g, t) = graph("{}");
    g.add_request(&of("web", vec![client(1, 1, 10)]), T0);
    assert_eq!(g.store().len(), 1);
    assert!(g.metrics(T0).is_none(), "nothing until the edge completes");
    g.add_request(&of("api", vec![server(1, 1, 5)]), T0 + 100 * MS);
    // The other order: the server span first.
    g.add_request(&of("api", vec![server(2, 7, 5)]), T0 + 200 * MS);
    g.add_request(&of("web", vec![client(2, 7, 20)]), T0 + 300 * MS);
    assert_eq!(g.store().len(), 0);
    let out = g.metrics(T0 + SEC).unwrap();
    assert_eq!(count(&out, REQUEST_TOTAL, &WEB_API), Some(2));
    let c = hist(&out, REQUEST_CLIENT, &WEB_API);
    assert_eq!((c.count, c.sum), (2, Some(0.03)));
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_total_edges"),
        2.0
    );
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_expired_edges"),
        0.0
    );
}

#[test]
fn a_client_span_pairs_only_with_its_own_child_in_its_own_trace() {
    let (mut g, _) = graph("{}");
    g.add_request(&of("web", vec![client(1, 1, 10)]), T0);
    // Same parent id, other trace; other parent id, same trace.
    g.add_request(&of("api", vec![server(2, 1, 5), server(1, 2, 5)]), T0);
    assert_eq!(g.store().len(), 3);
    assert!(g.metrics(T0).is_none());
}

#[test]
fn an_expired_client_edge_goes_to_its_peer_as_a_virtual_node() {
    let (mut g, t) = graph("{store: {ttl: 1s}, virtual_node_extra_label: true}");
    let peer = with_attrs(
        client(1, 1, 30),
        &[("db.system", "redis"), ("peer.service", "payments")],
    );
    let bare = client(2, 2, 10);
    g.add_request(&of("web", vec![peer, bare]), T0);
    assert!(g.tick(T0 + SEC).is_none(), "not expired at exactly ttl");
    assert_eq!(g.store().len(), 2);
    g.tick(T0 + 3 * SEC);
    assert_eq!(g.store().len(), 0);
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_expired_edges"),
        2.0
    );
    let out = g.metrics(T0 + 3 * SEC).unwrap();
    let virt = [
        ("client", "web"),
        ("connection_type", "virtual_node"),
        ("virtual_node", "server"),
    ];
    // peer.service comes before db.system in the default priority.
    let payments = [virt.as_slice(), &[("server", "payments")]].concat();
    assert_eq!(count(&out, REQUEST_TOTAL, &payments), Some(1));
    let unknown = [virt.as_slice(), &[("server", UNKNOWN_NODE)]].concat();
    assert_eq!(count(&out, REQUEST_TOTAL, &unknown), Some(1));
    let s = hist(&out, REQUEST_SERVER, &payments);
    assert_eq!((s.count, s.sum), (1, Some(0.0)), "no server span: 0s");
    assert_eq!(hist(&out, REQUEST_CLIENT, &payments).sum, Some(0.03));
}

#[test]
fn a_root_server_span_gets_the_user_client() {
    let (mut g, _) = graph("{store: {ttl: 1s}, virtual_node_extra_label: true}");
    // A root server span (no parent) and one whose parent is not a client span.
    g.add_request(&of("api", vec![server(1, 0, 40), server(2, 9, 40)]), T0);
    g.tick(T0 + 5 * SEC);
    let out = g.metrics(T0 + 5 * SEC).unwrap();
    let user = [
        ("client", USER_NODE),
        ("server", "api"),
        ("connection_type", "virtual_node"),
        ("virtual_node", "client"),
    ];
    assert_eq!(count(&out, REQUEST_TOTAL, &user), Some(1));
    let Some(metric::Data::Sum(sum)) = &find(&out, REQUEST_TOTAL).unwrap().data else {
        panic!()
    };
    assert_eq!(
        sum.data_points.len(),
        1,
        "the span with a parent makes no edge"
    );
}

#[test]
fn no_virtual_nodes_without_peer_attributes() {
    let (mut g, t) = graph("{store: {ttl: 1s}, virtual_node_peer_attributes: []}");
    let peer = with_attrs(client(1, 1, 30), &[("peer.service", "payments")]);
    g.add_request(&of("web", vec![peer]), T0);
    g.add_request(&of("api", vec![server(2, 0, 30)]), T0);
    g.tick(T0 + 5 * SEC);
    assert!(g.metrics(T0 + 5 * SEC).is_none());
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_expired_edges"),
        2.0
    );
}

#[test]
fn a_database_call_is_an_edge_at_once() {
    let (mut g, _) = graph("{}");
    let call = with_attrs(
        client(1, 1, 8),
        &[("db.name", "orders"), ("peer.service", "pg")],
    );
    g.add_request(&of("api", vec![call]), T0);
    assert_eq!(g.store().len(), 0, "no server span awaited");
    let out = g.metrics(T0).unwrap();
    let db = [
        ("client", "api"),
        ("server", "orders"),
        ("connection_type", "database"),
    ];
    assert_eq!(count(&out, REQUEST_TOTAL, &db), Some(1));
    assert_eq!(hist(&out, REQUEST_SERVER, &db).sum, Some(0.008));
    assert_eq!(hist(&out, REQUEST_CLIENT, &db).sum, Some(0.008));

    // database_name_attributes in priority order, span or resource.
    let (mut g, _) = graph("{database_name_attributes: [db.namespace, db.name]}");
    let call = with_attrs(
        client(1, 1, 8),
        &[("db.name", "old"), ("db.namespace", "new")],
    );
    g.add_request(&of("api", vec![call]), T0);
    let attrs = [("service.name", "api"), ("db.name", "from-resource")];
    g.add_request(&traces(vec![(&attrs, vec![client(2, 2, 1)])]), T0);
    let out = g.metrics(T0).unwrap();
    assert_eq!(count(&out, REQUEST_TOTAL, &[("server", "new")]), Some(1));
    assert_eq!(
        count(&out, REQUEST_TOTAL, &[("server", "from-resource")]),
        Some(1)
    );
    assert_eq!(count(&out, REQUEST_TOTAL, &[("server", "old")]), None);
}

#[test]
fn a_producer_and_its_consumer_are_a_messaging_system_edge() {
    let (mut g, _) = graph("{}");
    g.add_request(
        &of("orders", vec![span(SpanKind::Producer, 1, 1, 0, 2)]),
        T0,
    );
    g.add_request(
        &of("billing", vec![span(SpanKind::Consumer, 1, 50, 1, 300)]),
        T0,
    );
    let out = g.metrics(T0).unwrap();
    let edge = [
        ("client", "orders"),
        ("server", "billing"),
        ("connection_type", "messaging_system"),
    ];
    assert_eq!(count(&out, REQUEST_TOTAL, &edge), Some(1));
    assert_eq!(hist(&out, REQUEST_SERVER, &edge).sum, Some(0.3));
    // Internal spans are not part of an edge.
    let (mut g, t) = graph("{}");
    g.add_request(
        &of("orders", vec![span(SpanKind::Internal, 1, 1, 0, 2)]),
        T0,
    );
    assert_eq!(g.store().len(), 0);
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_total_edges"),
        0.0
    );
}

#[test]
fn an_error_on_either_side_fails_the_request() {
    let (mut g, _) = graph("{}");
    g.add_request(
        &of(
            "web",
            vec![failed(client(1, 1, 5)), client(2, 2, 5), client(3, 3, 5)],
        ),
        T0,
    );
    g.add_request(
        &of(
            "api",
            vec![server(1, 1, 5), failed(server(2, 2, 5)), server(3, 3, 5)],
        ),
        T0,
    );
    let out = g.metrics(T0).unwrap();
    let failed = [("client", "web"), ("server", "api"), ("failed", "true")];
    assert_eq!(count(&out, REQUEST_TOTAL, &failed), Some(2));
    assert_eq!(count(&out, REQUEST_FAILED_TOTAL, &failed), Some(2));
    assert_eq!(count(&out, REQUEST_TOTAL, &WEB_API), Some(1));
    assert_eq!(
        count(&out, REQUEST_FAILED_TOTAL, &WEB_API),
        None,
        "no failed series for requests that did not fail"
    );
}

#[test]
fn dimensions_are_prefixed_by_side_and_the_resource_wins() {
    let (mut g, _) = graph("{dimensions: [http.method, region]}");
    let web = [("service.name", "web")];
    let api = [("service.name", "api"), ("region", "eu")];
    let c = |trace, id| {
        with_attrs(
            client(trace, id, 5),
            &[("http.method", "GET"), ("region", "us")],
        )
    };
    let s = |trace, id| with_attrs(server(trace, id, 5), &[("region", "us")]);
    // One edge client first, one server first: the same series.
    g.add_request(&traces(vec![(&web, vec![c(1, 1)])]), T0);
    g.add_request(&traces(vec![(&api, vec![s(1, 1), s(2, 2)])]), T0);
    g.add_request(&traces(vec![(&web, vec![c(2, 2)])]), T0);
    let out = g.metrics(T0).unwrap();
    let Some(metric::Data::Sum(sum)) = &find(&out, REQUEST_TOTAL).unwrap().data else {
        panic!()
    };
    assert_eq!(sum.data_points.len(), 1, "{sum:?}");
    assert_eq!(
        attrs_of(&sum.data_points[0].attributes),
        [
            ("client", "web"),
            ("server", "api"),
            ("connection_type", ""),
            ("failed", "false"),
            ("client_http.method", "GET"),
            ("client_region", "us"),
            ("server_region", "eu"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(count(&out, REQUEST_TOTAL, &WEB_API), Some(2));
}

#[test]
fn a_full_store_drops_new_spans_unless_its_oldest_edge_expired() {
    let (mut g, t) = graph("{store: {ttl: 1s, max_items: 2}}");
    g.add_request(
        &of(
            "web",
            vec![client(1, 1, 5), client(2, 2, 5), client(3, 3, 5)],
        ),
        T0,
    );
    assert_eq!(g.store().len(), 2);
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_dropped_spans"),
        1.0
    );
    // A span of an edge already stored is not dropped: it completes it.
    g.add_request(&of("api", vec![server(1, 1, 5)]), T0);
    assert_eq!(g.store().len(), 1);
    g.add_request(&of("web", vec![client(4, 4, 5)]), T0 + 500 * MS);
    g.add_request(&of("web", vec![client(5, 5, 5)]), T0 + 600 * MS);
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_dropped_spans"),
        2.0
    );
    // Past the ttl of the oldest edge, a new span takes its place.
    g.add_request(&of("web", vec![client(6, 6, 5)]), T0 + 1100 * MS);
    assert_eq!(g.store().len(), 2);
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_expired_edges"),
        1.0
    );
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_dropped_spans"),
        2.0
    );
    let out = g.metrics(T0 + 2 * SEC).unwrap();
    assert_eq!(
        count(&out, REQUEST_TOTAL, &[("server", UNKNOWN_NODE)]),
        Some(1),
        "the evicted edge is counted as a virtual node"
    );
    let store = "ferrotel_connector_service_graph_store_edges{connector=\"service_graph\"}";
    assert_eq!(self_metric(&t, store), 2.0);
}

#[test]
fn a_flood_of_unique_traces_cannot_grow_the_store_past_max_items() {
    let (mut g, t) = graph("{store: {ttl: 1h, max_items: 100}}");
    for batch in 0..100u64 {
        let spans = (0..100u64)
            .map(|i| {
                let mut s = client(0, 0, 1);
                s.trace_id = (batch * 100 + i).to_be_bytes().repeat(2);
                s.span_id = i.to_be_bytes().to_vec();
                s
            })
            .collect();
        g.add_request(&of("web", spans), T0 + batch * MS);
        assert!(g.store().len() <= 100);
        assert!(g.store().queued() <= 2 * 100 + 64);
    }
    assert_eq!(g.store().len(), 100);
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_dropped_spans"),
        9900.0
    );
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_total_edges"),
        100.0
    );
}

#[test]
fn completed_edges_do_not_grow_the_order_queue() {
    let (mut g, _) = graph("{store: {ttl: 1h, max_items: 10}}");
    for i in 0..5000u64 {
        let mut c = client(0, 0, 1);
        c.trace_id = i.to_be_bytes().repeat(2);
        c.span_id = vec![1; 8];
        let mut s = server(0, 1, 1);
        s.trace_id = c.trace_id.clone();
        g.add_request(&of("web", vec![c]), T0);
        g.add_request(&of("api", vec![s]), T0);
    }
    assert_eq!(g.store().len(), 0);
    assert!(g.store().queued() <= 64, "{}", g.store().queued());
    let out = g.metrics(T0).unwrap();
    assert_eq!(count(&out, REQUEST_TOTAL, &WEB_API), Some(5000));
}

#[test]
fn a_flood_of_unique_services_cannot_grow_the_series_past_the_ceiling() {
    let (mut g, t) = graph_with(Settings::new(&config("{}")).with_series_limit(10));
    for i in 0..50u8 {
        let db = with_attrs(client(i, 1, 1), &[("db.name", &format!("db-{i}"))]);
        g.add_request(&of("web", vec![db]), T0);
    }
    let out = g.metrics(T0).unwrap();
    let Some(metric::Data::Sum(sum)) = &find(&out, REQUEST_TOTAL).unwrap().data else {
        panic!()
    };
    assert_eq!(sum.data_points.len(), 10);
    let series = "ferrotel_connector_service_graph_series{connector=\"service_graph\"}";
    assert_eq!(self_metric(&t, series), 10.0);
    let dropped = "ferrotel_connector_service_graph_dropped_edges{connector=\"service_graph\"}";
    assert_eq!(self_metric(&t, dropped), 40.0);
    // A known series still counts.
    let again = with_attrs(client(0, 1, 1), &[("db.name", "db-0")]);
    g.add_request(&of("web", vec![again]), T0);
    let out = g.metrics(T0).unwrap();
    assert_eq!(count(&out, REQUEST_TOTAL, &[("server", "db-0")]), Some(2));
}

#[test]
fn the_loops_run_at_their_intervals() {
    let (mut g, t) = graph(
        "{metrics_flush_interval: 10s, store_expiration_loop: 2s, cache_loop: 1m,
          store: {ttl: 1s}}",
    );
    g.add_request(
        &of(
            "web",
            vec![with_attrs(client(1, 1, 5), &[("db.name", "pg")])],
        ),
        T0,
    );
    g.add_request(&of("web", vec![client(2, 2, 5)]), T0);
    assert!(g.tick(T0 + SEC).is_none(), "neither loop is due");
    assert!(g.tick(T0 + 3 * SEC).is_none(), "expiry ran, no flush yet");
    assert_eq!(
        self_metric(&t, "otelcol_connector_servicegraph_expired_edges"),
        1.0
    );
    let out = g.tick(T0 + 10 * SEC).expect("the flush");
    assert_eq!(count(&out, REQUEST_TOTAL, &[("server", "pg")]), Some(1));
    assert!(g.tick(T0 + 11 * SEC).is_none(), "next flush at 20s");
    let again = g.tick(T0 + 20 * SEC).expect("the next flush");
    assert_eq!(
        count(&again, REQUEST_TOTAL, &[("server", "pg")]),
        Some(1),
        "cumulative"
    );
    // 15 minutes without edges: the series are dropped at the next cache loop.
    g.tick(T0 + 16 * 60 * SEC);
    assert!(g.tick(T0 + 17 * 60 * SEC).is_none());
    let stale = "ferrotel_connector_service_graph_stale_series{connector=\"service_graph\"}";
    assert_eq!(self_metric(&t, stale), 2.0);
}

#[test]
fn timestamps_are_shifted_by_the_offset() {
    let (mut g, _) = graph("{metrics_timestamp_offset: 30s}");
    g.add_request(
        &of(
            "web",
            vec![with_attrs(client(1, 1, 5), &[("db.name", "pg")])],
        ),
        T0,
    );
    let out = g.metrics(T0 + 60 * SEC).unwrap();
    let p = hist(&out, REQUEST_CLIENT, &[("server", "pg")]);
    assert_eq!(
        (p.start_time_unix_nano, p.time_unix_nano),
        (T0, T0 + 30 * SEC)
    );
}

#[test]
fn exponential_histograms_when_configured() {
    let (mut g, _) = graph("{exponential_histogram_max_size: 10}");
    let spans = (1..=3).map(|i| with_attrs(client(i, i, u64::from(i) * 100), &[("db.name", "pg")]));
    g.add_request(&of("web", spans.collect()), T0);
    let out = g.metrics(T0).unwrap();
    let m = find(&out, REQUEST_CLIENT).unwrap();
    let Some(metric::Data::ExponentialHistogram(h)) = &m.data else {
        panic!("{m:?}")
    };
    let p = &h.data_points[0];
    assert_eq!((p.count, p.min, p.max), (3, Some(0.1), Some(0.3)));
    assert!((p.sum.unwrap() - 0.6).abs() < 1e-9);
    let buckets = p.positive.as_ref().unwrap();
    assert!(buckets.bucket_counts.len() <= 10);
    assert_eq!(buckets.bucket_counts.iter().sum::<u64>(), 3);
}

#[test]
fn configured_buckets_are_in_seconds() {
    let (mut g, _) = graph(&testdata("readme.yaml"));
    let web = [("service.name", "web"), ("dimension-1", "blue")];
    g.add_request(&traces(vec![(&web, vec![client(1, 1, 300)])]), T0);
    g.add_request(&of("api", vec![server(1, 1, 250)]), T0);
    let out = g.metrics(T0).unwrap();
    let p = hist(&out, REQUEST_SERVER, &[("client_dimension-1", "blue")]);
    assert_eq!(p.explicit_bounds, vec![0.1, 0.25, 1.0, 5.0, 10.0]);
    assert_eq!(
        p.bucket_counts,
        vec![0, 1, 0, 0, 0, 0],
        "250ms is in (100ms, 250ms]"
    );
}

/// A clock the test moves.
fn test_clock() -> (Clock, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(T0));
    let n = now.clone();
    (Arc::new(move || n.load(Ordering::SeqCst)), now)
}

fn batch(req: ExportTraceServiceRequest) -> Batch {
    Batch::from_data(Data::Traces(req), Default::default())
}

#[test]
fn the_connector_flushes_on_its_tick_and_at_shutdown() {
    let ctx = create_context("connectors", "servicegraph/2");
    let (clock, now) = test_clock();
    let c = ServiceGraph::with_clock(&config("{metrics_flush_interval: 5s}"), &ctx, clock);
    assert_eq!(
        c.tick_interval(),
        Some(Duration::from_secs(2)),
        "the expiration loop"
    );
    let mut out = Vec::new();
    c.consume(batch(of("web", vec![client(1, 1, 5)])), &mut out)
        .unwrap();
    c.consume(batch(of("api", vec![server(1, 1, 5)])), &mut out)
        .unwrap();
    c.on_tick(&mut out);
    assert!(out.is_empty(), "no flush before 5s");
    now.store(T0 + 5 * SEC, Ordering::SeqCst);
    c.on_tick(&mut out);
    c.flush(&mut out);
    assert_eq!(out.len(), 2);
    for routed in &out {
        let Ok(Data::Metrics(m)) = routed.batch.view() else {
            panic!("metrics expected")
        };
        assert_eq!(count(m, REQUEST_TOTAL, &WEB_API), Some(1));
    }
    let info = ServiceGraphConnectorFactory.info();
    assert!(info.joins(Signal::Traces, Signal::Metrics));
    assert!(!info.joins(Signal::Traces, Signal::Traces));
}

#[test]
fn a_zero_flush_interval_flushes_after_every_batch() {
    let ctx = create_context("connectors", "servicegraph");
    let c = ServiceGraphConnectorFactory
        .create_from(&ctx, &yaml("{metrics_flush_interval: 0s}"))
        .unwrap();
    let mut out = Vec::new();
    c.consume(batch(of("web", vec![client(1, 1, 5)])), &mut out)
        .unwrap();
    assert!(out.is_empty(), "no series yet: nothing to emit");
    c.consume(batch(of("api", vec![server(1, 1, 5)])), &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
}

fn testdata(name: &str) -> String {
    ferrotel_testkit::config::testdata(env!("CARGO_MANIFEST_DIR"), "service_graph", name)
}

#[test]
fn config_defaults_are_otelcols() {
    let c = config("{}");
    assert_eq!(c, ServiceGraphConfig::default());
    assert_eq!(
        (c.store.max_items, c.store.ttl.0),
        (1000, Duration::from_secs(2))
    );
    assert_eq!(c.flush_interval(), Some(Duration::from_secs(60)));
    assert_eq!(c.cache_loop(), Duration::from_secs(60));
    assert_eq!(c.expiration_loop(), Duration::from_secs(2));
    assert_eq!(
        c.peer_attributes(),
        ["peer.service", "db.name", "db.system"]
    );
    assert_eq!(c.database_attributes(), ["db.name"]);
    assert_eq!(c.bounds(), Some(config::DEFAULT_BUCKETS_S.to_vec()));
    let readme = config(&testdata("readme.yaml"));
    assert_eq!(readme.dimensions, ["dimension-1"]);
    assert_eq!(readme.store.max_items, 10);
    let full = config(&testdata("full.yaml"));
    assert_eq!(full.bounds(), Some(vec![0.001, 0.01, 0.1]));
    assert_eq!(full.flush_interval(), Some(Duration::from_secs(15)));
    assert_eq!(full.cache_loop(), Duration::from_secs(120));
    assert_eq!(full.peer_attributes(), ["peer.service", "net.peer.name"]);
    assert_eq!(full.database_attributes(), ["db.namespace", "db.name"]);
    assert_eq!(full.metrics_timestamp_offset.0, Duration::from_secs(30));
    assert!(full.virtual_node_extra_label);
    assert_eq!(
        config("{exponential_histogram_max_size: 20}").bounds(),
        None
    );
    assert_eq!(
        config("{metrics_flush_interval: 0s}").flush_interval(),
        None
    );
}

/// The first error of a refused config: its path and message.
fn refusal(text: &str) -> (String, String) {
    let ctx = create_context("connectors", "servicegraph");
    let e = refused(
        ServiceGraphConnectorFactory.create_from(&ctx, &yaml(text)),
        text,
    );
    (e.0[0].path.clone(), e.0[0].message.clone())
}

#[test]
fn config_errors_are_otelcols() {
    let (path, message) = refusal(&testdata("typo.yaml"));
    assert_eq!(path, "connectors.servicegraph.store.max_item");
    assert!(message.contains("unknown field"), "{message}");
    let cases = [
        (
            testdata("invalid.yaml"),
            "connectors.servicegraph.latency_histogram_buckets",
            "use either `latency_histogram_buckets` or `exponential_histogram_max_size`",
        ),
        (
            "{exponential_histogram_max_size: -1}".into(),
            "connectors.servicegraph.exponential_histogram_max_size",
            "`exponential_histogram_max_size` can not be negative",
        ),
        (
            "{store: {ttl: soon}}".into(),
            "connectors.servicegraph.store.ttl",
            "soon",
        ),
        (
            "{dimensions: dimension-1}".into(),
            "connectors.servicegraph.dimensions",
            "invalid type",
        ),
    ];
    for (text, want_path, want) in cases {
        let (p, m) = refusal(&text);
        assert_eq!(p, want_path, "{text}: {m}");
        assert!(m.contains(want), "{text}: {m}");
    }
}

#[test]
fn otelcols_feature_gates_are_known_and_settled() {
    register_feature_gates();
    register_feature_gates();
    let gates = ferrotel_core::featuregate::global();
    let virtual_node = gates.get("connector.servicegraph.virtualNode").unwrap();
    assert!(virtual_node.is_enabled());
    for id in [
        "connector.servicegraph.legacyLatencyUnitMs",
        "connector.servicegraph.legacyLatencyMetricNames",
    ] {
        assert!(!gates.get(id).unwrap().is_enabled(), "{id}");
    }
}
