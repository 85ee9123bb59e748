//! The `prometheus` receiver: scrapes Prometheus and OpenMetrics text endpoints as a
//! Prometheus server would (its `config:` is Prometheus's configuration format, see
//! [`config`]) and turns the samples into OTLP metrics as otelcol-contrib's prometheus
//! receiver does (see [`convert`]). Each scrape config has a task that keeps its targets
//! ([`discovery`]: `static_configs`, `file_sd_configs`) and one scrape task per target
//! ([`scrape`]). Every scrape also yields Prometheus's `up`, `scrape_duration_seconds`,
//! `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling` and
//! `scrape_series_added` gauges; a failed scrape (refused connection, timeout, bad status,
//! unparsable body, a body over `body_size_limit`, `sample_limit` or a label limit exceeded)
//! gives `up` 0 and marks the series of the previous scrape stale (points flagged "no
//! recorded value"); other targets are unaffected.
//!
//! Self-metrics, as otelcol: `otelcol_receiver_accepted_metric_points` and
//! `otelcol_receiver_refused_metric_points` with `receiver` and `transport="http"`; plus
//! `ferrotel_receiver_prometheus_start_time_cache_overflow` (series whose start time could
//! not be remembered) and `ferrotel_receiver_prometheus_untracked_series` (series beyond the
//! staleness tracking bound).
//!
//! ```yaml
//! receivers:
//!   prometheus:
//!     config:
//!       scrape_configs:
//!         - job_name: otel-collector
//!           scrape_interval: 10s
//!           static_configs:
//!             - targets: ['0.0.0.0:8888']
//! service:
//!   pipelines:
//!     metrics: { receivers: [prometheus], exporters: [debug] }
//! ```

pub mod adjust;
pub mod config;
pub mod convert;
pub mod discovery;
pub mod parse;
pub mod relabel;
pub mod rows;
pub mod scrape;

pub use config::PrometheusConfig;

use adjust::StartTimes;
use config::Job;
use convert::{MetaLookup, Settings};
use discovery::Target;
use ferrotel_config::ConfigErrors;
use ferrotel_core::telemetry::Counter;
use ferrotel_core::{
    Consumer, CreateContext, Factory, FactoryInfo, Receiver, ReceiverContext, Signal, Stability,
    StartError,
};
use rows::{Row, SeriesState};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Creates `prometheus` receivers.
pub struct PrometheusReceiverFactory;

impl Factory for PrometheusReceiverFactory {
    type Config = PrometheusConfig;
    type Component = Box<dyn Receiver>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "prometheus",
            "Scrapes Prometheus and OpenMetrics endpoints (Prometheus's scrape configuration)",
        )
        .signal(Signal::Metrics, Stability::Beta)
        .example(
            "config: {scrape_configs: [{job_name: self, static_configs: [{targets: ['127.0.0.1:8888']}]}]}",
        )
    }

    fn create(
        &self,
        _ctx: &CreateContext,
        config: PrometheusConfig,
    ) -> Result<Box<dyn Receiver>, ConfigErrors> {
        Ok(Box::new(PrometheusReceiver::new(config)))
    }
}

/// The receiver: one task per scrape config, which runs one task per target.
pub struct PrometheusReceiver {
    config: PrometheusConfig,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl PrometheusReceiver {
    pub fn new(config: PrometheusConfig) -> Self {
        PrometheusReceiver {
            config,
            stop: CancellationToken::new(),
            tasks: vec![],
        }
    }
}

/// What every scrape task of a receiver shares.
struct Shared {
    receiver: String,
    consumer: Option<Arc<dyn Consumer>>,
    settings: Settings,
    extra_metrics: bool,
    accepted: Counter,
    refused: Counter,
    cache_overflow: Counter,
    untracked: Counter,
}

/// A scrape config ready to run: its job, HTTP client and `Authorization` header.
struct JobRun {
    job: Job,
    client: reqwest::Client,
    auth: Option<String>,
}

#[async_trait::async_trait]
impl Receiver for PrometheusReceiver {
    async fn start(&mut self, ctx: ReceiverContext) -> Result<(), StartError> {
        let shared = Arc::new(self.shared(&ctx)?);
        let Some(prom) = &self.config.config else {
            return Err(StartError(format!(
                "prometheus receiver {}: no Prometheus scrape_configs or target_allocator set",
                ctx.id
            )));
        };
        let configs = prom.all_scrape_configs().map_err(|e| {
            StartError(format!(
                "prometheus receiver {}: scrape_config_files: {e}",
                ctx.id
            ))
        })?;
        let mut runs = vec![];
        for sc in &configs {
            let fail = |e: String| {
                StartError(format!(
                    "prometheus receiver {}: job {:?}: {e}",
                    ctx.id, sc.job_name
                ))
            };
            let job = sc.resolve(&prom.global).map_err(fail)?;
            let client = scrape::client(sc).map_err(|e| fail(e.to_string()))?;
            let auth = scrape::authorization(sc).map_err(fail)?;
            runs.push(JobRun { job, client, auth });
        }
        self.stop = ctx.shutdown.child_token();
        for run in runs {
            let (shared, stop) = (shared.clone(), self.stop.clone());
            self.tasks
                .push(tokio::spawn(manage_job(Arc::new(run), shared, stop)));
        }
        Ok(())
    }

