//! The `host_metrics` receiver (alias `hostmetrics`): otelcol's hostmetrics receiver on
//! Linux. Every `collection_interval` (after `initial_delay`) it runs its scrapers (`cpu`,
//! `disk`, `filesystem`, `load`, `memory`, `network`, `paging`, `processes`, `process`,
//! `system`), which read `/proc`, `/etc/passwd` and `statvfs` under `root_path`, and pushes
//! one OTLP metrics request holding each scraper's resource (one per process for `process`)
//! with otelcol's metric names, units, attributes, enabled-by-default set and scope names
//! (`github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/<name>scraper`).
//! Cumulative sums start at boot (at the process's start for `process`). A scraper's error
//! (an unreadable file, one process gone) is logged and the rest of the scrape is sent.
//!
//! Self-metrics, as otelcol: `otelcol_receiver_accepted_metric_points` and
//! `otelcol_receiver_refused_metric_points`; plus
//! `ferrotel_receiver_host_metrics_processes_dropped` (processes beyond the per-scrape bound).
//!
//! ```yaml
//! receivers:
//!   host_metrics:
//!     collection_interval: 10s
//!     scrapers:
//!       cpu:
//!       memory:
//!         metrics:
//!           system.memory.utilization: { enabled: true }
//!       load: { cpu_average: true }
//!       filesystem:
//!         exclude_mount_points: { mount_points: ["/snap/.*"], match_type: regexp }
//!       network:
//!       process:
//!         mute_process_exe_error: true
//! service:
//!   pipelines:
//!     metrics: { receivers: [host_metrics], exporters: [debug] }
//! ```

pub mod config;
pub mod cpu;
pub mod disk;
pub mod filesystem;
pub mod filter;
pub mod load;
pub mod memory;
pub mod metrics;
pub mod network;
pub mod paging;
pub mod process;
pub mod process_proc;
pub mod processes;
pub mod sys;
pub mod system;

pub use config::HostMetricsConfig;

use ferrotel_config::ConfigErrors;
use ferrotel_core::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_core::proto::metrics::v1::ResourceMetrics;
use ferrotel_core::telemetry::Counter;
use ferrotel_core::{
    Consumer, CreateContext, Factory, FactoryInfo, Receiver, ReceiverContext, Signal, Stability,
    StartError,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sys::Root;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a scraper sees of one scrape.
pub struct ScrapeCtx<'a> {
    pub root: &'a Root,
    /// This scrape's time, Unix nanoseconds.
    pub now_ns: u64,
    /// Boot time, Unix nanoseconds: the start of cumulative sums.
    pub boot_ns: u64,
}

/// One scraper: appends its resources to `out` and returns its errors (the scrape goes on).
pub trait Scraper: Send {
    fn scrape(&mut self, cx: &ScrapeCtx<'_>, out: &mut Vec<ResourceMetrics>) -> Vec<String>;
    /// Items left out by a bound since last asked.
    fn take_dropped(&mut self) -> u64 {
        0
    }
}

/// Builds the configured scrapers, in otelcol's name order.
pub fn scrapers(c: &config::Scrapers) -> Result<Vec<Box<dyn Scraper>>, String> {
    let mut out: Vec<Box<dyn Scraper>> = vec![];
    if let Some(c) = &c.cpu {
        out.push(Box::new(cpu::CpuScraper::new(c)));
    }
    if let Some(c) = &c.disk {
        out.push(Box::new(disk::DiskScraper::new(c)?));
    }
    if let Some(c) = &c.filesystem {
        out.push(Box::new(filesystem::FilesystemScraper::new(c)?));
    }
    if let Some(c) = &c.load {
        out.push(Box::new(load::LoadScraper::new(c)));
    }
    if let Some(c) = &c.memory {
        out.push(Box::new(memory::MemoryScraper::new(c)));
    }
    if let Some(c) = &c.network {
        out.push(Box::new(network::NetworkScraper::new(c)?));
    }
    if let Some(c) = &c.paging {
        out.push(Box::new(paging::PagingScraper::new(c)));
    }
    if let Some(c) = &c.processes {
        out.push(Box::new(processes::ProcessesScraper::new(c)));
    }
    if let Some(c) = &c.process {
        out.push(Box::new(process::ProcessScraper::new(c)?));
    }
    if let Some(c) = &c.system {
        out.push(Box::new(system::SystemScraper::new(c)));
    }
    Ok(out)
}

/// Runs every scraper once: the request to push, the errors, the items dropped by bounds.
pub fn scrape_all(
    scrapers: &mut [Box<dyn Scraper>],
    root: &Root,
) -> (ExportMetricsServiceRequest, Vec<String>, u64) {
    let now_ns = sys::now_ns();
    let (boot_ns, mut errors) = match sys::boot_time(root) {
        Ok(b) => (b * 1_000_000_000, vec![]),
        Err(e) => (0, vec![format!("failed to get boot time: {e}")]),
    };
    let cx = ScrapeCtx {
        root,
        now_ns,
        boot_ns,
    };
    let mut resource_metrics = vec![];
    let mut dropped = 0;
    for s in scrapers.iter_mut() {
        errors.extend(s.scrape(&cx, &mut resource_metrics));
        dropped += s.take_dropped();
    }
    let req = ExportMetricsServiceRequest { resource_metrics };
    (req, errors, dropped)
}

/// Creates `host_metrics` receivers.
pub struct HostMetricsReceiverFactory;

impl Factory for HostMetricsReceiverFactory {
    type Config = HostMetricsConfig;
    type Component = Box<dyn Receiver>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "host_metrics",
            "Scrapes host metrics from /proc (otelcol's hostmetrics receiver, Linux)",
        )
        .aliases(&["hostmetrics"])
        .signal(Signal::Metrics, Stability::Beta)
        .example("scrapers: {cpu: {}, memory: {}, load: {}, filesystem: {}, network: {}}")
    }

    fn create(
        &self,
        ctx: &CreateContext,
        config: HostMetricsConfig,
    ) -> Result<Box<dyn Receiver>, ConfigErrors> {
        if let Err(e) = scrapers(&config.scrapers) {
            ctx.error_at("scrapers", e);
        }
        Ok(Box::new(HostMetricsReceiver {
            config,
            stop: CancellationToken::new(),
            task: None,
            root_claim: None,
        }))
    }
}

