mod keys;
mod kube_api;
mod routing_attributes;

use super::config::*;
use super::split::*;
use super::*;
use bytes::Bytes;
use ferrotel_config::choice::Choice;
use ferrotel_config::{decode, decode_valid};
use ferrotel_core::pdata::attr_str;
use ferrotel_core::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_core::proto::metrics::v1::{
    metric, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_core::{AnyFactory, Data, Telemetry};
use ferrotel_testkit::config::{create_context, refused, yaml};
use ferrotel_transport::grpc::BytesCodec;
use prost::Message;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::codec::CompressionEncoding;
use tonic::server::{Grpc, UnaryService};
use tonic::{Code, Status};

// ---------------------------------------------------------------------------------------------
// Helpers

fn ctx() -> CreateContext {
    create_context("exporters", "loadbalancing")
}

fn create(config: &str) -> Result<ExporterParts, ConfigErrors> {
    LoadBalancingExporterFactory.create_from(&ctx(), &yaml(config))
}

fn error_paths(config: &str) -> Vec<String> {
    let errors = refused(create(config), config);
    errors.0.into_iter().map(|e| e.path).collect()
}

fn testdata(name: &str) -> String {
    ferrotel_testkit::config::testdata(env!("CARGO_MANIFEST_DIR"), "loadbalancing", name)
}

/// The concrete exporter, for white-box tests of splitting.
fn build(config: &str) -> LoadBalancingExporter {
    let (cfg, _) = decode_valid::<LoadBalancingConfig>(&ctx().path, &yaml(config)).unwrap();
    LoadBalancingExporter::new(&ctx(), &cfg).unwrap().0
}

/// A trace id that spreads well (splitmix64 of `n`).
fn trace_id(n: u64) -> Vec<u8> {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(16);
    for _ in 0..2 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_be_bytes());
    }
    out
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// 2 resources × 2 scopes; span `i` (span id `i`) belongs to trace `i % traces`.
fn traces_request(spans: u64, traces: u64) -> ExportTraceServiceRequest {
    let mut resource_spans = vec![];
    let mut i = 0;
    for r in 0..2 {
        let mut rs = ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", &format!("svc-{r}"))],
                ..Default::default()
            }),
            schema_url: format!("schema-{r}"),
            ..Default::default()
        };
        for s in 0..2 {
            let mut ss = ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: format!("scope-{r}-{s}"),
                    ..Default::default()
                }),
                ..Default::default()
            };
            for _ in 0..spans / 4 {
                ss.spans.push(Span {
                    trace_id: trace_id(i % traces),
                    span_id: i.to_be_bytes().to_vec(),
                    ..Default::default()
                });
                i += 1;
            }
            rs.scope_spans.push(ss);
        }
        resource_spans.push(rs);
    }
    ExportTraceServiceRequest { resource_spans }
}

fn traces_batch(req: ExportTraceServiceRequest) -> Batch {
    Batch::from_bytes(
        Signal::Traces,
        Data::Traces(req).encode(),
        None,
        Default::default(),
    )
}

fn spans_of(data: &Data) -> Vec<(String, String, Span)> {
    let Data::Traces(req) = data else {
        panic!("not traces")
    };
    let mut out = vec![];
    for rs in &req.resource_spans {
        let svc = attr_str(&rs.resource.as_ref().unwrap().attributes, "service.name")
            .unwrap()
            .to_string();
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                out.push((
                    svc.clone(),
                    ss.scope.as_ref().unwrap().name.clone(),
                    s.clone(),
                ));
            }
        }
    }
    out
}

const THREE: &str = "resolver: {static: {hostnames: [a:4317, b:4317, c:4317]}}\nprotocol: {otlp: {tls: {insecure: true}}}";

// ---------------------------------------------------------------------------------------------
// Ring

