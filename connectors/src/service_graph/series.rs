//! The series of completed edges: request and failure counts and client and server latency
//! histograms per (client, server, connection type, failed, dimensions), cumulative since the
//! connector started, and the OTLP metrics they become at each flush.

use super::store::{ConnectionType, Edge, VirtualSide};
use crate::histogram::{Histogram, Layout};
use ferrotel_core::pdata;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use ferrotel_core::proto::metrics::v1::{
    metric, number_data_point, AggregationTemporality, ExponentialHistogram,
    ExponentialHistogramDataPoint, Histogram as OtlpHistogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use std::collections::HashMap;

/// The scope of the emitted metrics, as otelcol names it.
const SCOPE_NAME: &str = "traces_service_graph";
pub const REQUEST_TOTAL: &str = "traces_service_graph_request_total";
pub const REQUEST_FAILED_TOTAL: &str = "traces_service_graph_request_failed_total";
pub const REQUEST_SERVER: &str = "traces_service_graph_request_server";
pub const REQUEST_CLIENT: &str = "traces_service_graph_request_client";
/// Series not updated for this long are dropped at the next `cache_loop` (otelcol's 15
/// minutes).
pub const STALE_AFTER_NANOS: u64 = 15 * 60 * 1_000_000_000;

/// One series.
struct Series {
    client: String,
    server: String,
    connection_type: ConnectionType,
    failed: bool,
    dimensions: Vec<Option<String>>,
    virtual_side: VirtualSide,
    total: u64,
    failed_total: u64,
    server_latency: Histogram,
    client_latency: Histogram,
    last_updated: u64,
}

impl Series {
    fn count(&mut self, edge: &Edge, now: u64) {
        self.virtual_side = edge.virtual_side;
        self.last_updated = now;
        self.total += 1;
        self.failed_total += u64::from(edge.failed);
        self.server_latency.observe(edge.server_latency);
        self.client_latency.observe(edge.client_latency);
    }

    /// `client`, `server`, `connection_type`, `failed`, the dimensions, then `virtual_node`
    /// when `extra_label`.
    fn attributes(&self, names: &[String], extra_label: bool) -> Vec<KeyValue> {
        let mut out = vec![
            pdata::kv_str("client", &self.client),
            pdata::kv_str("server", &self.server),
            pdata::kv_str("connection_type", self.connection_type.as_str()),
            KeyValue {
                key: "failed".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::BoolValue(self.failed)),
                }),
                ..Default::default()
            },
        ];
        for (name, value) in names.iter().zip(&self.dimensions) {
            if let Some(v) = value {
                out.push(pdata::kv_str(name, v));
            }
        }
        if extra_label {
            out.push(pdata::kv_str("virtual_node", self.virtual_side.as_str()));
        }
        out
    }
}

/// Every series of one connector, at most `limit` of them.
pub struct SeriesMap {
    series: HashMap<String, Series, foldhash::fast::RandomState>,
    layout: Layout,
    limit: usize,
    /// `client_<dim>`, `server_<dim>` for each configured dimension.
    dimension_names: Vec<String>,
    extra_label: bool,
    /// Reused to build keys without allocating for known series.
    key: String,
}