    async fn shutdown(&mut self) {
        self.stop.cancel();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl PrometheusReceiver {
    fn shared(&self, ctx: &ReceiverContext) -> Result<Shared, StartError> {
        let receiver = ctx.id.to_string();
        let labels = [("receiver", receiver.as_str()), ("transport", "http")];
        let t = &ctx.telemetry;
        let start_time_metric = if self.config.use_start_time_metric {
            let re = match self.config.start_time_metric_regex.as_str() {
                "" => config::DEFAULT_START_TIME_METRIC_REGEX,
                r => r,
            };
            Some(regex::Regex::new(re).map_err(|e| {
                StartError(format!(
                    "prometheus receiver {receiver}: start_time_metric_regex: {e}"
                ))
            })?)
        } else {
            None
        };
        let own = [("receiver", receiver.as_str())];
        Ok(Shared {
            consumer: ctx.consumers.metrics.clone(),
            settings: Settings {
                trim_suffixes: self.config.trim_metric_suffixes,
                start_time_metric,
                scope_version: env!("CARGO_PKG_VERSION").to_string(),
            },
            extra_metrics: self.config.report_extra_scrape_metrics,
            accepted: t.counter(
                "otelcol_receiver_accepted_metric_points",
                "Number of metric points successfully pushed into the pipeline.",
                &labels,
            ),
            refused: t.counter(
                "otelcol_receiver_refused_metric_points",
                "Number of metric points that could not be pushed into the pipeline.",
                &labels,
            ),
            cache_overflow: t.counter(
                "ferrotel_receiver_prometheus_start_time_cache_overflow",
                "Series whose start time could not be remembered (cache full): they start at each point.",
                &own,
            ),
            untracked: t.counter(
                "ferrotel_receiver_prometheus_untracked_series",
                "Series not tracked for staleness (bound reached).",
                &own,
            ),
            receiver,
        })
    }
}

/// Keeps a job's targets running: each new target gets a scrape task, a target gone is
/// stopped (its series marked stale). Static targets are computed once; with file SD, again
/// every refresh interval.
async fn manage_job(run: Arc<JobRun>, shared: Arc<Shared>, stop: CancellationToken) {
    let refresh = run
        .job
        .cfg
        .file_sd_configs
        .iter()
        .map(|f| f.refresh_interval.0)
        .min();
    let mut running: HashMap<Target, (CancellationToken, JoinHandle<()>)> = HashMap::new();
    loop {
        let job = run.clone();
        let targets = tokio::task::spawn_blocking(move || discovery::targets(&job.job))
            .await
            .unwrap_or_default();
        running.retain(|t, (token, _)| {
            let keep = targets.contains(t);
            if !keep {
                token.cancel();
            }
            keep
        });
        for t in targets {
            if running.contains_key(&t) {
                continue;
            }
            let token = stop.child_token();
            let task = tokio::spawn(scrape_loop(
                run.clone(),
                t.clone(),
                shared.clone(),
                token.clone(),
                stop.clone(),
            ));
            running.insert(t, (token, task));
        }
        let wait = refresh.unwrap_or(Duration::MAX).max(Duration::from_secs(1));
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    for (_, (_, task)) in running {
        let _ = task.await;
    }
}

/// Per-target state between scrapes.
struct TargetState {
    series: SeriesState,
    starts: StartTimes,
}

/// Scrapes one target every interval until stopped; a target removed (not the collector
/// stopping) has its series marked stale.
async fn scrape_loop(
    run: Arc<JobRun>,
    target: Target,
    shared: Arc<Shared>,
    token: CancellationToken,
    shutdown: CancellationToken,
) {
    let interval = run.job.interval;
    tokio::select! {
        _ = token.cancelled() => return,
        _ = tokio::time::sleep(scrape::offset(&target, interval)) => {}
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut st = TargetState {
        series: SeriesState::default(),
        starts: StartTimes::new(interval),
    };
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = ticker.tick() => scrape_once(&run, &target, &shared, &mut st).await,
        }
    }
    if !shutdown.is_cancelled() {
        // A target gone: its series and its scrape gauges end with staleness markers.
        let ts_ms = now_ms();
        let mut rows = st.series.failed_scrape(ts_ms);
        let gone = Report {
            up: false,
            duration: Duration::ZERO,
            scraped: 0,
            post_relabel: 0,
            series_added: 0,
            body_bytes: 0,
        };
        rows.extend(
            report_rows(&run, &target, &gone, ts_ms, shared.extra_metrics)
                .into_iter()
                .map(|r| Row {
                    value: f64::NAN,
                    stale: true,
                    ..r
                }),
        );
        let previous = std::mem::take(&mut st.series.meta);
        let meta = MetaLookup {
            current: &HashMap::new(),
            previous: &previous,
        };
        send(&shared, &rows, &meta, &target, &mut st).await;
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The synthetic gauges of one scrape, with the target's and the external labels.
struct Report {
    up: bool,
    duration: Duration,
    scraped: usize,
    post_relabel: usize,
    series_added: usize,
    body_bytes: usize,
}

fn report_rows(run: &JobRun, target: &Target, r: &Report, ts_ms: i64, extra: bool) -> Vec<Row> {
    let mut labels = target.labels.clone();
    for (k, v) in &run.job.external_labels {
        relabel::set(&mut labels, k, v.clone());
    }
    let mut values = vec![
        ("up", if r.up { 1.0 } else { 0.0 }),
        ("scrape_duration_seconds", r.duration.as_secs_f64()),
        ("scrape_samples_scraped", r.scraped as f64),
        (
            "scrape_samples_post_metric_relabeling",
            r.post_relabel as f64,
        ),
        ("scrape_series_added", r.series_added as f64),
    ];
    if extra {
        values.push(("scrape_timeout_seconds", run.job.timeout.as_secs_f64()));
        values.push(("scrape_sample_limit", run.job.sample_limit as f64));
        values.push(("scrape_body_size_bytes", r.body_bytes as f64));
    }
    values
        .into_iter()
        .map(|(name, value)| Row {
            name: name.into(),
            labels: labels.clone(),
            value,
            ts_ms,
            stale: false,
            own_ts: false,
        })
        .collect()
}

/// One scrape: fetch, append, convert, push.
async fn scrape_once(run: &JobRun, target: &Target, shared: &Shared, st: &mut TargetState) {
    let ts_ms = now_ms();
    let began = Instant::now();
    let fetched = tokio::time::timeout(
        run.job.timeout,
        scrape::fetch(&run.client, &run.job, target, run.auth.as_deref()),
    )
    .await
    .unwrap_or_else(|_| Err(format!("Get {:?}: context deadline exceeded", target.url)));
    // A body read but refused (a limit) still reports how many samples and bytes it had.
    let (mut scraped, mut body_bytes) = (0, 0);
    let appended = fetched.and_then(|s| {
        (scraped, body_bytes) = (s.exposition.samples.len(), s.body_bytes);
        let rows = rows::append(&run.job, target, &s.exposition, ts_ms)?;
        Ok((s, rows))
    });
    let mut report = Report {
        up: appended.is_ok(),
        duration: began.elapsed(),
        scraped,
        post_relabel: 0,
        series_added: 0,
        body_bytes,
    };
    let empty = HashMap::new();
    let (mut rows, current, previous) = match appended {
        Ok((s, mut rows)) => {
            report.post_relabel = rows.len();
            let (added, previous) = st.series.good_scrape(&mut rows, &s.exposition.meta, ts_ms);
            report.series_added = added;
            (rows, s.exposition.meta, previous)
        }
        Err(e) => {
            tracing::warn!(receiver = %shared.receiver, target = %target.url, "Failed to scrape Prometheus endpoint: {e}");
            let rows = st.series.failed_scrape(ts_ms);
            (rows, empty, st.series.meta.clone())
        }
    };
    rows.extend(report_rows(
        run,
        target,
        &report,
        ts_ms,
        shared.extra_metrics,
    ));
    let meta = MetaLookup {
        current: &current,
        previous: &previous,
    };
    send(shared, &rows, &meta, target, st).await;
}

/// Converts and pushes a scrape's rows, counting points accepted or refused.
async fn send(
    shared: &Shared,
    rows: &[Row],
    meta: &MetaLookup<'_>,
    target: &Target,
    st: &mut TargetState,
) {
    let before = st.starts.overflow;
    let built = convert::build(rows, meta, target, &shared.settings, &mut st.starts);
    shared.cache_overflow.add(st.starts.overflow - before);
    shared
        .untracked
        .add(std::mem::take(&mut st.series.untracked));
    let req = match built {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(receiver = %shared.receiver, target = %target.url, "{e}");
            shared.refused.add(rows.len() as u64);
            return;
        }
    };
    let counters = (&shared.accepted, &shared.refused);
    let sent = crate::send_scraped_metrics(
        shared.consumer.as_ref(),
        &shared.receiver,
        "http",
        req,
        counters,
    );
    if let Err(e) = sent.await {
        tracing::debug!(receiver = %shared.receiver, "pipeline refused scraped metrics: {e}");
    }
}

#[cfg(test)]
mod tests;