/// The root paths of running receivers: otelcol requires one root path per collector.
static ROOT_PATHS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Claims `root` for a receiver; refused when another running receiver uses another one.
fn claim_root(root: &str) -> Result<(), String> {
    if root.is_empty() || root == "/" {
        return Ok(());
    }
    let mut roots = ROOT_PATHS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(other) = roots.iter().find(|r| *r != root) {
        return Err(format!(
            "inconsistent root_path configuration detected between hostmetricsreceivers: `{other}` != `{root}`"
        ));
    }
    roots.push(root.to_string());
    Ok(())
}

fn release_root(root: &str) {
    let mut roots = ROOT_PATHS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = roots.iter().position(|r| r == root) {
        roots.swap_remove(i);
    }
}

/// The receiver: one task that scrapes every interval.
pub struct HostMetricsReceiver {
    config: HostMetricsConfig,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    root_claim: Option<String>,
}

/// What the scrape task pushes with.
struct Sink {
    receiver: String,
    consumer: Option<Arc<dyn Consumer>>,
    accepted: Counter,
    refused: Counter,
    dropped: Counter,
}

#[async_trait::async_trait]
impl Receiver for HostMetricsReceiver {
    async fn start(&mut self, ctx: ReceiverContext) -> Result<(), StartError> {
        let fail = |e: String| StartError(format!("host_metrics receiver {}: {e}", ctx.id));
        config::check_root_path(&self.config.root_path).map_err(fail)?;
        let scrapers = scrapers(&self.config.scrapers).map_err(fail)?;
        claim_root(&self.config.root_path).map_err(fail)?;
        self.root_claim = Some(self.config.root_path.clone());
        let receiver = ctx.id.to_string();
        let labels = [("receiver", receiver.as_str()), ("transport", "")];
        let t = &ctx.telemetry;
        let sink = Sink {
            consumer: ctx.consumers.metrics.clone(),
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
            dropped: t.counter(
                "ferrotel_receiver_host_metrics_processes_dropped",
                "Processes not reported because a scrape reached its bound of processes.",
                &[("receiver", receiver.as_str())],
            ),
            receiver,
        };
        self.stop = ctx.shutdown.child_token();
        let run = Run {
            root: Root::new(&self.config.root_path),
            interval: self.config.collection_interval.0,
            initial_delay: self.config.initial_delay.0,
            timeout: self.config.timeout.0,
        };
        self.task = Some(tokio::spawn(run.scrape_loop(
            scrapers,
            sink,
            self.stop.clone(),
        )));
        Ok(())
    }

    async fn shutdown(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        if let Some(root) = self.root_claim.take() {
            release_root(&root);
        }
    }
}

/// The scrape task's settings.
struct Run {
    root: Root,
    interval: Duration,
    initial_delay: Duration,
    timeout: Duration,
}

impl Run {
    async fn scrape_loop(
        self,
        mut scrapers: Vec<Box<dyn Scraper>>,
        sink: Sink,
        stop: CancellationToken,
    ) {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(self.initial_delay) => {}
        }
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let root = self.root.clone();
            let job = tokio::task::spawn_blocking(move || {
                let r = scrape_all(&mut scrapers, &root);
                (scrapers, r)
            });
            let Ok((back, (req, errors, dropped))) = job.await else {
                tracing::error!(receiver = %sink.receiver, "host metrics scrape panicked");
                return;
            };
            scrapers = back;
            sink.dropped.add(dropped);
            if !errors.is_empty() {
                log_errors(&sink.receiver, &errors);
            }
            let push = sink.push(req);
            if self.timeout.is_zero() {
                push.await;
            } else if tokio::time::timeout(self.timeout, push).await.is_err() {
                tracing::warn!(receiver = %sink.receiver, "pushing host metrics timed out");
            }
        }
    }
}

/// otelcol logs a scrape's errors as one warning; at most 10 are spelled out.
fn log_errors(receiver: &str, errors: &[String]) {
    let shown: Vec<&str> = errors.iter().take(10).map(String::as_str).collect();
    let more = errors.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    tracing::warn!(receiver = %receiver, "Error scraping metrics: {}{more}", shown.join("; "));
}

impl Sink {
    async fn push(&self, req: ExportMetricsServiceRequest) {
        if req.resource_metrics.is_empty() {
            return;
        }
        let counters = (&self.accepted, &self.refused);
        let sent =
            crate::send_scraped_metrics(self.consumer.as_ref(), &self.receiver, "", req, counters);
        if let Err(e) = sent.await {
            tracing::warn!(receiver = %self.receiver, "pipeline refused host metrics: {e}");
        }
    }
}

#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod tests;