impl SeriesMap {
    pub fn new(layout: Layout, limit: usize, dimensions: &[String], extra_label: bool) -> Self {
        let dimension_names = dimensions
            .iter()
            .flat_map(|d| [format!("client_{d}"), format!("server_{d}")])
            .collect();
        SeriesMap {
            series: HashMap::default(),
            layout,
            limit,
            dimension_names,
            extra_label,
            key: String::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Counts `edge` at `now`; false when it is a new series and `limit` series are held (the
    /// edge is then not counted).
    pub fn record(&mut self, edge: &Edge, now: u64) -> bool {
        self.key.clear();
        let failed = if edge.failed { "1" } else { "0" };
        for part in [
            &*edge.client,
            &*edge.server,
            edge.connection_type.as_str(),
            failed,
        ] {
            self.key.push_str(part);
            self.key.push('\0');
        }
        for (name, value) in self.dimension_names.iter().zip(&edge.dimensions) {
            if let Some(v) = value {
                for part in [name.as_str(), "=", v, "\0"] {
                    self.key.push_str(part);
                }
            }
        }
        if let Some(s) = self.series.get_mut(&self.key) {
            s.count(edge, now);
            return true;
        }
        if self.series.len() >= self.limit {
            return false;
        }
        let mut s = self.new_series(edge);
        s.count(edge, now);
        self.series.insert(self.key.clone(), s);
        true
    }

    fn new_series(&self, edge: &Edge) -> Series {
        Series {
            client: edge.client.to_string(),
            server: edge.server.to_string(),
            connection_type: edge.connection_type,
            failed: edge.failed,
            dimensions: edge.dimensions.clone(),
            virtual_side: edge.virtual_side,
            total: 0,
            failed_total: 0,
            server_latency: self.layout.new_histogram(),
            client_latency: self.layout.new_histogram(),
            last_updated: 0,
        }
    }

    /// Drops the series not updated since `STALE_AFTER_NANOS` before `now`; returns how many.
    pub fn drop_stale(&mut self, now: u64) -> usize {
        let before = self.series.len();
        self.series
            .retain(|_, s| s.last_updated.saturating_add(STALE_AFTER_NANOS) >= now);
        before - self.series.len()
    }

    /// The metrics of every series, started at `start`, stamped `time`; None when there is
    /// no series.
    pub fn build(&self, start: u64, time: u64) -> Option<ExportMetricsServiceRequest> {
        if self.series.is_empty() {
            return None;
        }
        let mut series: Vec<&Series> = self.series.values().collect();
        series.sort_by(|a, b| (&a.client, &a.server).cmp(&(&b.client, &b.server)));
        let attrs: Vec<Vec<KeyValue>> = series
            .iter()
            .map(|s| s.attributes(&self.dimension_names, self.extra_label))
            .collect();
        let at = Stamp { start, time };
        let mut metrics = vec![sum(REQUEST_TOTAL, &series, &attrs, at, |s| s.total)];
        if series.iter().any(|s| s.failed_total > 0) {
            metrics.push(sum(REQUEST_FAILED_TOTAL, &series, &attrs, at, |s| {
                s.failed_total
            }));
        }
        metrics.push(histogram(REQUEST_SERVER, &series, &attrs, at, |s| {
            &s.server_latency
        }));
        metrics.push(histogram(REQUEST_CLIENT, &series, &attrs, at, |s| {
            &s.client_latency
        }));
        Some(request(metrics))
    }
}

#[derive(Clone, Copy)]
struct Stamp {
    start: u64,
    time: u64,
}

fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Default::default()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: SCOPE_NAME.into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;

/// A cumulative monotonic sum of `value` over the series where it is not 0.
fn sum(
    name: &str,
    series: &[&Series],
    attrs: &[Vec<KeyValue>],
    at: Stamp,
    value: impl Fn(&Series) -> u64,
) -> Metric {
    let data_points = series
        .iter()
        .zip(attrs)
        .filter(|(s, _)| value(s) > 0)
        .map(|(s, a)| NumberDataPoint {
            attributes: a.clone(),
            start_time_unix_nano: at.start,
            time_unix_nano: at.time,
            value: Some(number_data_point::Value::AsInt(value(s) as i64)),
            ..Default::default()
        })
        .collect();
    Metric {
        name: name.into(),
        data: Some(metric::Data::Sum(Sum {
            data_points,
            aggregation_temporality: CUMULATIVE,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

/// A cumulative latency histogram in seconds, explicit or exponential as configured.
fn histogram(
    name: &str,
    series: &[&Series],
    attrs: &[Vec<KeyValue>],
    at: Stamp,
    pick: impl Fn(&Series) -> &Histogram,
) -> Metric {
    let mut explicit = Vec::new();
    let mut exponential = Vec::new();
    for (s, attributes) in series.iter().zip(attrs) {
        let attributes = attributes.clone();
        match pick(s) {
            Histogram::Explicit(h) => explicit.push(HistogramDataPoint {
                attributes,
                start_time_unix_nano: at.start,
                time_unix_nano: at.time,
                ..h.point()
            }),
            Histogram::Exponential(h) => exponential.push(ExponentialHistogramDataPoint {
                attributes,
                start_time_unix_nano: at.start,
                time_unix_nano: at.time,
                ..h.point()
            }),
        }
    }
    let data = match exponential.is_empty() {
        true => metric::Data::Histogram(OtlpHistogram {
            data_points: explicit,
            aggregation_temporality: CUMULATIVE,
        }),
        false => metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: exponential,
            aggregation_temporality: CUMULATIVE,
        }),
    };
    Metric {
        name: name.into(),
        unit: "s".into(),
        data: Some(data),
        ..Default::default()
    }
}
