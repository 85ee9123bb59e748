//! From a parsed body to the samples Prometheus would append: target labels merged
//! (`honor_labels`), `metric_relabel_configs`, the label and sample limits, timestamps
//! (`honor_timestamps`), external labels, and staleness: series of the previous scrape that
//! are missing now (or every series, when a scrape fails) come back as stale rows.
//!
//! ```yaml
//! honor_labels: false        # a scraped `job` becomes `exported_job`
//! sample_limit: 1000         # more samples after relabeling: the scrape fails
//! metric_relabel_configs:
//!   - {source_labels: [__name__], regex: 'go_gc_.*', action: drop}
//! ```

use super::config::Job;
use super::discovery::Target;
use super::parse::{Exposition, Meta};
use super::relabel::{process, set, Labels};
use std::collections::{HashMap, HashSet};

/// One sample as appended (after relabeling).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    /// Without `__name__`, sorted.
    pub labels: Labels,
    pub value: f64,
    pub ts_ms: i64,
    /// A staleness marker: the series is gone.
    pub stale: bool,
    /// The sample carried its own (honored) timestamp: not tracked for staleness.
    pub own_ts: bool,
}

/// How many distinct series a target's staleness tracking remembers (beyond: not tracked).
pub const MAX_TRACKED_SERIES: usize = 200_000;

/// A target's series between scrapes (for staleness and `scrape_series_added`).
#[derive(Debug, Default)]
pub struct SeriesState {
    last: HashSet<(String, Labels)>,
    /// Metadata of the last good scrape, for the stale rows' types.
    pub meta: HashMap<String, Meta>,
    /// Series that could not be tracked because of [`MAX_TRACKED_SERIES`].
    pub untracked: u64,
}

/// Builds the rows of a scrape; Err: the scrape fails (a limit was exceeded).
pub fn append(
    job: &Job,
    target: &Target,
    exp: &Exposition,
    scrape_ms: i64,
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::with_capacity(exp.samples.len());
    for s in &exp.samples {
        let mut labels = merge(&s.labels, &target.labels, job.cfg.honor_labels);
        set(&mut labels, "__name__", s.name.clone());
        let Some(mut labels) = process(labels, &job.metric_relabel) else {
            continue;
        };
        check_limits(job, &labels)?;
        let name = take_name(&mut labels);
        // As otelcol's transaction: external labels are set over the sample's own.
        for (k, v) in &job.external_labels {
            set(&mut labels, k, v.clone());
        }
        let (ts_ms, own_ts) = match (job.cfg.honor_timestamps, s.timestamp_ms) {
            (true, Some(t)) => (t, true),
            _ => (scrape_ms, false),
        };
        rows.push(Row {
            name,
            labels,
            value: s.value,
            ts_ms,
            stale: false,
            own_ts,
        });
        if job.sample_limit > 0 && rows.len() as u64 > job.sample_limit {
            return Err("sample_limit exceeded".into());
        }
    }
    Ok(rows)
}

fn take_name(labels: &mut Labels) -> String {
    match labels.iter().position(|(n, _)| n == "__name__") {
        Some(i) => labels.remove(i).1,
        None => String::new(),
    }
}

/// Prometheus's `mutateSampleLabels`: target labels win unless `honor_labels`; a clash
/// renames the scraped label to `exported_<name>`. Empty values are dropped.
fn merge(scraped: &Labels, target: &Labels, honor: bool) -> Labels {
    let mut out: Labels = scraped
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .cloned()
        .collect();
    out.sort();
    for (k, v) in target {
        let clash = out.iter().any(|(n, _)| n == k);
        if clash && honor {
            continue;
        }
        if clash {
            let mut name = format!("exported_{k}");
            while out.iter().any(|(n, _)| *n == name) {
                name = format!("exported_{name}");
            }
            let old = out.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if let Some(old) = old {
                set(&mut out, &name, old);
            }
        }
        set(&mut out, k, v.clone());
    }
    out
}

fn check_limits(job: &Job, labels: &Labels) -> Result<(), String> {
    if job.label_limit > 0 && labels.len() as u64 > job.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {}, number of labels: {}, limit: {})",
            name_of(labels),
            labels.len(),
            job.label_limit
        ));
    }
    for (n, v) in labels {
        if job.label_name_length_limit > 0 && n.len() as u64 > job.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {}, label name: {n}, limit: {})",
                name_of(labels),
                job.label_name_length_limit
            ));
        }
        if job.label_value_length_limit > 0 && v.len() as u64 > job.label_value_length_limit {
            return Err(format!(
                "label_value_length_limit exceeded (metric: {}, label name: {n}, value: {v:?}, limit: {})",
                name_of(labels),
                job.label_value_length_limit
            ));
        }
    }
    Ok(())
}

fn name_of(labels: &Labels) -> &str {
    labels
        .iter()
        .find(|(n, _)| n == "__name__")
        .map_or("", |(_, v)| v.as_str())
}