fn endpoints(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn crc32_is_the_ieee_checksum_go_uses() {
    // The standard check value of CRC-32/IEEE (Go's crc32.ChecksumIEEE).
    assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
}

#[test]
fn ring_assignment_is_stable_and_order_independent() {
    let a = Ring::new(&endpoints(&["b:4317", "a:4317", "c:4317"]));
    let b = Ring::new(&endpoints(&["c:4317", "a:4317", "b:4317", "a:4317"]));
    assert_eq!(a.endpoints(), ["a:4317", "b:4317", "c:4317"]);
    assert_eq!(a.endpoints(), b.endpoints());
    for n in 0..2000 {
        let id = trace_id(n);
        assert_eq!(a.endpoint_for(&id), b.endpoint_for(&id));
        assert_eq!(a.endpoint_for(&id), a.endpoint_for(&id));
    }
    // 100 positions per endpoint; a position two endpoints hash to stays with the one that
    // sorts first (these three collide 3 times).
    assert_eq!(a.items.len(), 297);
    assert!(a.items.windows(2).all(|w| w[0].0 < w[1].0));
    let positions = |ep: &str| -> Vec<u32> {
        (0..100u8)
            .map(|i| crc32fast::hash(&[ep.as_bytes(), &[i]].concat()) % 36_000)
            .collect()
    };
    let all: Vec<Vec<u32>> = a.endpoints().iter().map(|e| positions(e)).collect();
    for &(pos, idx) in &a.items {
        assert!(all[idx].contains(&pos));
        assert!(all[..idx].iter().all(|earlier| !earlier.contains(&pos)));
    }
}

#[test]
fn ring_lookup_takes_the_next_position_and_wraps() {
    let r = Ring::new(&endpoints(&["a:4317", "b:4317"]));
    let (first_pos, first_ep) = r.items[0];
    let (last_pos, _) = *r.items.last().unwrap();
    // A key is found by its position: find keys at, just past and beyond the ring's ends.
    let key_at = |want: &dyn Fn(u32) -> bool| {
        (0u64..)
            .map(|n| n.to_be_bytes())
            .find(|k| want(crc32fast::hash(k) % 36_000))
            .unwrap()
    };
    assert_eq!(r.endpoint_for(&key_at(&|p| p > last_pos)), first_ep);
    assert_eq!(r.endpoint_for(&key_at(&|p| p <= first_pos)), first_ep);
    let (p1, e1) = r.items[1];
    assert_eq!(r.endpoint_for(&key_at(&|p| p > first_pos && p <= p1)), e1);
}

#[test]
fn ring_balances_three_endpoints() {
    let r = Ring::new(&endpoints(&[
        "10.0.0.1:4317",
        "10.0.0.2:4317",
        "10.0.0.3:4317",
    ]));
    let n = 30_000;
    let mut counts = [0u32; 3];
    for i in 0..n {
        counts[r.endpoint_for(&trace_id(i))] += 1;
    }
    // 100 positions per endpoint leave each share within a few points of a third.
    for c in counts {
        let share = f64::from(c) / n as f64;
        assert!((0.25..0.42).contains(&share), "shares {counts:?}");
    }
}

#[test]
fn adding_an_endpoint_moves_keys_only_to_it() {
    let three = Ring::new(&endpoints(&["a:4317", "b:4317", "c:4317"]));
    let four = Ring::new(&endpoints(&["a:4317", "b:4317", "c:4317", "d:4317"]));
    let n = 20_000;
    let mut moved = 0;
    for i in 0..n {
        let id = trace_id(i);
        let before = &three.endpoints()[three.endpoint_for(&id)];
        let after = &four.endpoints()[four.endpoint_for(&id)];
        if before != after {
            assert_eq!(after, "d:4317", "a key moved between old endpoints");
            moved += 1;
        }
    }
    // About a quarter of the keys move (to the new endpoint), not most of them.
    let share = f64::from(moved) / n as f64;
    assert!((0.15..0.35).contains(&share), "moved {share}");
}

// ---------------------------------------------------------------------------------------------
// Splitting

#[test]
fn split_keeps_every_span_once_and_traces_whole() {
    let e = build(THREE);
    let req = traces_request(400, 37);
    let input = spans_of(&Data::Traces(req.clone()));
    let parts = e.split(&traces_batch(req), &e.members()).unwrap();
    assert_eq!(parts.len(), 3, "37 traces reach all three backends");
    let mut seen = BTreeMap::new();
    let mut trace_backend: HashMap<Vec<u8>, usize> = HashMap::new();
    for p in &parts {
        for (svc, scope, span) in spans_of(p.batch.view().unwrap()) {
            assert_eq!(e.members().ring.endpoint_for(&span.trace_id), p.backend);
            let b = *trace_backend
                .entry(span.trace_id.clone())
                .or_insert(p.backend);
            assert_eq!(b, p.backend, "a trace was split across backends");
            assert!(
                seen.insert(span.span_id.clone(), (svc, scope)).is_none(),
                "span twice"
            );
        }
        assert_eq!(
            p.batch.item_count(),
            spans_of(p.batch.view().unwrap()).len()
        );
    }
    assert_eq!(seen.len(), input.len());
    // Each span keeps its own resource and scope.
    for (svc, scope, span) in input {
        assert_eq!(seen[&span.span_id], (svc, scope));
    }
    // Resources and scopes are not repeated within a part.
    for p in &parts {
        let Data::Traces(r) = p.batch.view().unwrap() else {
            panic!()
        };
        assert!(r.resource_spans.len() <= 2);
        assert!(r
            .resource_spans
            .iter()
            .all(|rs| rs.scope_spans.len() <= 2 && rs.schema_url.starts_with("schema-")));
    }
}

#[test]
fn a_batch_for_one_backend_is_sent_as_it_is() {
    let e = build(THREE);
    let batch = traces_batch(traces_request(40, 1));
    let parts = e.split(&batch, &e.members()).unwrap();
    assert_eq!(parts.len(), 1);
    assert!(parts[0].batch.same_payload(&batch), "no copy, no re-encode");
    let empty = traces_batch(ExportTraceServiceRequest::default());
    assert!(e.split(&empty, &e.members()).unwrap().is_empty());
}

#[test]
fn service_routing_keeps_each_service_together() {
    let e = build(&format!("routing_key: service\n{THREE}"));
    let batch = traces_batch(traces_request(400, 37));
    let parts = e.split(&batch, &e.members()).unwrap();
    let mut svc_backend = HashMap::new();
    let mut total = 0;
    for p in &parts {
        for (svc, _, _) in spans_of(p.batch.view().unwrap()) {
            assert_eq!(e.members().ring.endpoint_for(svc.as_bytes()), p.backend);
            assert_eq!(*svc_backend.entry(svc).or_insert(p.backend), p.backend);
            total += 1;
        }
    }
    assert_eq!(total, 400);
}

#[test]
fn logs_route_by_trace_id_else_by_service() {
    let e = build(THREE);
    let record = |n: Option<u64>, body: &str| LogRecord {
        trace_id: n.map(trace_id).unwrap_or_default(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.into())),
        }),
        ..Default::default()
    };
    let records: Vec<LogRecord> = (0..60)
        .map(|i| record((i % 3 != 0).then_some(i), &format!("log-{i}")))
        .collect();
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "checkout")],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records.clone(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let batch = Batch::from_data(Data::Logs(req), Default::default());
    let parts = e.split(&batch, &e.members()).unwrap();
    assert!(parts.len() > 1);
    let mut bodies = BTreeSet::new();
    let service_backend = e.members().ring.endpoint_for(b"checkout");
    for p in &parts {
        let Data::Logs(l) = p.batch.view().unwrap() else {
            panic!()
        };
        for rl in &l.resource_logs {
            for r in rl.scope_logs.iter().flat_map(|s| &s.log_records) {
                let want = if r.trace_id.is_empty() {
                    service_backend
                } else {
                    e.members().ring.endpoint_for(&r.trace_id)
                };
                assert_eq!(want, p.backend);
                assert!(bodies.insert(format!("{:?}", r.body)));
            }
        }
    }
    assert_eq!(bodies.len(), 60);
}

