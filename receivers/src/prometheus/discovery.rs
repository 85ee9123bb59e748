//! Targets of a scrape config: `static_configs` and `file_sd_configs` groups, turned into
//! scrape targets as Prometheus does (default `job`, `__scheme__`, `__metrics_path__`,
//! `__param_*` labels, then `relabel_configs`, then `instance` from `__address__`, and the
//! `__`-prefixed labels removed).
//!
//! ```yaml
//! file_sd_configs:
//!   - files: ['/etc/prometheus/targets/*.json']   # [{"targets": ["a:9100"], "labels": {"env": "prod"}}]
//!     refresh_interval: 5m
//! ```

use super::config::{Job, StaticConfig};
use super::relabel::{process, set, Labels};
use std::path::Path;

/// One scrape target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The URL scraped.
    pub url: String,
    /// The discovered `__scheme__` (before relabeling), which otelcol reports as `url.scheme`.
    pub scheme: String,
    /// The labels every sample of the target gets (`job`, `instance`, ...), sorted.
    pub labels: Labels,
}

impl Target {
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Prometheus's rule for file SD paths: `*` only in the last element, and a known extension.
pub fn check_pattern(p: &str) -> Result<(), String> {
    let file = p.rsplit('/').next().unwrap_or(p);
    let dir = &p[..p.len() - file.len()];
    let ext_ok = [".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"]
        .iter()
        .any(|e| file.ends_with(e));
    if dir.contains('*') || file.matches('*').count() > 1 || !ext_ok {
        return Err(format!("path name {p:?} is not valid for file discovery"));
    }
    Ok(())
}

/// The files a pattern names now (a missing directory: none).
pub(crate) fn expand(pattern: &str) -> Vec<String> {
    let Some(star) = pattern.find('*') else {
        return vec![pattern.to_string()];
    };
    let slash = pattern[..star].rfind('/').map_or(0, |i| i + 1);
    let dir = if slash == 0 { "." } else { &pattern[..slash] };
    let (prefix, suffix) = (&pattern[slash..star], &pattern[star + 1..]);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.len() >= prefix.len() + suffix.len())
        .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
        .map(|n| format!("{}{n}", &pattern[..slash]))
        .collect();
    out.sort();
    out
}

/// Reads one file SD file: a JSON or YAML list of `{targets, labels}`.
pub fn read_file(path: &str) -> Result<Vec<StaticConfig>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let groups: Vec<StaticConfig> = if path.to_ascii_lowercase().ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| format!("{path}: {e}"))?
    };
    Ok(groups)
}

/// Every target group of a job now: static ones, then those of the SD files (with
/// `__meta_filepath`). Unreadable files are skipped with a warning, as Prometheus does.
pub fn groups(job: &Job) -> Vec<(StaticConfig, Labels)> {
    let mut out: Vec<(StaticConfig, Labels)> = job
        .cfg
        .static_configs
        .iter()
        .map(|g| (g.clone(), vec![]))
        .collect();
    for f in &job.cfg.file_sd_configs {
        for pattern in &f.files {
            for path in expand(pattern) {
                match read_file(&path) {
                    Ok(gs) => out.extend(
                        gs.into_iter()
                            .map(|g| (g, vec![("__meta_filepath".to_string(), path.clone())])),
                    ),
                    Err(e) => tracing::warn!(job = %job.cfg.job_name, "file_sd: {e}"),
                }
            }
        }
    }
    out
}

