//! Pushing the collector's own telemetry as OTLP: `service.telemetry.metrics.readers[].periodic`
//! sends the self-metrics (the series served on `/metrics`) every `interval` and once more at
//! shutdown; the log processors of `service.telemetry.logs` send log records through the same
//! kind of exporter. The sending is done by the distribution's own `otlp` (gRPC) or `otlphttp`
//! exporter, created from the reader's `exporter.otlp` settings, one attempt per push.
//!
//! ```yaml
//! service:
//!   telemetry:
//!     metrics:
//!       readers:
//!         - periodic:
//!             interval: 10000        # milliseconds
//!             exporter: {otlp: {protocol: grpc, endpoint: "http://monitor:4317"}}
//! ```

use ferrotel_config::telemetry::{OtlpProtocol, OtlpPush, PeriodicReader, Temporality};
use ferrotel_config::{ComponentId, ConfigError, ConfigErrors, Kind, Signal, Value};
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::common::v1::KeyValue;
use ferrotel_core::proto::metrics::v1::{metric, AggregationTemporality};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::{
    Batch, Data, Exporter, ExporterStartContext, Registry, RequestMeta, StartError, Telemetry,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The resource of pushed metrics and logs: otelcol's `service.name` (the build's command),
/// a random `service.instance.id` and `service.version`, then `service.telemetry.resource`
/// (a null value removes an attribute).
pub fn resource(overrides: &[(String, Option<String>)], command: &str, version: &str) -> Resource {
    let mut attrs: Vec<(String, String)> = vec![
        ("service.name".into(), command.into()),
        ("service.instance.id".into(), random_uuid()),
        ("service.version".into(), version.into()),
    ];
    for (k, v) in overrides {
        attrs.retain(|(n, _)| n != k);
        if let Some(v) = v {
            attrs.push((k.clone(), v.clone()));
        }
    }
    Resource {
        attributes: attrs
            .iter()
            .map(|(k, v)| ferrotel_core::pdata::kv_str(k, v))
            .collect::<Vec<KeyValue>>(),
        ..Default::default()
    }
}

/// A version-4 UUID, as otelcol's instance id.
fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Creates the exporter that sends `signal` as `push` says: the registry's `otlp` exporter
/// for gRPC, `otlphttp` for http/protobuf and http/json. Errors name `push.path`.
pub fn push_exporter(
    registry: &Registry,
    push: &OtlpPush,
    signal: Signal,
) -> Result<Arc<dyn Exporter>, ConfigErrors> {
    let type_name = match push.protocol {
        OtlpProtocol::Grpc => "otlp",
        _ => "otlphttp",
    };
    let factory = registry.exporters.get(type_name).ok_or_else(|| {
        ConfigErrors::from(ConfigError::new(
            &push.path,
            format!("this distribution has no {type_name} exporter to send with"),
        ))
    })?;
    let mut ctx = ferrotel_core::CreateContext::new(
        Kind::Exporter,
        ComponentId::new(type_name),
        Telemetry::new(),
    );
    ctx.path = push.path.clone();
    let parts = factory.create_from(&ctx, &exporter_settings(push, signal))?;
    Ok(parts.exporter)
}

/// The `otlp` / `otlphttp` exporter settings equivalent to `push`.
fn exporter_settings(push: &OtlpPush, signal: Signal) -> Value {
    let mut m = serde_yaml_ng::Mapping::new();
    let mut set = |k: &str, v: Value| {
        m.insert(Value::String(k.into()), v);
    };
    let s = |v: &str| Value::String(v.to_string());
    let endpoint_key = match push.protocol {
        OtlpProtocol::Grpc => "endpoint".to_string(),
        // A URL with a path is the whole URL (otelconf's WithURLPath); without, the exporter
        // adds `/v1/<signal>`.
        _ if url_has_path(&push.endpoint) => format!("{signal}_endpoint"),
        _ => "endpoint".to_string(),
    };
    set(&endpoint_key, s(&push.endpoint));
    if push.protocol == OtlpProtocol::HttpJson {
        set("encoding", s("json"));
    }
    set(
        "compression",
        s(push.compression.as_deref().unwrap_or("none")),
    );
    if let Some(t) = push.timeout {
        set("timeout", s(&format!("{}ms", t.as_millis())));
    }
    let headers: serde_yaml_ng::Mapping = push.headers.iter().map(|(k, v)| (s(k), s(v))).collect();
    set("headers", Value::Mapping(headers));
    let mut tls = serde_yaml_ng::Mapping::new();
    let mut tls_set = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            tls.insert(s(k), s(v));
        }
    };
    tls_set("ca_file", &push.certificate);
    tls_set("cert_file", &push.client_certificate);
    tls_set("key_file", &push.client_key);
    if push.insecure == Some(true) {
        tls.insert(s("insecure"), Value::Bool(true));
    }
    set("tls", Value::Mapping(tls));
    Value::Mapping(m)
}