// ---------------------------------------------------------------------------------------------
// Config

#[test]
fn factory_info() {
    let info = LoadBalancingExporterFactory.info();
    assert_eq!(info.type_name, "load_balancing");
    assert_eq!(info.aliases, ["loadbalancing"]);
    let signals: Vec<Signal> = info.signals.iter().map(|(s, _)| *s).collect();
    assert_eq!(signals, [Signal::Traces, Signal::Metrics, Signal::Logs]);
}

#[test]
fn config_valid() {
    let parts = create(&testdata("config_valid.yaml")).unwrap();
    // Queue and retry come from protocol.otlp when not given at the top level.
    assert_eq!(parts.settings.queue.queue_size, 5000);
    assert_eq!(
        parts.settings.retry.max_elapsed_time,
        GoDuration::from_secs(60)
    );
    assert!(parts.settings.timeout.is_zero());
    let cfg: LoadBalancingConfig = decode(
        "x",
        &serde_yaml_ng::from_str(&testdata("config_valid.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(cfg.routing_key, Choice::Known(RoutingKey::Service));
    assert_eq!(
        LoadBalancingConfig::default().routing_key,
        Choice::Known(RoutingKey::Unset)
    );

    // Top-level settings win.
    let parts = create(&format!(
        "{THREE}\ntimeout: 3s\nsending_queue: {{queue_size: 7}}\nretry_on_failure: {{enabled: false}}"
    ))
    .unwrap();
    assert_eq!(parts.settings.timeout, GoDuration::from_secs(3));
    assert_eq!(parts.settings.queue.queue_size, 7);
    assert!(!parts.settings.retry.enabled);
    // otelcol's defaults: retry and queue of the otlp exporter.
    let parts = create("resolver: {static: {hostnames: [h]}}").unwrap();
    assert!(parts.settings.retry.enabled && parts.settings.queue.enabled);
}

#[test]
fn hostnames_get_the_default_port() {
    assert_eq!(with_default_port("sampler"), "sampler:4317");
    assert_eq!(with_default_port("sampler:55690"), "sampler:55690");
    assert_eq!(with_default_port("10.1.2.3"), "10.1.2.3:4317");
    assert_eq!(with_default_port("[::1]:99"), "[::1]:99");
    assert_eq!(with_default_port("[::1]"), "[::1]:4317");
    let e = build("resolver: {static: {hostnames: [x, 'x:4317']}}");
    assert_eq!(e.members().ring.endpoints(), ["x:4317"]);
}

#[test]
fn config_typo_names_the_key() {
    let p = error_paths(&testdata("config_typo.yaml"));
    assert_eq!(
        p,
        ["exporters.loadbalancing.protocol.otlp.timout"],
        "the otlp settings are checked by the otlp exporter, under this path"
    );
    let p = error_paths("resolver: {statc: {hostnames: [a]}}");
    assert_eq!(p, ["exporters.loadbalancing.resolver.statc"]);
    let p = error_paths("resolver: {static: {hostnames: [a]}}\nprotocol: {otlphttp: {}}");
    assert_eq!(p, ["exporters.loadbalancing.protocol.otlphttp"]);
    let p = error_paths("routing_keys: service");
    assert_eq!(p, ["exporters.loadbalancing.routing_keys"]);
}

#[test]
fn dns_resolver_config_as_otelcol() {
    let otlp = "protocol: {otlp: {tls: {insecure: true}}}\n";
    for valid in [
        "resolver: {dns: {hostname: service-1}}",
        "resolver: {dns: {hostname: service-1, port: \"55690\", interval: 10s, timeout: 2s}}",
        "resolver: {dns: {hostname: _otlp._tcp.samplers, mode: srv}}",
    ] {
        create(&format!("{otlp}{valid}")).unwrap_or_else(|e| panic!("{valid}: {e}"));
    }
    let message = |config: &str| refused(create(&format!("{otlp}{config}")), config).to_string();
    assert!(message("resolver: {dns: {port: \"4317\"}}")
        .contains("resolver.dns.hostname: no hostname specified to resolve the backends"));
    // A port is a string in otelcol: an int is a type error there too.
    assert!(message("resolver: {dns: {hostname: a, port: 55690}}").contains("resolver.dns.port"));
    assert!(message("resolver: {dns: {hostname: a, port: \"http\"}}").contains("invalid port"));
    assert!(message("resolver: {dns: {hostname: a, mode: txt}}")
        .contains("unsupported DNS resolve mode"));
    assert!(
        message("resolver: {dns: {hostname: a}, static: {hostnames: [b]}}")
            .contains("only one resolver should be specified")
    );
    assert!(message("resolver: {}").contains("no resolvers specified for the exporter"));
}

#[test]
fn config_invalid_values() {
    let p = error_paths(&testdata("config_invalid.yaml"));
    for want in [
        "exporters.loadbalancing.routing_key",
        "exporters.loadbalancing.resolver",
        "exporters.loadbalancing.protocol.otlp.compression",
        "exporters.loadbalancing.sending_queue.num_consumers",
    ] {
        assert!(p.iter().any(|x| x == want), "{want} not in {p:?}");
    }
    // The otlp settings' error is reported once, not once per backend.
    assert_eq!(
        p.iter()
            .filter(|x| *x == "exporters.loadbalancing.protocol.otlp.compression")
            .count(),
        1
    );
    assert_eq!(error_paths("{}"), ["exporters.loadbalancing.resolver"]);
    assert_eq!(
        error_paths("resolver: {static: {hostnames: []}}"),
        ["exporters.loadbalancing.resolver.static.hostnames"]
    );
    // Outside a cluster (as otelcol, when it creates the exporter).
    assert_eq!(
        error_paths("resolver: {k8s: {service: lb.ns}}"),
        ["exporters.loadbalancing.resolver.k8s"]
    );
    assert_eq!(
        error_paths("resolver: {static: {hostnames: ['bad host:1']}}"),
        ["exporters.loadbalancing.resolver.static.hostnames"]
    );
}

// ---------------------------------------------------------------------------------------------
// Against real gRPC backends

/// A gRPC backend that records accepted export bodies and can refuse the next requests.
#[derive(Clone, Default)]
struct Server {
    accepted: Arc<Mutex<Vec<Bytes>>>,
    refuse: Arc<Mutex<VecDeque<Status>>>,
    attempts: Arc<AtomicU64>,
}

struct Unary(Server);

impl UnaryService<Bytes> for Unary {
    type Response = Bytes;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<Bytes>, Status>> + Send>>;

    fn call(&mut self, req: tonic::Request<Bytes>) -> Self::Future {
        let b = self.0.clone();
        Box::pin(async move {
            b.attempts.fetch_add(1, Ordering::SeqCst);
            let refuse = b.refuse.lock().unwrap().pop_front();
            match refuse {
                Some(s) => Err(s),
                None => {
                    b.accepted.lock().unwrap().push(req.into_inner());
                    Ok(tonic::Response::new(Bytes::new()))
                }
            }
        })
    }
}

impl tower_service::Service<http::Request<tonic::body::Body>> for Server {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let svc = Unary(self.clone());
        Box::pin(async move {
            let mut grpc = Grpc::new(BytesCodec).accept_compressed(CompressionEncoding::Gzip);
            Ok(grpc.unary(svc, req).await)
        })
    }
}

impl Server {
    async fn start() -> (Server, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let b = Server::default();
        let svc = b.clone();
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .serve_with_incoming(svc, tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        (b, addr)
    }

    fn span_ids(&self) -> Vec<Vec<u8>> {
        self.spans().into_iter().map(|(_, span)| span).collect()
    }
}

async fn exporter_for(backends: &[&str], extra: &str) -> (ExporterParts, Vec<String>) {
    let yaml = format!(
        "resolver: {{static: {{hostnames: [{}]}}}}\nprotocol: {{otlp: {{tls: {{insecure: true}}, timeout: 2s}}}}\n{extra}",
        backends.join(", ")
    );
    let parts = create(&yaml).unwrap();
    parts
        .exporter
        .start(&ExporterStartContext::default())
        .await
        .unwrap();
    let mut sorted: Vec<String> = backends.iter().map(|s| s.to_string()).collect();
    sorted.sort();
    (parts, sorted)
}

#[tokio::test]
async fn every_span_reaches_its_backend_once() {
    let (b1, a1) = Server::start().await;
    let (b2, a2) = Server::start().await;
    let (parts, _) = exporter_for(&[&a1, &a2], "").await;
    let req = traces_request(200, 50);
    parts.exporter.export(traces_batch(req)).await.unwrap();
    let (s1, s2) = (b1.span_ids(), b2.span_ids());
    assert!(
        !s1.is_empty() && !s2.is_empty(),
        "{} / {}",
        s1.len(),
        s2.len()
    );
    let all: BTreeSet<Vec<u8>> = s1.iter().chain(&s2).cloned().collect();
    assert_eq!(s1.len() + s2.len(), 200);
    assert_eq!(all.len(), 200);
}

#[tokio::test]
async fn a_retry_sends_only_the_parts_that_failed() {
    let (b1, a1) = Server::start().await;
    let (b2, a2) = Server::start().await;
    let (parts, sorted) = exporter_for(&[&a1, &a2], "").await;
    let (failing, healthy) = if sorted[0] == a1 {
        (&b1, &b2)
    } else {
        (&b2, &b1)
    };
    failing
        .refuse
        .lock()
        .unwrap()
        .push_back(Status::new(Code::Unavailable, "busy"));
    let batch = traces_batch(traces_request(200, 50));
    let err = parts.exporter.export(batch.clone()).await.unwrap_err();
    assert!(!err.is_permanent(), "{err}");
    assert!(err.to_string().contains("busy"), "{err}");
    let delivered = healthy.span_ids().len();
    assert!(delivered > 0 && failing.span_ids().is_empty());

    // The engine retries the same batch: only the failed part goes out again.
    parts.exporter.export(batch.clone()).await.unwrap();
    assert_eq!(
        healthy.span_ids().len(),
        delivered,
        "no duplicate to the healthy backend"
    );
    assert_eq!(healthy.attempts.load(Ordering::SeqCst), 1);
    assert_eq!(failing.attempts.load(Ordering::SeqCst), 2);
    assert_eq!(failing.span_ids().len() + delivered, 200);

    // The same content in a new batch is new data, sent in full.
    parts
        .exporter
        .export(traces_batch(traces_request(200, 50)))
        .await
        .unwrap();
    assert_eq!(failing.span_ids().len() + healthy.span_ids().len(), 400);
}

#[tokio::test]
async fn without_retries_nothing_is_remembered() {
    let (b1, a1) = Server::start().await;
    let (b2, a2) = Server::start().await;
    let (parts, _) = exporter_for(&[&a1, &a2], "retry_on_failure: {enabled: false}").await;
    for b in [&b1, &b2] {
        b.refuse
            .lock()
            .unwrap()
            .push_back(Status::new(Code::Unavailable, "busy"));
    }
    let batch = traces_batch(traces_request(200, 50));
    assert!(parts.exporter.export(batch.clone()).await.is_err());
    parts.exporter.export(batch).await.unwrap();
    assert_eq!(b1.span_ids().len() + b2.span_ids().len(), 200);
}

#[tokio::test]
async fn a_permanent_refusal_fails_the_batch_without_resending_it() {
    let (b1, a1) = Server::start().await;
    let (b2, a2) = Server::start().await;
    let (parts, sorted) = exporter_for(&[&a1, &a2], "").await;
    let (first, second) = if sorted[0] == a1 {
        (&b1, &b2)
    } else {
        (&b2, &b1)
    };
    first
        .refuse
        .lock()
        .unwrap()
        .push_back(Status::new(Code::InvalidArgument, "bad data"));
    second
        .refuse
        .lock()
        .unwrap()
        .push_back(Status::new(Code::Unavailable, "busy"));
    let batch = traces_batch(traces_request(200, 50));
    // First attempt: one part refused for good, the other retryable.
    let err = parts.exporter.export(batch.clone()).await.unwrap_err();
    assert!(!err.is_permanent(), "{err}");
    // The retry delivers the retryable part only, then reports the permanent refusal.
    let err = parts.exporter.export(batch).await.unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert_eq!(first.attempts.load(Ordering::SeqCst), 1);
    assert_eq!(second.attempts.load(Ordering::SeqCst), 2);
    assert!(first.span_ids().is_empty() && !second.span_ids().is_empty());
}

#[tokio::test]
async fn a_down_backend_fails_retryably_and_names_itself() {
    let (b1, a1) = Server::start().await;
    // A port with nothing listening (held for the whole test).
    let reserved = ferrotel_testkit::ReservedPort::new();
    let down = reserved.addr().to_string();
    let (parts, _) = exporter_for(&[&a1, &down], "").await;
    let err = parts
        .exporter
        .export(traces_batch(traces_request(200, 50)))
        .await
        .unwrap_err();
    assert!(!err.is_permanent(), "{err}");
    assert!(err.to_string().contains(&down), "{err}");
    assert!(!b1.span_ids().is_empty());
}

#[test]
fn memo_is_bounded() {
    let memo = Memo {
        entries: Mutex::new(vec![]),
        next_id: AtomicU64::new(0),
        capacity: 4,
        ttl: None,
    };
    let batches: Vec<Batch> = (0..10)
        .map(|i| traces_batch(traces_request(4, i + 1)))
        .collect();
    for b in &batches {
        let id = memo.insert(b, Arc::from(vec![]));
        memo.release(id);
    }
    assert_eq!(memo.lock().len(), 4);
    // The newest are kept; an evicted batch is simply not resumed (it is sent whole).
    assert!(memo.resume(&batches[9]).is_some());
    assert!(memo.resume(&batches[0]).is_none());
    // In flight: not handed to a second, concurrent attempt.
    assert!(memo.resume(&batches[9]).is_none());
}

#[test]
fn extensions_used_are_recorded_with_their_paths() {
    let uses = LoadBalancingExporterFactory
        .check(
            "exporters.loadbalancing",
            &yaml(
                "resolver: {static: {hostnames: [a, b]}}\nprotocol: {otlp: {auth: {authenticator: oauth2client}}}\nsending_queue: {storage: file_storage}",
            ),
        )
        .unwrap();
    let got: Vec<_> = uses
        .iter()
        .map(|u| (u.path.as_str(), u.id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "exporters.loadbalancing.protocol.otlp.auth.authenticator",
                "oauth2client"
            ),
            (
                "exporters.loadbalancing.sending_queue.storage",
                "file_storage"
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// The dns resolver, against a real DNS server on loopback

use ferrotel_testkit::metrics::read;
use ferrotel_testkit::wait::wait_for;

/// A DNS server on a loopback UDP port answering A queries for any name with `ips` (as they are
/// when asked), and nothing for other types.
#[derive(Clone, Default)]
struct DnsServer {
    ips: Arc<Mutex<Vec<std::net::Ipv4Addr>>>,
    queries: Arc<AtomicU64>,
}

impl DnsServer {
    async fn start(ips: &[&str]) -> (DnsServer, std::net::SocketAddr) {
        use hickory_proto::op::{Message, MessageType};
        use hickory_proto::rr::{rdata::A, RData, Record, RecordType};
        let server = DnsServer::default();
        server.set(ips);
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let s = server.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                s.queries.fetch_add(1, Ordering::SeqCst);
                let mut answer = Message::new();
                answer
                    .set_id(query.id())
                    .set_message_type(MessageType::Response)
                    .set_recursion_desired(query.recursion_desired())
                    .set_recursion_available(true)
                    .set_authoritative(true)
                    .add_queries(query.queries().to_vec());
                for q in query
                    .queries()
                    .iter()
                    .filter(|q| q.query_type() == RecordType::A)
                {
                    for ip in s.ips.lock().unwrap().iter() {
                        answer.add_answer(Record::from_rdata(
                            q.name().clone(),
                            0,
                            RData::A(A(*ip)),
                        ));
                    }
                }
                let _ = socket.send_to(&answer.to_vec().unwrap(), from).await;
            }
        });
        (server, addr)
    }

    fn set(&self, ips: &[&str]) {
        *self.ips.lock().unwrap() = ips.iter().map(|ip| ip.parse().unwrap()).collect();
    }
}

impl Server {
    /// A backend on `ip` at `port` (every backend of a dns resolver shares the port).
    async fn start_at(ip: &str, port: u16) -> Server {
        let listener = tokio::net::TcpListener::bind((ip, port)).await.unwrap();
        let b = Server::default();
        let svc = b.clone();
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .serve_with_incoming(svc, tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        b
    }

    fn spans(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.accepted
            .lock()
            .unwrap()
            .iter()
            .flat_map(|body| {
                ExportTraceServiceRequest::decode(body.as_ref())
                    .unwrap()
                    .resource_spans
            })
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .map(|s| (s.trace_id, s.span_id))
            .collect()
    }
}

/// Three backends on 127.0.0.1-3 at one free port.
async fn three_backends() -> (Vec<Server>, u16) {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let mut servers = vec![];
    for ip in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
        servers.push(Server::start_at(ip, port).await);
    }
    (servers, port)
}

/// A dns-resolved exporter asking `dns`, started, and its telemetry.
async fn dns_exporter(dns: std::net::SocketAddr, port: u16) -> (LoadBalancingExporter, Telemetry) {
    let config = format!(
        "resolver: {{dns: {{hostname: samplers.test, port: \"{port}\", interval: 50ms, timeout: 1s}}}}\nprotocol: {{otlp: {{tls: {{insecure: true}}, timeout: 2s}}}}"
    );
    let e = build(&config);
    let telemetry = e.maker.telemetry.clone();
    let start = ExporterStartContext {
        telemetry: telemetry.clone(),
        ..ExporterStartContext::default()
    };
    let cfg = match &e.dynamic {
        Some(Dynamic::Dns(cfg)) => cfg.clone(),
        _ => unreachable!("a dns resolver"),
    };
    e.start_with(
        &start,
        Some(Source::Dns(Box::new(dns::DnsLookup::with_server(dns)), cfg)),
    )
    .await
    .unwrap();
    (e, telemetry)
}

async fn wait_for_backends(e: &LoadBalancingExporter, n: usize) {
    let got = wait_for(|| e.members().backends.len() == n, Duration::from_secs(10)).await;
    assert!(
        got,
        "never got {n} backends: {:?}",
        e.members().ring.endpoints()
    );
}

/// A span of trace `t`, half `h`.
fn half_trace(t: u64, h: u64) -> ExportTraceServiceRequest {
    let mut span = Span {
        trace_id: trace_id(t),
        span_id: (t * 2 + h).to_be_bytes().to_vec(),
        name: "op".into(),
        ..Default::default()
    };
    span.attributes.push(kv("half", &h.to_string()));
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "api")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Sends a batch as the engine would: retried while the refusal is retryable.
async fn export_until_accepted(e: &LoadBalancingExporter, batch: Batch) {
    for _ in 0..200 {
        match e.export(batch.clone()).await {
            Ok(()) => return,
            Err(err) if !err.is_permanent() => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(err) => panic!("refused: {err}"),
        }
    }
    panic!("never accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_membership_changes_under_load_lose_nothing() {
    let (servers, port) = three_backends().await;
    let (dns, dns_addr) = DnsServer::start(&["127.0.0.1", "127.0.0.2"]).await;
    let (e, telemetry) = dns_exporter(dns_addr, port).await;
    wait_for_backends(&e, 2).await;
    let e = Arc::new(e);

    // 3000 traces, each sent as two batches of one span 40 traces apart, by 8 concurrent
    // senders, while the answer changes: a backend joins, then another leaves.
    const TRACES: u64 = 3000;
    let next = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let (e, next) = (e.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= 2 * TRACES {
                        return;
                    }
                    // Even batches carry first halves, odd ones the second half of the trace
                    // 20 before.
                    let (t, h) = match (i % 2, i / 2) {
                        (0, t) => (t, 0),
                        (_, t) if t >= 20 => (t - 20, 1),
                        _ => continue,
                    };
                    export_until_accepted(&e, traces_batch(half_trace(t, h))).await;
                }
            })
        })
        .collect();
    let changes = async {
        assert!(
            wait_for(
                || next.load(Ordering::SeqCst) > TRACES / 2,
                Duration::from_secs(20)
            )
            .await
        );
        dns.set(&["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
        wait_for_backends(&e, 3).await;
        assert!(
            wait_for(
                || next.load(Ordering::SeqCst) > TRACES,
                Duration::from_secs(20)
            )
            .await
        );
        dns.set(&["127.0.0.2", "127.0.0.3"]);
        wait_for_backends(&e, 2).await;
    };
    let (_, sent) = tokio::join!(changes, futures::future::join_all(senders));
    sent.into_iter().for_each(|r| r.unwrap());

    // Every span arrived exactly once.
    let mut where_: HashMap<Vec<u8>, BTreeSet<usize>> = HashMap::new();
    let mut span_ids = BTreeSet::new();
    let mut received = 0;
    for (b, server) in servers.iter().enumerate() {
        for (trace, span) in server.spans() {
            received += 1;
            span_ids.insert(span);
            where_.entry(trace).or_default().insert(b);
        }
    }
    let expected: BTreeSet<Vec<u8>> = (0..TRACES)
        .flat_map(|t| [t * 2, t * 2 + 1])
        .filter(|id| !(id % 2 == 1 && id / 2 >= TRACES - 20))
        .map(|id| id.to_be_bytes().to_vec())
        .collect();
    assert_eq!(received, span_ids.len(), "duplicates delivered");
    assert!(
        span_ids.is_superset(&expected),
        "{} of {} spans arrived",
        span_ids.len(),
        expected.len()
    );
    // Each backend served; traces stay whole but for those whose halves straddle a change.
    assert!(servers.iter().all(|s| !s.spans().is_empty()));
    let split = where_.values().filter(|b| b.len() > 1).count();
    assert!(
        split * 100 <= where_.len() * 5,
        "{split} of {} traces split",
        where_.len()
    );
    assert!(servers[0].attempts.load(Ordering::SeqCst) > 0);
    let series = |s: &str| read(&telemetry, s);
    assert_eq!(
        series(r#"otelcol_loadbalancer_num_backends{resolver="dns"}"#),
        Some(2.0)
    );
    assert_eq!(
        series(r#"otelcol_loadbalancer_num_backend_updates{resolver="dns"}"#),
        Some(3.0)
    );
    e.shutdown().await;
}

#[tokio::test]
async fn a_failed_lookup_keeps_the_backends_and_is_counted() {
    let (servers, port) = three_backends().await;
    let (dns, dns_addr) = DnsServer::start(&["127.0.0.1"]).await;
    let (e, telemetry) = dns_exporter(dns_addr, port).await;
    wait_for_backends(&e, 1).await;
    // No answer at all now (NOERROR, no records): hickory reports no records found.
    dns.set(&[]);
    let failures = || {
        read(
            &telemetry,
            r#"otelcol_loadbalancer_num_resolutions{resolver="dns",success="false"}"#,
        )
        .unwrap_or(0.0)
    };
    assert!(wait_for(|| failures() >= 2.0, Duration::from_secs(10)).await);
    assert_eq!(e.members().ring.endpoints(), [format!("127.0.0.1:{port}")]);
    export_until_accepted(&e, traces_batch(half_trace(1, 0))).await;
    assert_eq!(servers[0].spans().len(), 1);
    e.shutdown().await;
}

#[tokio::test]
async fn a_part_for_a_backend_that_left_is_rerouted_on_retry() {
    let (servers, port) = three_backends().await;
    let (dns, dns_addr) = DnsServer::start(&["127.0.0.1", "127.0.0.2"]).await;
    let (e, telemetry) = dns_exporter(dns_addr, port).await;
    wait_for_backends(&e, 2).await;
    // 127.0.0.1 refuses its part once, retryably; then it leaves the answer.
    servers[0]
        .refuse
        .lock()
        .unwrap()
        .push_back(Status::unavailable("going away"));
    let batch = traces_batch(traces_request(200, 50));
    let first = e.export(batch.clone()).await.unwrap_err();
    assert!(!first.is_permanent(), "{first}");
    let delivered_first = servers[1].spans().len();
    assert!(delivered_first > 0 && delivered_first < 200);
    dns.set(&["127.0.0.2", "127.0.0.3"]);
    wait_for_backends(&e, 2).await;
    let gone = format!("127.0.0.1:{port}");
    assert!(
        wait_for(
            || !e.members().ring.endpoints().contains(&gone),
            Duration::from_secs(10)
        )
        .await
    );

    e.export(batch).await.unwrap();
    let rerouted = read(
        &telemetry,
        r#"ferrotel_loadbalancer_rerouted_items{exporter="loadbalancing"}"#,
    );
    assert_eq!(rerouted, Some((200 - delivered_first) as f64));
    let all: Vec<Vec<u8>> = servers.iter().flat_map(|s| s.span_ids()).collect();
    let unique: BTreeSet<&Vec<u8>> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (200, 200), "every span once");
    assert!(
        servers[0].span_ids().is_empty(),
        "the refusing backend got nothing"
    );
    e.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The aws_cloud_map resolver, against a stand-in for Cloud Map's DiscoverInstances API

/// Answers `DiscoverInstances` (AWS JSON 1.1) with `instances` (ip, port) and ECS task-role
/// credentials on `/creds`; records the headers and body of each discovery call.
#[derive(Clone, Default)]
struct CloudMapApi {
    instances: Arc<Mutex<Vec<(String, u16)>>>,
    calls: Arc<Mutex<Vec<(http::HeaderMap, serde_json::Value)>>>,
}

impl CloudMapApi {
    async fn start() -> (CloudMapApi, String) {
        use http_body_util::{BodyExt, Full};
        use hyper_util::rt::TokioIo;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let api = CloudMapApi::default();
        let a = api.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let a = a.clone();
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let a = a.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.unwrap().to_bytes();
                            let answer = a.answer(parts, &body);
                            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(answer))))
                        }
                    });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc),
                );
            }
        });
        (api, url)
    }

    fn answer(&self, parts: http::request::Parts, body: &[u8]) -> String {
        if parts.uri.path() == "/creds" {
            assert_eq!(parts.headers["authorization"], "ecs-token");
            return r#"{"AccessKeyId":"ASIATASKROLE","SecretAccessKey":"s3cr3t","Token":"session-token","Expiration":"2099-01-01T00:00:00Z"}"#.into();
        }
        let request: serde_json::Value = serde_json::from_slice(body).unwrap();
        self.calls.lock().unwrap().push((parts.headers, request));
        let instances: Vec<serde_json::Value> = self
            .instances
            .lock()
            .unwrap()
            .iter()
            .map(|(ip, port)| serde_json::json!({"InstanceId": ip, "Attributes": {"AWS_INSTANCE_IPV4": ip, "AWS_INSTANCE_PORT": port.to_string()}}))
            .collect();
        serde_json::json!({ "Instances": instances }).to_string()
    }

    fn set(&self, ips: &[&str], port: u16) {
        *self.instances.lock().unwrap() = ips.iter().map(|ip| (ip.to_string(), port)).collect();
    }
}