/// The targets of a job, relabeled, in a stable order without duplicates.
pub fn targets(job: &Job) -> Vec<Target> {
    let mut out = vec![];
    for (group, meta) in groups(job) {
        for addr in &group.targets {
            let mut labels: Labels = meta.clone();
            labels.extend(group.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            labels.push(("__address__".into(), addr.clone()));
            if let Some(t) = populate(job, labels) {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
    }
    out
}

/// Prometheus's `PopulateLabels`: defaults, relabeling, `instance`, URL.
pub fn populate(job: &Job, mut labels: Labels) -> Option<Target> {
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);
    let cfg = &job.cfg;
    let defaults = [
        ("job", cfg.job_name.clone()),
        ("__scheme__", cfg.scheme.clone()),
        ("__metrics_path__", cfg.metrics_path.clone()),
        ("__scrape_interval__", fmt_duration(job.interval)),
        ("__scrape_timeout__", fmt_duration(job.timeout)),
    ];
    for (k, v) in defaults {
        if !labels.iter().any(|(n, _)| n == k) {
            set(&mut labels, k, v);
        }
    }
    for (k, vs) in &cfg.params {
        let name = format!("__param_{k}");
        if let (false, Some(v)) = (labels.iter().any(|(n, _)| *n == name), vs.first()) {
            set(&mut labels, &name, v.clone());
        }
    }
    let discovered_scheme = labels
        .iter()
        .find(|(k, _)| k == "__scheme__")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let labels = process(labels, &job.relabel)?;
    let get = |n: &str| labels.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let addr = get("__address__").filter(|a| !a.is_empty() && !a.contains('/'))?;
    let url_scheme = get("__scheme__").unwrap_or_default();
    let path = get("__metrics_path__").unwrap_or_default();
    let url = build_url(&url_scheme, &addr, &path, job, &labels);
    let instance = get("instance").unwrap_or_else(|| addr.clone());
    let mut public: Labels = labels
        .into_iter()
        .filter(|(n, _)| !n.starts_with("__"))
        .collect();
    set(&mut public, "instance", instance);
    Some(Target {
        url,
        scheme: discovered_scheme,
        labels: public,
    })
}

fn build_url(scheme: &str, addr: &str, path: &str, job: &Job, labels: &Labels) -> String {
    let mut params: Vec<(String, String)> = vec![];
    for (k, vs) in &job.cfg.params {
        let over = labels
            .iter()
            .find(|(n, _)| n.strip_prefix("__param_") == Some(k.as_str()));
        match over {
            Some((_, v)) => params.push((k.clone(), v.clone())),
            None => params.extend(vs.iter().map(|v| (k.clone(), v.clone()))),
        }
    }
    for (n, v) in labels {
        if let Some(k) = n.strip_prefix("__param_") {
            if !job.cfg.params.contains_key(k) {
                params.push((k.to_string(), v.clone()));
            }
        }
    }
    let mut url = format!("{scheme}://{addr}{path}");
    if !params.is_empty() {
        let q: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        url.push('?');
        url.push_str(&q.join("&"));
    }
    url
}

/// Query escaping as Go's `url.QueryEscape`.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Prometheus's duration formatting (`1m`, `10s`, `1m30s`, `500ms`).
pub fn fmt_duration(d: std::time::Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, f) in [
        ("y", 365 * 86_400_000u64),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= f {
            out.push_str(&format!("{}{unit}", ms / f));
            ms %= f;
        }
    }
    out
}

/// Whether a path exists (for tests and checks).
pub fn exists(p: &str) -> bool {
    Path::new(p).exists()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::prometheus::config::{GlobalConfig, ScrapeConfig};

    fn job(yaml: &str) -> Job {
        let sc: ScrapeConfig = serde_yaml_ng::from_str(yaml).unwrap();
        sc.resolve(&GlobalConfig::default()).unwrap()
    }

    #[test]
    fn static_targets_get_job_instance_and_group_labels() {
        let j = job("job_name: j\nparams: {module: [a b]}\nstatic_configs: [{targets: ['h:1'], labels: {env: p}}]\n");
        let t = targets(&j);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].url, "http://h:1/metrics?module=a+b");
        assert_eq!(
            t[0].labels,
            vec![
                ("env".into(), "p".into()),
                ("instance".into(), "h:1".into()),
                ("job".into(), "j".into())
            ]
        );
    }

    #[test]
    fn relabeling_can_drop_targets_and_rewrite_the_address() {
        let j = job(
            "job_name: j\nstatic_configs: [{targets: ['a:1', 'b:2']}]\nrelabel_configs:\n\
             - {source_labels: [__address__], regex: 'b:.*', action: drop}\n\
             - {source_labels: [__address__], target_label: instance, replacement: 'x-$1'}\n\
             - {source_labels: [__address__], regex: '(.*):1', target_label: __address__, replacement: '$1:9'}\n",
        );
        let t = targets(&j);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].url, "http://a:9/metrics");
        assert_eq!(t[0].label("instance"), "x-a:1");
    }

    #[test]
    fn file_sd_reads_json_and_yaml_with_the_file_path() {
        let dir = std::env::temp_dir().join(format!("ferrotel-filesd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.to_str().unwrap();
        std::fs::write(
            format!("{d}/a.json"),
            r#"[{"targets":["x:1"],"labels":{"k":"v"}}]"#,
        )
        .unwrap();
        std::fs::write(format!("{d}/b.yml"), "- targets: ['y:2']\n").unwrap();
        std::fs::write(format!("{d}/c.txt"), "junk").unwrap();
        let j = job(&format!(
            "job_name: f\nfile_sd_configs: [{{files: ['{d}/*.json', '{d}/*.yml']}}]\n\
             relabel_configs: [{{source_labels: [__meta_filepath], target_label: file}}]\n"
        ));
        let t = targets(&j);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].label("k"), "v");
        assert_eq!(t[0].label("file"), format!("{d}/a.json"));
        assert_eq!(t[1].url, "http://y:2/metrics");
        assert!(check_pattern("/a/*.json").is_ok());
        assert!(check_pattern("/a/*/x.json").is_err());
        assert!(check_pattern("/a/x.txt").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn durations_format_as_prometheus() {
        assert_eq!(fmt_duration(std::time::Duration::from_secs(90)), "1m30s");
        assert_eq!(fmt_duration(std::time::Duration::from_millis(500)), "500ms");
    }
}