fn url_has_path(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split_once('/').is_some_and(|(_, p)| !p.is_empty())
}

/// A `periodic` reader, created and ready to start.
pub(crate) struct MetricPusher {
    reader: PeriodicReader,
    exporter: Arc<dyn Exporter>,
}

impl MetricPusher {
    pub(crate) fn new(registry: &Registry, reader: &PeriodicReader) -> Result<Self, ConfigErrors> {
        Ok(MetricPusher {
            exporter: push_exporter(registry, &reader.exporter, Signal::Metrics)?,
            reader: reader.clone(),
        })
    }

    /// Starts the exporter, then pushes every interval until `stop`, and once more after it.
    pub(crate) async fn spawn(
        self,
        ctx: &ExporterStartContext,
        telemetry: Telemetry,
        resource: Resource,
        stop: CancellationToken,
        tasks: &mut JoinSet<()>,
    ) -> Result<(), StartError> {
        self.exporter
            .start(ctx)
            .await
            .map_err(|e| StartError(format!("{}: {e}", self.reader.path)))?;
        tasks.spawn(async move {
            let start = now_ns();
            let mut delta = DeltaState::default();
            let interval = self.reader.interval;
            let mut tick =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let last = tokio::select! {
                    _ = tick.tick() => false,
                    _ = stop.cancelled() => true,
                };
                let mut req = telemetry.to_otlp(resource.clone(), start, now_ns());
                if self.reader.exporter.temporality != Temporality::Cumulative {
                    delta.apply(&mut req);
                }
                self.push(req).await;
                if last {
                    break;
                }
            }
            self.exporter.shutdown().await;
        });
        Ok(())
    }

    async fn push(&self, req: ExportMetricsServiceRequest) {
        let batch = Batch::from_data(Data::Metrics(req), Arc::new(RequestMeta::default()));
        let sent = tokio::time::timeout(self.reader.timeout, self.exporter.export(batch)).await;
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(reader = %self.reader.path, error = %e, "Failed to push self-metrics")
            }
            Err(_) => {
                tracing::warn!(reader = %self.reader.path, timeout = ?self.reader.timeout, "Pushing self-metrics timed out")
            }
        }
    }
}

/// The previous cumulative values of each sum and histogram point, to push deltas.
#[derive(Default)]
struct DeltaState {
    /// (metric name, attributes) -> (time, value or bucket counts, histogram sum).
    prev: HashMap<String, (u64, Vec<f64>, f64)>,
}