/// An exporter following `api`, with the environment `env` (name, value).
async fn cloud_map_exporter(api: &str, env: &[(&str, &str)]) -> LoadBalancingExporter {
    let e = build("resolver: {aws_cloud_map: {namespace: observability.local, service_name: sampler, interval: 50ms}}\nprotocol: {otlp: {tls: {insecure: true}, timeout: 2s}}");
    let mut vars: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.insert("AWS_REGION".into(), "eu-west-1".into());
    vars.insert("AWS_ENDPOINT_URL_SERVICEDISCOVERY".into(), api.to_string());
    let cfg = match &e.dynamic {
        Some(Dynamic::CloudMap(cfg)) => cfg.clone(),
        _ => unreachable!("an aws_cloud_map resolver"),
    };
    let lookup = cloud_map::CloudMapLookup::new(move |name| vars.get(name).cloned());
    let start = ExporterStartContext {
        telemetry: e.maker.telemetry.clone(),
        ..ExporterStartContext::default()
    };
    e.start_with(&start, Some(Source::CloudMap(lookup, cfg)))
        .await
        .unwrap();
    e
}

#[tokio::test]
async fn cloud_map_instances_become_the_backends_and_are_followed() {
    let (servers, port) = three_backends().await;
    let (api, url) = CloudMapApi::start().await;
    api.set(&["127.0.0.1", "127.0.0.2"], port);
    let e = cloud_map_exporter(
        &url,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ],
    )
    .await;
    wait_for_backends(&e, 2).await;
    api.set(&["127.0.0.2", "127.0.0.3"], port);
    let moved = format!("127.0.0.3:{port}");
    assert!(
        wait_for(
            || e.members().ring.endpoints().contains(&moved),
            Duration::from_secs(10)
        )
        .await
    );
    export_until_accepted(&e, traces_batch(traces_request(200, 50))).await;
    let spans: usize = servers.iter().map(|s| s.span_ids().len()).sum();
    assert_eq!(spans, 200);
    assert!(servers[0].span_ids().is_empty() && !servers[2].span_ids().is_empty());

    // otelcol's request: the namespace, service and health filter, signed with SigV4.
    let (headers, body) = api.calls.lock().unwrap()[0].clone();
    assert_eq!(
        body,
        serde_json::json!({"NamespaceName": "observability.local", "ServiceName": "sampler", "HealthStatus": "HEALTHY"})
    );
    assert_eq!(
        headers["x-amz-target"],
        "Route53AutoNaming_v20170314.DiscoverInstances"
    );
    assert_eq!(headers["content-type"], "application/x-amz-json-1.1");
    let auth = headers["authorization"].to_str().unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/"),
        "{auth}"
    );
    assert!(
        auth.contains("/eu-west-1/servicediscovery/aws4_request"),
        "{auth}"
    );
    assert!(
        auth.contains("SignedHeaders=") && auth.contains("Signature="),
        "{auth}"
    );
    e.shutdown().await;
}

