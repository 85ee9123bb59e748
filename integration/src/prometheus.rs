//! A real Prometheus server (the Debian package, installed by scripts/setup-test-deps) on
//! loopback, with its HTTP query API: for tests that check what ferrotel exposes the way
//! Prometheus, Grafana and Jaeger's Monitor tab read it.

use crate::{eventually, http_get};
use serde_json::Value as Json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A Prometheus server on `127.0.0.1:port` with a config of the test's; killed on drop.
pub struct Prometheus {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus with `config` (its text) and waits until it is ready.
    pub fn start(config: &str, port: u16) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, config).expect("prometheus.yml");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg("--storage.tsdb.retention.time=30d")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("prometheus cannot run ({e}): run scripts/setup-test-deps"));
        let p = Prometheus { child, port, dir };
        assert!(
            eventually(Duration::from_secs(30), || {
                matches!(
                    http_get::blocking_get(&format!("http://127.0.0.1:{port}/-/ready")),
                    Ok(200)
                )
            }),
            "prometheus not ready: {}",
            p.log()
        );
        p
    }

    /// What Prometheus logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// A GET of the HTTP API (`/api/v1/...`), as JSON (`Null` if it did not answer).
    pub fn api(&self, path: &str) -> Json {
        let text = http_get::blocking_text(&format!("http://127.0.0.1:{}{path}", self.port))
            .unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(Json::Null)
    }

    /// The result vector of an instant query (`Err` with Prometheus's error if it failed).
    pub fn query(&self, q: &str) -> Result<Vec<Json>, String> {
        let r = self.api(&format!("/api/v1/query?query={}", urlencode(q)));
        if r["status"] != "success" {
            return Err(format!("{q}: {r}"));
        }
        Ok(r["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// The value of the first series of an instant query; NaN if there is none.
    pub fn value(&self, q: &str) -> f64 {
        self.query(q)
            .ok()
            .and_then(|v| v.first().cloned())
            .map_or(f64::NAN, |s| sample_value(&s))
    }
}

/// The value of one series of a query result (`{"metric": .., "value": [t, "v"]}`).
pub fn sample_value(series: &Json) -> f64 {
    series["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query parameter.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The PromQL Jaeger's Monitor tab (SPM) sends to Prometheus for one service, grouped by
/// operation, with a 10m rate window and server spans only (the UI's defaults), built from its
/// `PROMETHEUS_QUERY_*` settings as jaeger-query builds it.
pub struct JaegerSpm {
    /// The calls counter's name (`<namespace>_calls` plus `_total` when normalized).
    pub calls: String,
    /// The latency histogram's bucket series (`<namespace>_duration` plus the unit when
    /// normalized, then `_bucket`).
    pub latency_bucket: String,
}

impl JaegerSpm {
    /// From the settings `PROMETHEUS_QUERY_NAMESPACE`, `..._NORMALIZE_CALLS`,
    /// `..._NORMALIZE_DURATION` and `..._DURATION_UNIT` (`ms` or `s`).
    pub fn new(
        namespace: &str,
        normalize_calls: bool,
        normalize_duration: bool,
        unit: &str,
    ) -> Self {
        let prefix = if namespace.is_empty() {
            String::new()
        } else {
            format!("{namespace}_")
        };
        let unit = if unit == "s" {
            "seconds"
        } else {
            "milliseconds"
        };
        JaegerSpm {
            calls: format!(
                "{prefix}calls{}",
                if normalize_calls { "_total" } else { "" }
            ),
            latency_bucket: if normalize_duration {
                format!("{prefix}duration_{unit}_bucket")
            } else {
                format!("{prefix}duration_bucket")
            },
        }
    }

    fn filter(service: &str) -> String {
        format!(r#"service_name =~ "{service}", span_kind =~ "SPAN_KIND_SERVER""#)
    }

    /// GetCallRates.
    pub fn call_rates(&self, service: &str) -> String {
        let (calls, f) = (&self.calls, Self::filter(service));
        format!("sum(rate({calls}{{{f}}}[10m])) by (service_name,span_name)")
    }

    /// GetErrorRates.
    pub fn error_rates(&self, service: &str) -> String {
        let calls = &self.calls;
        let errors = format!(
            r#"{calls}{{service_name =~ "{service}", status_code = "STATUS_CODE_ERROR", span_kind =~ "SPAN_KIND_SERVER"}}"#
        );
        format!(
            "sum(rate({errors}[10m])) by (service_name,span_name) / {}",
            self.call_rates(service)
        )
    }

    /// GetLatencies at `quantile`.
    pub fn latencies(&self, quantile: f64, service: &str) -> String {
        let (bucket, f) = (&self.latency_bucket, Self::filter(service));
        format!(
            "histogram_quantile({quantile}, sum(rate({bucket}{{{f}}}[10m])) by (service_name,span_name,le))"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::JaegerSpm;

    /// The strings jaeger-query's own tests expect for these settings.
    #[test]
    fn jaeger_spm_queries_are_jaegers() {
        let j = JaegerSpm::new("", true, true, "s");
        assert_eq!(
            j.call_rates("emailservice"),
            r#"sum(rate(calls_total{service_name =~ "emailservice", span_kind =~ "SPAN_KIND_SERVER"}[10m])) by (service_name,span_name)"#
        );
        assert_eq!(
            j.latencies(0.95, "emailservice"),
            r#"histogram_quantile(0.95, sum(rate(duration_seconds_bucket{service_name =~ "emailservice", span_kind =~ "SPAN_KIND_SERVER"}[10m])) by (service_name,span_name,le))"#
        );
        let j = JaegerSpm::new("span_metrics", false, false, "ms");
        assert_eq!(
            j.error_rates("emailservice"),
            r#"sum(rate(span_metrics_calls{service_name =~ "emailservice", status_code = "STATUS_CODE_ERROR", span_kind =~ "SPAN_KIND_SERVER"}[10m])) by (service_name,span_name) / sum(rate(span_metrics_calls{service_name =~ "emailservice", span_kind =~ "SPAN_KIND_SERVER"}[10m])) by (service_name,span_name)"#
        );
    }
}