impl DeltaState {
    fn apply(&mut self, req: &mut ExportMetricsServiceRequest) {
        let delta = AggregationTemporality::Delta as i32;
        for sm in req
            .resource_metrics
            .iter_mut()
            .flat_map(|r| &mut r.scope_metrics)
        {
            for m in &mut sm.metrics {
                match &mut m.data {
                    Some(metric::Data::Sum(s)) => {
                        s.aggregation_temporality = delta;
                        for p in &mut s.data_points {
                            use ferrotel_core::proto::metrics::v1::number_data_point::Value as V;
                            let key = format!("{}{:?}", m.name, p.attributes);
                            let now = match p.value {
                                Some(V::AsInt(i)) => i as f64,
                                Some(V::AsDouble(d)) => d,
                                None => 0.0,
                            };
                            let (t, prev, _) = self.swap(key, p.time_unix_nano, vec![now], 0.0);
                            p.start_time_unix_nano = t.unwrap_or(p.start_time_unix_nano);
                            let d = now - prev.first().copied().unwrap_or(0.0);
                            p.value = Some(match p.value {
                                Some(V::AsInt(_)) => V::AsInt(d as i64),
                                _ => V::AsDouble(d),
                            });
                        }
                    }
                    Some(metric::Data::Histogram(h)) => {
                        h.aggregation_temporality = delta;
                        for p in &mut h.data_points {
                            let key = format!("{}{:?}", m.name, p.attributes);
                            let counts: Vec<f64> = std::iter::once(p.count as f64)
                                .chain(p.bucket_counts.iter().map(|c| *c as f64))
                                .collect();
                            let sum = p.sum.unwrap_or(0.0);
                            let (t, prev, psum) =
                                self.swap(key, p.time_unix_nano, counts.clone(), sum);
                            p.start_time_unix_nano = t.unwrap_or(p.start_time_unix_nano);
                            let d: Vec<u64> = counts
                                .iter()
                                .enumerate()
                                .map(|(i, c)| (c - prev.get(i).copied().unwrap_or(0.0)) as u64)
                                .collect();
                            p.count = d[0];
                            p.bucket_counts = d[1..].to_vec();
                            p.sum = Some(sum - psum);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Stores the new values of `key`, returning the previous (time, values, sum).
    fn swap(
        &mut self,
        key: String,
        time: u64,
        values: Vec<f64>,
        sum: f64,
    ) -> (Option<u64>, Vec<f64>, f64) {
        match self.prev.insert(key, (time, values, sum)) {
            Some((t, v, s)) => (Some(t), v, s),
            None => (None, vec![], 0.0),
        }
    }
}

/// Waits up to `deadline` for the pushers' final exports.
pub(crate) async fn finish(tasks: &mut JoinSet<()>, deadline: Duration) {
    let all = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(deadline, all).await.is_err() {
        tasks.abort_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_defaults_and_overrides() {
        let r = resource(
            &[
                ("service.instance.id".into(), None),
                ("host.name".into(), Some("h".into())),
                ("service.name".into(), Some("mine".into())),
            ],
            "ferrotel",
            "1.2.3",
        );
        let keys: Vec<String> = r
            .attributes
            .iter()
            .map(|kv| {
                format!(
                    "{}={:?}",
                    kv.key,
                    kv.value.as_ref().and_then(|v| v.value.clone())
                )
            })
            .collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert!(keys[0].starts_with("service.version="), "{keys:?}");
        assert!(keys[2].contains("mine"), "{keys:?}");
        let id = random_uuid();
        assert_eq!(id.len(), 36);
        assert_ne!(id, random_uuid());
    }

    #[test]
    fn http_endpoints_with_a_path_are_the_whole_url() {
        assert!(!url_has_path("http://h:4318"));
        assert!(!url_has_path("http://h:4318/"));
        assert!(url_has_path("http://h:4318/custom/v1/metrics"));
    }

    #[test]
    fn delta_subtracts_the_previous_push() {
        let t = Telemetry::new();
        let c = t.counter("c", "C.", &[("a", "b")]);
        let h = t.histogram("h", "H.", &[], &[1.0]);
        let mut d = DeltaState::default();
        c.add(5);
        h.record(0.5);
        d.apply(&mut t.to_otlp(Resource::default(), 1, 2));
        c.add(2);
        h.record(3.0);
        let mut req = t.to_otlp(Resource::default(), 1, 3);
        d.apply(&mut req);
        let ms = &req.resource_metrics[0].scope_metrics[0].metrics;
        let Some(metric::Data::Sum(s)) = &ms[0].data else {
            panic!("{ms:?}")
        };
        use ferrotel_core::proto::metrics::v1::number_data_point::Value as V;
        assert_eq!(s.data_points[0].value, Some(V::AsInt(2)));
        assert_eq!(s.data_points[0].start_time_unix_nano, 2);
        let Some(metric::Data::Histogram(hd)) = &ms[1].data else {
            panic!("{ms:?}")
        };
        assert_eq!(hd.data_points[0].count, 1);
        assert_eq!(hd.data_points[0].bucket_counts, [0, 1]);
        assert_eq!(hd.data_points[0].sum, Some(3.0));
    }
}