#[tokio::test]
async fn cloud_map_uses_the_ecs_task_role_without_keys() {
    let (_servers, port) = three_backends().await;
    let (api, url) = CloudMapApi::start().await;
    api.set(&["127.0.0.1"], port);
    let creds = format!("{url}/creds");
    let e = cloud_map_exporter(
        &url,
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &creds),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-token"),
        ],
    )
    .await;
    wait_for_backends(&e, 1).await;
    let (headers, _) = api.calls.lock().unwrap()[0].clone();
    assert!(headers["authorization"]
        .to_str()
        .unwrap()
        .contains("Credential=ASIATASKROLE/"));
    assert_eq!(headers["x-amz-security-token"], "session-token");
    e.shutdown().await;
}

#[test]
fn cloud_map_config_as_otelcol() {
    let otlp = "protocol: {otlp: {tls: {insecure: true}}}\n";
    create(&format!("{otlp}resolver: {{aws_cloud_map: {{namespace: cloudmap-1, service_name: service-1, port: 4319}}}}")).unwrap();
    create(&format!("{otlp}resolver: {{aws_cloud_map: {{namespace: n, service_name: s, health_status: HEALTHY_OR_ELSE_ALL}}}}")).unwrap();
    let message = |config: &str| refused(create(&format!("{otlp}{config}")), config).to_string();
    assert!(
        message("resolver: {aws_cloud_map: {service_name: s}}").contains("no namespace specified")
    );
    assert!(message(
        "resolver: {aws_cloud_map: {namespace: n, service_name: s, health_status: healthy}}"
    )
    .contains("unsupported health_status"));
}
