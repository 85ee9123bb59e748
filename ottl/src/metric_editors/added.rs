//! The metrics a statement adds while it runs on one metric or data point ([`NewMetrics`]).
//! otelcol appends them to the end of the scope's metric list, where the rest of the statement
//! group visits them in turn; the runner (the transform processor) appends them after the
//! metric being visited, once the group's statements have run on it.

use ferrotel_core::proto::metrics::v1::{metric::Data, Metric, NumberDataPoint};
use ferrotel_core::proto::metrics::v1::{number_data_point, SummaryDataPoint};

/// Which value of a summary's points a pending metric takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SummaryValue {
    Count,
    Sum,
}

/// Metrics added by editors (`copy_metric`, `extract_sum_metric`, ...), in the order added.
#[derive(Debug, Default)]
pub struct NewMetrics {
    metrics: Vec<Metric>,
    /// Metrics whose points come from the visited metric's summary points, filled in
    /// [`NewMetrics::take`]: a data point statement sees its metric without its points.
    from_summary: Vec<(usize, SummaryValue)>,
}

impl NewMetrics {
    /// Adds a finished metric.
    pub fn push(&mut self, m: Metric) {
        self.metrics.push(m);
    }

    /// Adds a sum whose points are the visited summary's counts or sums.
    pub(crate) fn push_from_summary(&mut self, m: Metric, value: SummaryValue) {
        self.from_summary.push((self.metrics.len(), value));
        self.metrics.push(m);
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// The metrics added while `source` was visited (pending points filled from its summary
    /// points, which it has again by then); leaves none behind.
    pub fn take(&mut self, source: &Metric) -> Vec<Metric> {
        let points: &[SummaryDataPoint] = match &source.data {
            Some(Data::Summary(s)) => &s.data_points,
            _ => &[],
        };
        for (at, value) in self.from_summary.drain(..) {
            if let Some(Data::Sum(sum)) = &mut self.metrics[at].data {
                sum.data_points = points.iter().map(|p| summary_point(p, value)).collect();
            }
        }
        std::mem::take(&mut self.metrics)
    }
}

fn summary_point(p: &SummaryDataPoint, value: SummaryValue) -> NumberDataPoint {
    NumberDataPoint {
        attributes: p.attributes.clone(),
        start_time_unix_nano: p.start_time_unix_nano,
        time_unix_nano: p.time_unix_nano,
        value: Some(match value {
            SummaryValue::Count => number_data_point::Value::AsInt(p.count as i64),
            SummaryValue::Sum => number_data_point::Value::AsDouble(p.sum),
        }),
        ..Default::default()
    }
}