impl SeriesState {
    /// Records a good scrape's rows: appends stale rows for the series that disappeared and
    /// returns the number of series new since the last scrape, with the previous scrape's
    /// metadata (the stale rows' types). Rows with their own timestamp are not tracked (as
    /// Prometheus without `track_timestamps_staleness`).
    pub fn good_scrape(
        &mut self,
        rows: &mut Vec<Row>,
        meta: &HashMap<String, Meta>,
        scrape_ms: i64,
    ) -> (usize, HashMap<String, Meta>) {
        let mut now: HashSet<(String, Labels)> = HashSet::with_capacity(rows.len());
        let mut added = 0;
        for r in rows.iter().filter(|r| !r.own_ts) {
            let key = (r.name.clone(), r.labels.clone());
            if !self.last.contains(&key) {
                added += 1;
            }
            if now.len() < MAX_TRACKED_SERIES {
                now.insert(key);
            } else {
                self.untracked += 1;
            }
        }
        let old = std::mem::replace(&mut self.last, now);
        let stale: Vec<Row> = old
            .into_iter()
            .filter(|k| !self.last.contains(k))
            .map(|(name, labels)| stale_row(name, labels, scrape_ms))
            .collect();
        rows.extend(stale);
        (added, std::mem::replace(&mut self.meta, meta.clone()))
    }

    /// A failed scrape: every remembered series becomes a stale row.
    pub fn failed_scrape(&mut self, scrape_ms: i64) -> Vec<Row> {
        std::mem::take(&mut self.last)
            .into_iter()
            .map(|(name, labels)| stale_row(name, labels, scrape_ms))
            .collect()
    }
}

fn stale_row(name: String, labels: Labels, ts_ms: i64) -> Row {
    Row {
        name,
        labels,
        value: f64::NAN,
        ts_ms,
        stale: true,
        own_ts: false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::prometheus::config::{GlobalConfig, ScrapeConfig};
    use crate::prometheus::discovery::targets;
    use crate::prometheus::parse::{parse, Format};

    fn job(yaml: &str) -> (Job, Target) {
        let sc: ScrapeConfig = serde_yaml_ng::from_str(yaml).unwrap();
        let mut g = GlobalConfig::default();
        g.external_labels.insert("cluster".into(), "c1".into());
        let j = sc.resolve(&g).unwrap();
        let t = targets(&j).remove(0);
        (j, t)
    }

    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn target_labels_win_unless_honored_and_external_labels_override() {
        let body = "m{job=\"x\",a=\"1\",e=\"\",cluster=\"mine\"} 5 1000\n";
        let exp = parse(body, Format::Text).unwrap();
        let (j, t) = job("job_name: j\nstatic_configs: [{targets: ['h:1']}]\n");
        let rows = append(&j, &t, &exp, 9).unwrap();
        assert_eq!(
            rows[0].labels,
            l(&[
                ("a", "1"),
                ("cluster", "c1"),
                ("exported_job", "x"),
                ("instance", "h:1"),
                ("job", "j")
            ])
        );
        assert_eq!(rows[0].ts_ms, 1000);
        let (j, t) = job("job_name: j\nhonor_labels: true\nhonor_timestamps: false\nstatic_configs: [{targets: ['h:1']}]\n");
        let rows = append(&j, &t, &exp, 9).unwrap();
        assert_eq!(rows[0].labels[3], ("job".into(), "x".into()));
        assert_eq!(rows[0].ts_ms, 9);
    }

    #[test]
    fn metric_relabeling_and_limits() {
        let exp = parse("a 1\nb 2\nc{x=\"long\"} 3\n", Format::Text).unwrap();
        let (j, t) = job("job_name: j\nstatic_configs: [{targets: ['h:1']}]\nmetric_relabel_configs: [{source_labels: [__name__], regex: b, action: drop}]\n");
        let rows = append(&j, &t, &exp, 0).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        let (j, t) = job("job_name: j\nsample_limit: 2\nstatic_configs: [{targets: ['h:1']}]\n");
        assert_eq!(
            append(&j, &t, &exp, 0).unwrap_err(),
            "sample_limit exceeded"
        );
        let (j, t) =
            job("job_name: j\nlabel_value_length_limit: 3\nstatic_configs: [{targets: ['h:1']}]\n");
        assert!(append(&j, &t, &exp, 0)
            .unwrap_err()
            .contains("label_value_length_limit"));
        let (j, t) = job("job_name: j\nlabel_limit: 3\nstatic_configs: [{targets: ['h:1']}]\n");
        assert!(append(&j, &t, &exp, 0)
            .unwrap_err()
            .contains("label_limit exceeded"));
    }

    #[test]
    fn vanished_series_and_failed_scrapes_give_stale_rows() {
        let (j, t) = job("job_name: j\nstatic_configs: [{targets: ['h:1']}]\n");
        let mut st = SeriesState::default();
        let exp = parse("a 1\nb 2\n", Format::Text).unwrap();
        let mut rows = append(&j, &t, &exp, 1).unwrap();
        assert_eq!(st.good_scrape(&mut rows, &exp.meta, 1).0, 2);
        let exp = parse("a 1\n", Format::Text).unwrap();
        let mut rows = append(&j, &t, &exp, 2).unwrap();
        assert_eq!(st.good_scrape(&mut rows, &exp.meta, 2).0, 0);
        assert_eq!(rows.len(), 2);
        assert!(rows[1].stale && rows[1].name == "b");
        let stale = st.failed_scrape(3);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].name, "a");
        assert!(st.failed_scrape(4).is_empty());
    }
}
