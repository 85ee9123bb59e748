//! `compare`: runs ferrotel and a peer collector (Rotel) on this machine with the same pipeline
//! and load, alternating runs (A B A B ...) so that machine drift cancels, plus a ceiling run (a
//! server that only decodes and drops), and writes `bench/RESULTS.md` and `bench/results.svg`.
//!
//! Per collector and scenario it measures: items/s accepted, items per CPU-second (utime + stime
//! of the collector process over the run, from `/proc/<pid>/stat`), CPU %, peak RSS (`VmHWM`),
//! p99 latency of accepted requests, and the load generator's own CPU. Two scenarios measure
//! ferrotel alone: (g) overload, a flood against a stalled destination under the 512 MiB
//! memory_limiter (what `bench/overload.sh` does), and (s) scaling, pass-through pinned to one
//! and to two cores with `taskset`. Scenarios (j) and (z) send the same spans as Jaeger Thrift
//! over HTTP and as Zipkin v2 JSON to ferrotel's jaeger and zipkin receivers (ferrotel only:
//! Rotel has OTLP receivers only).
//!
//! ```text
//! cargo build --release -p ferrotel -p ferrotel-bench
//! target/release/compare --seconds 10 --rounds 2        # scenarios a..g, r, t, j, z and s, Rotel fetched with pip
//! ```
#![allow(clippy::print_stdout)]

use anyhow::{bail, Context};
use clap::Parser;
use ferrotel_bench::{procfs, server::Totals};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Rotel release compared against (the PyPI wheel carries the binary).
const ROTEL_VERSION: &str = "0.0.1a15";
const BENCH_DIR: &str = env!("CARGO_MANIFEST_DIR");

#[derive(Parser, Debug, Clone)]
#[command(
    name = "compare",
    about = "ferrotel vs Rotel vs ceiling, alternating runs"
)]
struct Args {
    /// Seconds of load per run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Runs per collector and scenario (alternated A B A B ...).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Scenarios to run, comma separated: a (pass-through), b (full pipeline), c (gzip),
    /// d (OTLP/HTTP in), e (steady 10k spans/s), i (the same with the embedded
    /// default config), f (idle), g (overload), m (saturation: a
    /// backend slower than the clients, no memory_limiter), r (full pipeline plus RED metrics
    /// connectors), s (scaling 1 vs 2 cores), j (Jaeger Thrift/HTTP in), z (Zipkin v2 JSON in).
    #[arg(
        long,
        default_value = "a,b,c,d,e,i,f,g,m,r,t,j,z,s",
        value_delimiter = ','
    )]
    scenarios: Vec<String>,
    /// Load generator workers (connections) for the flat-out scenarios.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Spans per request.
    #[arg(long, default_value_t = 100)]
    spans_per_request: usize,
    /// The ferrotel binary (default: `ferrotel` beside this program).
    #[arg(long)]
    ferrotel: Option<PathBuf>,
    /// The rotel-agent binary (default: downloaded with pip into `target/peer`).
    #[arg(long)]
    rotel: Option<PathBuf>,
    /// Skip the peer (ferrotel and ceiling only).
    #[arg(long)]
    no_peer: bool,
    /// First of the loopback ports used (receiver gRPC, receiver HTTP, sink).
    #[arg(long, default_value_t = 24317)]
    base_port: u16,
    /// Where RESULTS.md and results.svg are written.
    #[arg(long, default_value = BENCH_DIR)]
    out_dir: PathBuf,
    /// Where process logs go.
    #[arg(long, default_value = "/tmp/ferrotel-bench")]
    work_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Ferrotel,
    Rotel,
    Ceiling,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::Ferrotel => "ferrotel",
            Who::Rotel => "Rotel",
            Who::Ceiling => "ceiling",
        }
    }
    fn color(self) -> &'static str {
        match self {
            Who::Ferrotel => "#d9480f",
            Who::Rotel => "#1c7ed6",
            Who::Ceiling => "#868e96",
        }
    }
}

/// One line of a scenario's table: a collector, pinned to some CPUs or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    who: Who,
    /// The `taskset -c` CPU list the collector runs on.
    cpus: Option<&'static str>,
}

impl Row {
    fn name(self) -> String {
        match self.cpus {
            Some(cpus) => format!("{} (taskset -c {cpus})", self.who.name()),
            None => self.who.name().to_string(),
        }
    }
    /// A label short enough for the chart's bars: the CPUs stand for the pinned rows.
    fn short_name(self) -> String {
        match self.cpus {
            Some(cpus) => format!("cpu {cpus}"),
            None => self.who.name().to_string(),
        }
    }
    /// A file-name-safe label for logs.
    fn tag(self) -> String {
        match self.cpus {
            Some(cpus) => format!("{}-cpu{}", self.who.name(), cpus.replace(',', "+")),
            None => self.who.name().to_string(),
        }
    }
}

/// The CPU lists of scenario (s).
const ONE_CORE: &str = "0";
const TWO_CORES: &str = "0,1";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Load {
    /// Flat out with `--concurrency` workers.
    FlatOut,
    /// A fixed rate of items per second (10 workers).
    Rate(f64),
    Idle,
    /// A flood of large requests (16 workers, 512 spans of ~2.4 KB, 5 s deadline) while the
    /// collector's destination is stalled; then the destination comes back and, once the
    /// collector has drained its queue, a gentle load ([`GENTLE`]) follows.
    Overload,
    /// Flat out (`--concurrency` workers, 5 s deadline) towards a collector whose destination
    /// acknowledges only [`SLOW_SINK_RATE`] spans per second; then the runner waits for the
    /// backlog to drain (at most [`DRAIN_AT_MOST`]) before stopping the collector.
    Saturation,
}

/// The load after recovery in the overload scenario: 5k spans/s for 5 s.
const GENTLE: (Load, u64) = (Load::Rate(5000.0), 5);

/// Spans per second the slow destination of the saturation scenario acknowledges.
const SLOW_SINK_RATE: f64 = 100_000.0;
/// The longest the saturation scenario waits for a collector's backlog to reach the sink.
const DRAIN_AT_MOST: Duration = Duration::from_secs(45);

/// What the load generator speaks to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    /// OTLP/gRPC on the gRPC port.
    Grpc,
    /// OTLP/HTTP protobuf on the HTTP port.
    Http,
    /// Jaeger Thrift binary, `POST /api/traces`, on the HTTP port.
    Jaeger,
    /// Zipkin v2 JSON, `POST /api/v2/spans`, on the HTTP port.
    Zipkin,
}

impl Proto {
    /// Whether the collector listens for it on the HTTP port.
    fn on_http_port(self) -> bool {
        self != Proto::Grpc
    }
    /// The load generator's `--protocol`.
    fn arg(self) -> &'static str {
        match self {
            Proto::Grpc => "grpc",
            Proto::Http => "http",
            Proto::Jaeger => "jaeger",
            Proto::Zipkin => "zipkin",
        }
    }
}

struct Scenario {
    key: &'static str,
    title: &'static str,
    /// ferrotel's `--config` files, relative to the workspace root, merged in order.
    ferrotel_configs: &'static [&'static str],
    protocol: Proto,
    gzip: bool,
    load: Load,
    who: &'static [Who],
    /// ferrotel runs once per CPU list here, pinned with `taskset -c`; empty: not pinned.
    ferrotel_cpus: &'static [&'static str],
    /// Extra Rotel flags mapping the pipeline to Rotel's closest.
    rotel_extra: &'static [&'static str],
    note: &'static str,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        key: "a",
        title: "(a) Pass-through: OTLP gRPC -> batch -> OTLP gRPC",
        ferrotel_configs: &["bench/configs/passthrough.yaml"],
        protocol: Proto::Grpc,
        gzip: false,
        load: Load::FlatOut,
        who: &[Who::Ferrotel, Who::Rotel, Who::Ceiling],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "Both collectors batch with 8192 items / 200ms and export uncompressed OTLP/gRPC to the same count-only sink. The ceiling decodes every request and drops it.",
    },
    Scenario {
        key: "b",
        title: "(b) Full pipeline: memory_limiter, resource, probabilistic_sampler 10%, redaction, batch -> OTLP",
        ferrotel_configs: &["bench/configs/fullstack.yaml"],
        protocol: Proto::Grpc,
        gzip: false,
        load: Load::FlatOut,
        who: &[Who::Ferrotel, Who::Rotel],
        ferrotel_cpus: &[],
        rotel_extra: &["--otel-resource-attributes", "deployment.environment.name=bench,collector.name=rotel"],
        note: "Rotel has no native memory_limiter, sampler or redaction (only Python processors, not used here): its row is its closest native pipeline, resource attributes (`--otel-resource-attributes`) + batch -> OTLP, which is the baseline the issue's target names (\"Rotel's batch-only pipeline\"). Items are spans accepted from the client; ferrotel exports about 10% of them.",
    },
    Scenario {
        key: "c",
        title: "(c) gzip on both sides: OTLP gRPC gzip -> batch -> OTLP gRPC gzip",
        ferrotel_configs: &["bench/configs/gzip.yaml"],
        protocol: Proto::Grpc,
        gzip: true,
        load: Load::FlatOut,
        who: &[Who::Ferrotel, Who::Rotel, Who::Ceiling],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "The load generator gzips every request (pre-compressed once, so the generator pays nothing per request); both collectors decompress, batch and export with gzip.",
    },
    Scenario {
        key: "d",
        title: "(d) OTLP/HTTP protobuf in -> batch -> OTLP gRPC",
        ferrotel_configs: &["bench/configs/passthrough.yaml"],
        protocol: Proto::Http,
        gzip: false,
        load: Load::FlatOut,
        who: &[Who::Ferrotel, Who::Rotel, Who::Ceiling],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "HTTP/1.1 with keep-alive, one connection per worker, `application/x-protobuf`.",
    },
    Scenario {
        key: "e",
        title: "(e) Steady 10k spans/s (otelcol's testbed load) -> batch -> OTLP gRPC",
        ferrotel_configs: &["bench/configs/passthrough.yaml"],
        protocol: Proto::Grpc,
        gzip: false,
        load: Load::Rate(10_000.0),
        who: &[Who::Ferrotel, Who::Rotel],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "100 spans per request, 100 requests/s over 10 connections (10/s each, so a collector answering in up to 100 ms still gets the full rate). The numbers that matter are CPU % (of one core) and RSS.",
    },
    Scenario {
        key: "i",
        title: "(i) Steady 10k spans/s with the embedded default config: memory_limiter, batch -> debug",
        ferrotel_configs: &["config/default.yaml", "bench/configs/embedded-endpoints.yaml"],
        protocol: Proto::Grpc,
        gzip: false,
        load: Load::Rate(10_000.0),
        who: &[Who::Ferrotel, Who::Rotel],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "(e)'s load against what `cargo run --release` runs: the embedded `config/default.yaml` (memory_limiter 512 MiB, batch, debug exporter at basic verbosity, self-metrics on :8888, health_check on :13133) with only the OTLP receiver's endpoints moved to the runner's ports (`bench/configs/embedded-endpoints.yaml`, merged after it). Rotel's row is the same as in (e): batch -> OTLP to the count-only sink (it has no debug exporter), so ferrotel's row pays for a debug log line per batch that Rotel's does not.",
    },
    Scenario {
        key: "f",
        title: "(f) Idle: the pass-through configuration, no load",
        ferrotel_configs: &["bench/configs/passthrough.yaml"],
        protocol: Proto::Grpc,
        gzip: false,
        load: Load::Idle,
        who: &[Who::Ferrotel, Who::Rotel],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "Started, then left alone for the run length.",
    },
    Scenario {
        key: "g",
        title: "(g) Overload: a flood far above capacity while the destination is stalled (memory_limiter 512 MiB)",
        ferrotel_configs: &["bench/configs/overload.yaml"],
        protocol: Proto::Grpc,
        gzip: false,
        load: Load::Overload,
        who: &[Who::Ferrotel],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "ferrotel only: Rotel has no memory limiter in our configuration (it has no native one), so it has no bound to hold. What `bench/overload.sh` does: OTLP -> memory_limiter (limit 512 MiB, spike 100 MiB) -> batch -> OTLP exporter whose destination is stalled (a TCP listener the runner holds open and never accepts on: connections complete, nothing is read). 16 clients send 512 spans of ~2.4 KB (~1.2 MB) per request flat out with a 5 s deadline for the run's seconds. Then the destination comes back (a count-only sink on the same port), the runner waits until ferrotel is idle (its queue drained), sends a gentle load (5k spans/s for 5 s), stops ferrotel (SIGTERM: it drains) and then the sink. Spans/s, latency and errors are the flood's; *peak RSS* (`VmHWM`) covers the whole run; *exported* is what the sink received, which must be at least what clients were told was accepted (flood and gentle load).",
    },
    Scenario {
        key: "m",
        title: "(m) Saturation: flat-out clients, a destination acknowledging 100k spans/s, no memory_limiter (the pass-through configuration)",
        ferrotel_configs: &["bench/configs/passthrough.yaml"],
        protocol: Proto::Grpc,
        gzip: false,
        load: Load::Saturation,
        who: &[Who::Ferrotel, Who::Rotel],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "The backend is slower than the clients: the count-only sink answers each request when its share of 100k spans per second has passed (`ceiling --max-items-per-second 100000`), and the load generator sends flat out (8 connections, 100 spans per request, 5 s deadline). Neither collector has a memory_limiter: ferrotel runs with its default memory budget for queued data (1/20 of the machine's memory, at most 64 MiB; `FERROTEL_MEMORY_BUDGET_MIB`), Rotel with its defaults. After the load the runner waits until the sink could have received everything accepted (accepted / 100k per second, at most 45 s), then stops the collector (SIGTERM) and the sink. *Exported* is what the sink received; the loss check compares it with what clients were told was accepted.",
    },
    Scenario {
        key: "r",
        title: "(r) RED metrics: the full pipeline (b) plus a traces pipeline into the span_metrics and service_graph connectors -> prometheus exporter",
        ferrotel_configs: &["bench/configs/connectors.yaml"],
        protocol: Proto::Grpc,
        gzip: false,
        load: Load::FlatOut,
        who: &[Who::Ferrotel],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "ferrotel only: Rotel has no connectors. The compose stack's shape: every accepted span goes through (b)'s sampled pipeline and, before sampling, through memory_limiter into span_metrics and service_graph, whose series (per service, operation, kind and status; per client-server edge) a prometheus exporter serves. The load generator's traces have server, database and downstream client spans, so service_graph pairs nothing across requests: its store fills with client spans waiting for servers and evicts them as virtual nodes, the costly case.",
    },
    Scenario {
        key: "t",
        title: "(t) OTTL: the full pipeline (b) plus a transform processor of 10 statements before sampling",
        ferrotel_configs: &["bench/configs/transform.yaml"],
        protocol: Proto::Grpc,
        gzip: false,
        load: Load::FlatOut,
        who: &[Who::Ferrotel],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "ferrotel only: Rotel has no OTTL. Every accepted span is decoded and runs 10 statements (sets with and without `where`, delete_key, replace_pattern, truncate_all, a span rename) before (b)'s sampler, resource, redaction and batch.",
    },
    Scenario {
        key: "j",
        title: "(j) Jaeger Thrift over HTTP in (`POST /api/traces`) -> batch -> OTLP gRPC",
        ferrotel_configs: &["bench/configs/jaeger.yaml"],
        protocol: Proto::Jaeger,
        gzip: false,
        load: Load::FlatOut,
        who: &[Who::Ferrotel],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "ferrotel only: Rotel (0.0.1a15, `rotel-agent start --help`) has OTLP receivers only, no Jaeger or Zipkin receiver. The load generator's spans (as in (a)) are encoded once per pooled request by ferrotel's own jaeger exporter into a Thrift binary `jaeger.Batch` and sent as `Content-Type: application/x-thrift` over HTTP/1.1 keep-alive; the jaeger receiver (`thrift_http`) translates them to OTLP, batch (8192 / 200ms) exports to the count-only sink.",
    },
    Scenario {
        key: "z",
        title: "(z) Zipkin v2 JSON in (`POST /api/v2/spans`) -> batch -> OTLP gRPC",
        ferrotel_configs: &["bench/configs/zipkin.yaml"],
        protocol: Proto::Zipkin,
        gzip: false,
        load: Load::FlatOut,
        who: &[Who::Ferrotel],
        ferrotel_cpus: &[],
        rotel_extra: &[],
        note: "ferrotel only: Rotel (0.0.1a15) has no Zipkin receiver. The same spans as (a) written as a Zipkin v2 JSON list (resource and span attributes as string tags, events as annotations; `bench/src/foreign.rs`), `Content-Type: application/json`, HTTP/1.1 keep-alive; the zipkin receiver parses the JSON and translates to OTLP, batch exports to the count-only sink.",
    },
    Scenario {
        key: "s",
        title: "(s) Scaling: the full pipeline (b) with ferrotel on 1 core vs 2 cores (taskset)",
        ferrotel_configs: &["bench/configs/fullstack.yaml"],
        protocol: Proto::Grpc,
        gzip: false,
        load: Load::FlatOut,
        who: &[Who::Ferrotel],
        ferrotel_cpus: &[ONE_CORE, TWO_CORES],
        rotel_extra: &[],
        note: "Scenario (b), the pipeline where ferrotel rather than the load generator is the bottleneck (in (a) ferrotel idles half the time), with ferrotel pinned with `taskset -c 0` (1 core) and `taskset -c 0,1` (2 cores); the load generator and the sink are not pinned. They share the machine: on a 2-core machine they compete with ferrotel for the same cores, so the ideal ratio of 2.0 is not reachable and the target is > 1.3x; CPU above 100% on 2 cores shows the work running in parallel (ferrotel must not serialise on one task or lock).",
    },
];

/// What the load generator prints with `--json` (the fields used here).
#[derive(Debug, Deserialize, Clone, Default)]
struct LoadReport {
    items_ok: u64,
    items_per_sec: f64,
    bytes_per_item: f64,
    latency: LoadLatency,
    errors: BTreeMap<String, u64>,
    generator_cpu_seconds: f64,
}

#[derive(Debug, Deserialize, Clone, Default)]
struct LoadLatency {
    p50_ms: f64,
    p99_ms: f64,
}

/// One measured run.
#[derive(Debug, Clone)]
struct Run {
    load: LoadReport,
    /// The overload scenario's gentle load after recovery (empty elsewhere).
    after: LoadReport,
    seconds: f64,
    cpu_seconds: f64,
    peak_rss_kib: u64,
    rss_kib: u64,
    exported: Option<u64>,
    sink_cpu_seconds: f64,
}

impl Run {
    /// Items clients were told were accepted.
    fn accepted(&self) -> u64 {
        self.load.items_ok + self.after.items_ok
    }
    fn items_per_cpu(&self) -> f64 {
        self.accepted() as f64 / self.cpu_seconds.max(1e-3)
    }
    fn cpu_pct(&self) -> f64 {
        100.0 * self.cpu_seconds / self.seconds.max(1e-9)
    }
}

/// The exact commands of one run, for RESULTS.md.
#[derive(Debug, Clone, Default)]
struct Commands {
    lines: Vec<String>,
}

struct Env {
    args: Args,
    ferrotel: PathBuf,
    rotel: Option<PathBuf>,
    loadgen: PathBuf,
    ceiling: PathBuf,
    ports: (u16, u16, u16),
}

fn shell_words(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_str()?)))
        .collect();
    parts.push(display_path(Path::new(cmd.get_program())));
    parts.extend(cmd.get_args().map(|a| {
        let a = display_path(Path::new(a));
        if a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=,+-".contains(c))
        {
            a
        } else {
            format!("'{a}'")
        }
    }));
    parts.join(" ")
}

/// A path relative to the workspace root when it is inside it.
fn display_path(p: &Path) -> String {
    let root = Path::new(BENCH_DIR).parent().unwrap_or(Path::new("/"));
    p.strip_prefix(root)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| p.display().to_string())
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn wait_port(port: u16, child: &mut Proc, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if port_open(port) {
            return Ok(());
        }
        if let Some(status) = child.exited()? {
            bail!("{what} exited before listening on {port}: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what} did not listen on port {port} within 20s")
}

fn wait_port_free(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while port_open(port) {
        if Instant::now() > deadline {
            bail!("port {port} is in use by another process; pick another --base-port");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// A started process, killed if the runner bails out before [`stop`]ping it.
struct Proc(Option<Child>);

impl Proc {
    fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }
    fn exited(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.0.as_mut().map_or(Ok(None), Child::try_wait)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// SIGTERM, then SIGKILL after 10 s; returns the captured stdout.
fn stop(mut proc: Proc) -> anyhow::Result<String> {
    let Some(mut child) = proc.0.take() else {
        return Ok(String::new());
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn spawn(mut cmd: Command, log: &Path) -> anyhow::Result<Proc> {
    let log = std::fs::File::create(log)?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", cmd.get_program().to_string_lossy()))?;
    Ok(Proc(Some(child)))
}

/// Waits until `pid` has used under 2% of a core for `quiet` (sampled every 250 ms, at most
/// 120 s) and returns its CPU seconds then.
fn wait_idle(pid: &str, quiet: Duration) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut last = procfs::cpu_seconds(pid)?;
    let mut idle_since = Instant::now();
    while start.elapsed() < Duration::from_secs(120) && idle_since.elapsed() < quiet {
        std::thread::sleep(Duration::from_millis(250));
        let now = procfs::cpu_seconds(pid)?;
        if now - last > 0.005 {
            idle_since = Instant::now();
        }
        last = now;
    }
    Ok(last)
}

/// Runs a load generator command and parses its JSON report.
fn run_load(mut lg: Command, commands: &mut Commands) -> anyhow::Result<LoadReport> {
    commands.lines.push(shell_words(&lg));
    let out = lg.stderr(Stdio::piped()).output()?;
    if !out.status.success() {
        bail!("loadgen failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).with_context(|| format!("loadgen output {text:?}"))
}

impl Env {
    fn collector_cmd(&self, s: &Scenario, row: Row) -> anyhow::Result<Command> {
        let (grpc, http, sink) = self.ports;
        let program = match row.who {
            Who::Ferrotel => self.ferrotel.clone(),
            Who::Rotel => self.rotel.clone().context("no rotel binary")?,
            Who::Ceiling => self.ceiling.clone(),
        };
        let mut c = match row.cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus]).arg(program);
                c
            }
            None => Command::new(program),
        };
        match row.who {
            Who::Ferrotel => {
                c.env("BENCH_GRPC_ENDPOINT", format!("127.0.0.1:{grpc}"))
                    .env("BENCH_HTTP_ENDPOINT", format!("127.0.0.1:{http}"))
                    .env("BENCH_SINK_ENDPOINT", format!("127.0.0.1:{sink}"));
                let root = Path::new(BENCH_DIR).parent().unwrap_or(Path::new("/"));
                for config in s.ferrotel_configs {
                    c.arg("--config").arg(root.join(config));
                }
            }
            Who::Rotel => {
                c.arg("start")
                    .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
                    .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
                    .args(["--exporter", "otlp"])
                    .args([
                        "--otlp-exporter-endpoint",
                        &format!("http://127.0.0.1:{sink}"),
                    ])
                    .args([
                        "--otlp-exporter-compression",
                        if s.gzip { "gzip" } else { "none" },
                    ])
                    .args(["--batch-max-size", "8192", "--batch-timeout", "200ms"])
                    .arg("--pid-file")
                    .arg(self.args.work_dir.join("rotel.pid"))
                    .arg("--log-file")
                    .arg(self.args.work_dir.join("rotel.log"))
                    .args(s.rotel_extra);
            }
            Who::Ceiling => {
                c.args(["--listen", &format!("127.0.0.1:{grpc}"), "--mode", "decode"]);
            }
        }
        Ok(c)
    }

    /// The load generator sending `load` for `seconds` to `who` in scenario `s`.
    fn loadgen_cmd(&self, s: &Scenario, who: Who, load: Load, seconds: u64) -> Command {
        let (grpc, http, _) = self.ports;
        // The ceiling serves gRPC and HTTP on one port.
        let port = if s.protocol.on_http_port() && who != Who::Ceiling {
            http
        } else {
            grpc
        };
        let spans = self.args.spans_per_request.to_string();
        let workers = self.args.concurrency.to_string();
        let rate;
        let shape: &[&str] = match load {
            Load::FlatOut | Load::Idle => {
                &["--spans-per-request", &spans, "--concurrency", &workers]
            }
            Load::Saturation => &[
                "--spans-per-request",
                &spans,
                "--concurrency",
                &workers,
                "--timeout",
                "5s",
            ],
            Load::Rate(r) => {
                rate = r.to_string();
                &[
                    "--spans-per-request",
                    &spans,
                    "--concurrency",
                    "10",
                    "--rate",
                    &rate,
                ]
            }
            Load::Overload => &[
                "--spans-per-request",
                "512",
                "--payload-bytes",
                "2000",
                "--concurrency",
                "16",
                "--timeout",
                "5s",
            ],
        };
        let mut c = Command::new(&self.loadgen);
        c.args(["--endpoint", &format!("127.0.0.1:{port}")])
            .args(["--protocol", s.protocol.arg()])
            .args(["--signal", "traces"])
            .args(shape)
            .args(["--compression", if s.gzip { "gzip" } else { "none" }])
            .args(["--duration", &format!("{seconds}s")])
            .arg("--json");
        c
    }

    /// Starts the count-only sink the collectors export to (slow in the saturation scenario).
    fn start_sink(
        &self,
        s: &Scenario,
        commands: &mut Commands,
        log: &Path,
    ) -> anyhow::Result<Proc> {
        let port = self.ports.2;
        let mut c = Command::new(&self.ceiling);
        c.args(["--listen", &format!("127.0.0.1:{port}"), "--mode", "count"]);
        if s.load == Load::Saturation {
            c.args(["--max-items-per-second", &SLOW_SINK_RATE.to_string()]);
        }
        commands.lines.push(format!("{}   # sink", shell_words(&c)));
        let mut child = spawn(c, log)?;
        wait_port(port, &mut child, "sink")?;
        Ok(child)
    }

    /// One run of one collector in one scenario.
    fn run(&self, s: &Scenario, row: Row, round: usize) -> anyhow::Result<(Run, Commands)> {
        let (grpc, http, sink_port) = self.ports;
        for p in [grpc, http, sink_port] {
            wait_port_free(p)?;
        }
        let who = row.who;
        let tag = format!("{}-{}-{round}", s.key, row.tag());
        let sink_log = self.args.work_dir.join(format!("{tag}-sink.log"));
        let mut commands = Commands::default();
        // Overload: the destination is stalled until the flood is over. The kernel completes
        // connections to a listener nobody accepts on; nothing is read.
        let stalled = if s.load == Load::Overload {
            commands.lines.push(format!("# sink: the runner holds a TCP listener on 127.0.0.1:{sink_port} that never accepts (stalled destination)"));
            Some(std::net::TcpListener::bind(("127.0.0.1", sink_port))?)
        } else {
            None
        };
        let mut sink = if who == Who::Ceiling || stalled.is_some() {
            None
        } else {
            Some(self.start_sink(s, &mut commands, &sink_log)?)
        };
        let cmd = self.collector_cmd(s, row)?;
        commands.lines.push(shell_words(&cmd));
        let mut child = spawn(cmd, &self.args.work_dir.join(format!("{tag}.log")))?;
        let listen = if s.protocol.on_http_port() && who != Who::Ceiling {
            http
        } else {
            grpc
        };
        wait_port(listen, &mut child, who.name())?;
        std::thread::sleep(Duration::from_millis(300));
        let pid = child.id().to_string();
        let sink_cpu0 = sink
            .as_ref()
            .map(|c| procfs::cpu_seconds(&c.id().to_string()))
            .transpose()?
            .unwrap_or(0.0);
        let cpu0 = procfs::cpu_seconds(&pid)?;
        let t0 = Instant::now();
        let load = if s.load == Load::Idle {
            commands.lines.push(format!("sleep {}", self.args.seconds));
            std::thread::sleep(Duration::from_secs(self.args.seconds));
            LoadReport::default()
        } else {
            run_load(
                self.loadgen_cmd(s, who, s.load, self.args.seconds),
                &mut commands,
            )?
        };
        let seconds = t0.elapsed().as_secs_f64();
        let rss_kib = procfs::status_kib(&pid, "VmRSS")?;
        let mut after = LoadReport::default();
        if let Some(listener) = stalled {
            // The destination comes back; the collector's retries (at most 1 s apart, plus
            // jitter) reach it and its queue drains; then a gentle load must be accepted.
            drop(listener);
            commands
                .lines
                .push("# the stalled listener is closed".into());
            sink = Some(self.start_sink(s, &mut commands, &sink_log)?);
            commands
                .lines
                .push("# wait until the collector is idle for 3 s (queue drained)".into());
            wait_idle(&pid, Duration::from_secs(3))?;
            let (load, seconds) = GENTLE;
            after = run_load(self.loadgen_cmd(s, who, load, seconds), &mut commands)?;
        }
        if s.load == Load::Saturation {
            let drain = drain_time(load.items_ok, t0.elapsed());
            commands.lines.push(format!(
                "sleep {:.0}   # until the slow sink could have received everything accepted",
                drain.as_secs_f64()
            ));
            std::thread::sleep(drain);
        }
        // The collector's CPU is counted until it has finished its work: a backlog it drains
        // after the load stops (its queue) is part of what the accepted items cost. Wait until
        // it uses under 2% of a core over 250 ms, which also lets the last batch reach the sink.
        std::thread::sleep(Duration::from_millis(600));
        let cpu_seconds = wait_idle(&pid, Duration::from_millis(250))? - cpu0;
        let peak_rss_kib = procfs::status_kib(&pid, "VmHWM")?;
        let sink_cpu_seconds = match &sink {
            Some(p) => procfs::cpu_seconds(&p.id().to_string())? - sink_cpu0,
            None => 0.0,
        };
        stop(child)?;
        let exported = match sink {
            Some(sink) => {
                let out = stop(sink)?;
                let totals: Totals = serde_json::from_str(out.trim())
                    .with_context(|| format!("sink output {out:?}"))?;
                Some(totals.items)
            }
            None => None,
        };
        Ok((
            Run {
                load,
                after,
                seconds,
                cpu_seconds,
                peak_rss_kib,
                rss_kib,
                exported,
                sink_cpu_seconds,
            },
            commands,
        ))
    }
}

/// How long the slow sink still needs for `accepted` items, `elapsed` after the load began
/// (plus a second for the last batch), at most [`DRAIN_AT_MOST`].
fn drain_time(accepted: u64, elapsed: Duration) -> Duration {
    let needed = Duration::from_secs_f64(accepted as f64 / SLOW_SINK_RATE);
    (needed.saturating_sub(elapsed) + Duration::from_secs(1)).min(DRAIN_AT_MOST)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The medians of one collector's runs in one scenario.
#[derive(Debug, Clone, Default)]
struct Summary {
    items_per_sec: f64,
    items_per_cpu: f64,
    items_per_cpu_min: f64,
    items_per_cpu_max: f64,
    cpu_pct: f64,
    peak_rss_mib: f64,
    rss_mib: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Failed requests by kind, over all runs.
    errors: BTreeMap<String, u64>,
    /// Items clients were told were accepted.
    accepted: f64,
    exported: Option<f64>,
    /// Over all runs: items accepted but never exported (where every accepted item should be).
    lost: u64,
    /// Over all runs: failed requests of the gentle load after recovery (overload scenario).
    errors_after: u64,
    generator_cpu_pct: f64,
    sink_cpu_pct: f64,
    runs: usize,
}

fn summarize(runs: &[Run]) -> Summary {
    let m = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let per_cpu: Vec<f64> = runs.iter().map(Run::items_per_cpu).collect();
    let mut errors = BTreeMap::<String, u64>::new();
    for r in runs {
        for (k, v) in &r.load.errors {
            *errors.entry(k.clone()).or_default() += v;
        }
    }
    Summary {
        items_per_sec: m(&|r| r.load.items_per_sec),
        items_per_cpu: median(per_cpu.clone()),
        items_per_cpu_min: per_cpu.iter().copied().fold(f64::INFINITY, f64::min),
        items_per_cpu_max: per_cpu.iter().copied().fold(0.0, f64::max),
        cpu_pct: m(&|r| r.cpu_pct()),
        peak_rss_mib: m(&|r| r.peak_rss_kib as f64 / 1024.0),
        rss_mib: m(&|r| r.rss_kib as f64 / 1024.0),
        p50_ms: m(&|r| r.load.latency.p50_ms),
        p99_ms: m(&|r| r.load.latency.p99_ms),
        errors,
        accepted: m(&|r| r.accepted() as f64),
        exported: runs
            .iter()
            .map(|r| r.exported.map(|e| e as f64))
            .collect::<Option<Vec<_>>>()
            .map(median),
        lost: runs
            .iter()
            .map(|r| r.accepted().saturating_sub(r.exported.unwrap_or(u64::MAX)))
            .sum(),
        errors_after: runs
            .iter()
            .map(|r| r.after.errors.values().sum::<u64>())
            .sum(),
        generator_cpu_pct: m(&|r| 100.0 * r.load.generator_cpu_seconds / r.seconds.max(1e-9)),
        sink_cpu_pct: m(&|r| 100.0 * r.sink_cpu_seconds / r.seconds.max(1e-9)),
        runs: runs.len(),
    }
}

struct ScenarioResult {
    scenario: &'static Scenario,
    results: Vec<(Row, Summary)>,
    commands: Vec<(Row, Commands)>,
    bytes_per_item: f64,
}

impl ScenarioResult {
    fn get(&self, who: Who) -> Option<&Summary> {
        self.get_row(Row { who, cpus: None })
    }
    fn get_row(&self, row: Row) -> Option<&Summary> {
        self.results.iter().find(|(r, _)| *r == row).map(|(_, s)| s)
    }
}

/// `kind: count, ...`, or `none`.
fn error_kinds(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "none".into();
    }
    errors
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn machine() -> (usize, String) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cores = info.lines().filter(|l| l.starts_with("processor")).count();
    let model = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    (cores, model)
}

fn git_rev() -> String {
    Command::new("git")
        .args(["-C", BENCH_DIR, "rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// What clients were told was accepted against what reached the destination.
fn loss_check(f: &Summary) -> String {
    format!(
        "clients were told {:.0} spans were accepted, the destination received {} ({})",
        f.accepted,
        f.exported
            .map(|e| format!("{e:.0}"))
            .unwrap_or_else(|| "-".into()),
        if f.lost == 0 {
            "nothing lost".to_string()
        } else {
            format!("**{} lost**", f.lost)
        }
    )
}

fn markdown(args: &Args, env: &Env, results: &[ScenarioResult], invocation: &str) -> String {
    let (cores, model) = machine();
    let rotel_version = env
        .rotel
        .as_ref()
        .and_then(|r| Command::new(r).arg("--version").output().ok())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "not run".into());
    let mut md = String::new();
    let _ = writeln!(md, "# ferrotel benchmark results\n");
    let _ = writeln!(
        md,
        "Generated by `bench/src/bin/compare.rs` on {} (UTC). **Do not edit by hand: re-run the command below.**\n",
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    );
    let _ = writeln!(md, "- Machine: {cores} cores, {model}. Load generator, collector and sink share it (loopback only, nothing pinned but ferrotel in (s)).");
    let _ = writeln!(md, "- ferrotel: git `{}`, release build. Peer: Rotel `{rotel_version}` (PyPI wheel `rotel=={ROTEL_VERSION}`).", git_rev());
    let _ = writeln!(md, "- Run: {} s of load per run, {} alternating runs per collector (A B A B ...), {} spans per request, {} load generator connections for flat-out scenarios.", args.seconds, args.rounds, args.spans_per_request, args.concurrency);
    let _ = writeln!(
        md,
        "- Reproduce: `cargo build --release -p ferrotel -p ferrotel-bench && {invocation}`\n"
    );
    let _ = writeln!(md, "Each number is the median over the runs. *Items per CPU-second* = spans accepted by the collector (acknowledged to the load generator) / the collector process's utime+stime over the run and until it is idle again (`/proc/<pid>/stat`; a backlog drained after the load stops counts); it is the per-core efficiency and the least sensitive to the machine's noise. *Peak RSS* is `VmHWM`. Latency is that of accepted requests. *gen / sink CPU* is the load generator's and the sink's own CPU, which compete with the collector on this machine. *Exported* counts the spans the sink received.\n");
    let _ = writeln!(
        md,
        "![throughput and RSS, ferrotel vs Rotel](results.svg)\n"
    );

    let _ = writeln!(md, "## Targets (issue #6)\n");
    let _ = writeln!(md, "| target | measured | met |\n|---|---|---|");
    let find = |key: &str| results.iter().find(|r| r.scenario.key == key);
    let ratio = |r: &ScenarioResult| -> Option<f64> {
        Some(r.get(Who::Ferrotel)?.items_per_cpu / r.get(Who::Rotel)?.items_per_cpu.max(1e-9))
    };
    let mut target = |name: &str, measured: String, ok: Option<bool>| {
        let met = match ok {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "n/a",
        };
        let _ = writeln!(md, "| {name} | {measured} | {met} |");
    };
    if let Some(r) = find("a") {
        if let Some(f) = r.get(Who::Ferrotel) {
            target(
                "(a) >= 1M spans per CPU-second",
                si(f.items_per_cpu),
                Some(f.items_per_cpu >= 1e6),
            );
        }
        if let Some(x) = ratio(r) {
            target(
                "(a) >= 3x Rotel's spans per CPU-second",
                format!("{x:.2}x"),
                Some(x >= 3.0),
            );
        }
    }
    if let Some(r) = find("b") {
        if let Some(f) = r.get(Who::Ferrotel) {
            target(
                "(b) >= 600k spans per CPU-second",
                si(f.items_per_cpu),
                Some(f.items_per_cpu >= 6e5),
            );
        }
        if let Some(x) = ratio(r) {
            target(
                "(b) >= 2x Rotel (batch-only) spans per CPU-second",
                format!("{x:.2}x"),
                Some(x >= 2.0),
            );
        }
    }
    if let Some(f) = find("c").and_then(|r| r.get(Who::Ferrotel)) {
        target(
            "(c) >= 200k spans per CPU-second with gzip",
            si(f.items_per_cpu),
            Some(f.items_per_cpu >= 2e5),
        );
    }
    if let Some(f) = find("e").and_then(|r| r.get(Who::Ferrotel)) {
        target(
            "(e) <= 3% of one core at 10k spans/s",
            format!("{:.1}%", f.cpu_pct),
            Some(f.cpu_pct <= 3.0),
        );
        target(
            "(e) <= 20 MiB RSS at 10k spans/s",
            format!("{:.1} MiB peak", f.peak_rss_mib),
            Some(f.peak_rss_mib <= 20.0),
        );
    }
    for key in ["e", "i"] {
        if let Some((f, p)) =
            find(key).and_then(|r| Some((r.get(Who::Ferrotel)?, r.get(Who::Rotel)?)))
        {
            let x = f.cpu_pct / p.cpu_pct.max(1e-9);
            target(
                &format!("({key}) <= 0.25x Rotel's CPU at 10k spans/s (issue #19)"),
                format!(
                    "{x:.2}x ({:.2}% vs {:.2}% of one core)",
                    f.cpu_pct, p.cpu_pct
                ),
                Some(x <= 0.25),
            );
        }
    }
    if let Some(f) = find("f").and_then(|r| r.get(Who::Ferrotel)) {
        target(
            "(f) idle <= 15 MiB RSS",
            format!("{:.1} MiB peak", f.peak_rss_mib),
            Some(f.peak_rss_mib <= 15.0),
        );
        target(
            "(f) idle <= 0.1% of one core (issue #19)",
            format!("{:.3}%", f.cpu_pct),
            Some(f.cpu_pct <= 0.1),
        );
    }
    if let Some(f) = find("g").and_then(|r| r.get(Who::Ferrotel)) {
        let retryable = f.errors.keys().all(|k| {
            ["grpc:UNAVAILABLE", "grpc:RESOURCE_EXHAUSTED", "transport"].contains(&k.as_str())
        });
        target(
            "(g) Overload: peak RSS < 512 MiB (memory_limiter), p99 of accepted < 100 ms, excess refused with retryable statuses, nothing accepted lost",
            format!(
                "{:.0} MiB peak, p99 {:.1} ms, refused: {}; {}",
                f.peak_rss_mib,
                f.p99_ms,
                error_kinds(&f.errors),
                loss_check(f)
            ),
            Some(f.peak_rss_mib < 512.0 && f.p99_ms < 100.0 && retryable && f.lost == 0),
        );
    }
    if let Some(r) = find("m") {
        if let (Some(f), Some(p)) = (r.get(Who::Ferrotel), r.get(Who::Rotel)) {
            target(
                "(m) Saturation without memory_limiter: peak RSS no higher than Rotel's, nothing accepted lost",
                format!(
                    "{:.0} vs {:.0} MiB peak; {}",
                    f.peak_rss_mib,
                    p.peak_rss_mib,
                    loss_check(f)
                ),
                Some(f.peak_rss_mib <= p.peak_rss_mib && f.lost == 0),
            );
        }
    }
    if let Some(f) = find("r").and_then(|r| r.get(Who::Ferrotel)) {
        target(
            "(r) >= 500k spans per CPU-second with span_metrics and service_graph",
            si(f.items_per_cpu),
            Some(f.items_per_cpu >= 5e5),
        );
    }
    if let Some(f) = find("t").and_then(|r| r.get(Who::Ferrotel)) {
        target(
            "(t) >= 500k spans per CPU-second with a 10-statement transform",
            si(f.items_per_cpu),
            Some(f.items_per_cpu >= 5e5),
        );
    }
    if let Some(r) = find("s") {
        let spans_per_sec = |cpus| {
            let row = Row {
                who: Who::Ferrotel,
                cpus: Some(cpus),
            };
            r.get_row(row).map(|s| s.items_per_sec)
        };
        if let (Some(one), Some(two)) = (spans_per_sec(ONE_CORE), spans_per_sec(TWO_CORES)) {
            let x = two / one.max(1e-9);
            target(
                "(s) Scaling: spans/s on 2 cores / 1 core (taskset) > 1.3x",
                format!("{x:.2}x ({} -> {} spans/s)", si(one), si(two)),
                Some(x > 1.3),
            );
        }
    }
    md.push('\n');

    for r in results {
        let s = r.scenario;
        let _ = writeln!(md, "## {}\n", s.title);
        let _ = writeln!(md, "{}", s.note);
        if r.bytes_per_item > 0.0 {
            let _ = writeln!(
                md,
                "Spans average {:.0} bytes of protobuf.",
                r.bytes_per_item
            );
        }
        md.push('\n');
        let _ = writeln!(md, "| | spans/s | spans per CPU-s (min-max) | CPU % | peak RSS MiB | RSS at end MiB | p50 / p99 ms | errors | exported | gen / sink CPU % | runs |");
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|");
        let idle = s.load == Load::Idle;
        let dash = |v: String| if idle { "-".to_string() } else { v };
        for (row, x) in &r.results {
            let errors = match x.errors.values().sum::<u64>() {
                0 => "0".to_string(),
                n => format!("{n} ({})", error_kinds(&x.errors)),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} / {} | {} | {} | {:.0} / {:.0} | {} |",
                row.name(),
                dash(si(x.items_per_sec)),
                dash(format!(
                    "{} ({}-{})",
                    si(x.items_per_cpu),
                    si(x.items_per_cpu_min),
                    si(x.items_per_cpu_max)
                )),
                x.cpu_pct,
                x.peak_rss_mib,
                x.rss_mib,
                dash(format!("{:.2}", x.p50_ms)),
                dash(format!("{:.2}", x.p99_ms)),
                errors,
                dash(x.exported.map(si).unwrap_or_else(|| "-".into())),
                x.generator_cpu_pct,
                x.sink_cpu_pct,
                x.runs,
            );
        }
        if s.load == Load::Saturation {
            for (row, x) in &r.results {
                let _ = writeln!(md, "\n**Loss check, {}**: {}.", row.name(), loss_check(x));
            }
        }
        if let (Load::Overload, Some(f)) = (s.load, r.get(Who::Ferrotel)) {
            let _ = writeln!(
                md,
                "\n**Loss check**: {}; failed requests of the gentle load after recovery: {}.",
                loss_check(f),
                f.errors_after
            );
        }
        if let (Some(f), Some(p)) = (r.get(Who::Ferrotel), r.get(Who::Rotel)) {
            if s.load == Load::FlatOut {
                let _ = writeln!(
                    md,
                    "\n**ferrotel / Rotel**: {:.2}x spans per CPU-second, {:.2}x spans/s, {:.2}x peak RSS.",
                    f.items_per_cpu / p.items_per_cpu.max(1e-9),
                    f.items_per_sec / p.items_per_sec.max(1e-9),
                    f.peak_rss_mib / p.peak_rss_mib.max(1e-9)
                );
            } else if p.cpu_pct >= 0.5 {
                let _ = writeln!(
                    md,
                    "\n**ferrotel / Rotel**: {:.2}x CPU, {:.2}x peak RSS.",
                    f.cpu_pct / p.cpu_pct,
                    f.peak_rss_mib / p.peak_rss_mib.max(1e-9)
                );
            } else {
                let _ = writeln!(
                    md,
                    "\n**ferrotel / Rotel**: {:.2}x peak RSS (CPU too small to compare).",
                    f.peak_rss_mib / p.peak_rss_mib.max(1e-9)
                );
            }
        }
        if let (Some(f), Some(c)) = (r.get(Who::Ferrotel), r.get(Who::Ceiling)) {
            let _ = writeln!(
                md,
                "ferrotel reaches {:.0}% of the decode-and-drop ceiling's spans per CPU-second.",
                100.0 * f.items_per_cpu / c.items_per_cpu.max(1e-9)
            );
        }
        let _ = writeln!(md, "\nCommands (last round; the runner starts the sink, then the collector, then the load):\n");
        for (row, c) in &r.commands {
            let _ = writeln!(md, "```sh\n# {}\n{}\n```", row.name(), c.lines.join("\n"));
        }
        md.push('\n');
    }
    md
}

/// Three panels of horizontal bars: spans/s and spans per CPU-second (flat-out scenarios),
/// and peak RSS (every scenario).
fn svg(results: &[ScenarioResult]) -> String {
    type Rows = Vec<(String, Vec<(Row, f64, String)>)>;
    let rows = |flat_only: bool, ceiling: bool, f: &dyn Fn(&Summary) -> (f64, String)| -> Rows {
        results
            .iter()
            .filter(|r| !flat_only || r.scenario.load == Load::FlatOut)
            .map(|r| {
                let bars = r
                    .results
                    .iter()
                    .filter(|(row, _)| ceiling || row.who != Who::Ceiling)
                    .map(|(row, s)| {
                        let (v, t) = f(s);
                        (*row, v, t)
                    })
                    .collect();
                (format!("({})", r.scenario.key), bars)
            })
            .collect()
    };
    let panels = [
        (
            "Spans/s accepted (higher is better)",
            rows(true, true, &|s| (s.items_per_sec, si(s.items_per_sec))),
        ),
        (
            "Spans per CPU-second (higher is better)",
            rows(true, true, &|s| (s.items_per_cpu, si(s.items_per_cpu))),
        ),
        (
            "Peak RSS, MiB (lower is better)",
            rows(false, false, &|s| {
                (s.peak_rss_mib, format!("{:.1}", s.peak_rss_mib))
            }),
        ),
    ];
    let (bar_h, gap, label_w, panel_w, plot_w) = (14.0, 10.0, 34.0, 400.0, 270.0);
    let height = panels
        .iter()
        .map(|(_, rows)| {
            40.0 + rows
                .iter()
                .map(|(_, b)| b.len() as f64 * bar_h + gap)
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
        + 40.0;
    let width = panels.len() as f64 * panel_w + 20.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, (title, rows)) in panels.iter().enumerate() {
        let x0 = 10.0 + i as f64 * panel_w;
        let max = rows
            .iter()
            .flat_map(|(_, b)| b.iter().map(|(_, v, _)| *v))
            .fold(0.0, f64::max)
            .max(1e-9);
        let _ = writeln!(
            out,
            r#"<text x="{x0}" y="20" font-size="13" font-weight="bold">{title}</text>"#
        );
        let mut y = 36.0;
        for (label, bars) in rows {
            let group_h = bars.len() as f64 * bar_h;
            let _ = writeln!(
                out,
                r#"<text x="{x0}" y="{}">{label}</text>"#,
                y + group_h / 2.0 + 4.0
            );
            for (row, v, text) in bars {
                let w = (v / max * plot_w).max(1.0);
                let bx = x0 + label_w;
                let _ = writeln!(
                    out,
                    r#"<rect x="{bx}" y="{y}" width="{w:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{}">{} {text}</text>"#,
                    bar_h - 2.0,
                    row.who.color(),
                    bx + w + 4.0,
                    y + bar_h - 4.0,
                    row.short_name(),
                );
                y += bar_h;
            }
            y += gap;
        }
    }
    let mut lx = 10.0;
    for who in [Who::Ferrotel, Who::Rotel, Who::Ceiling] {
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            height - 20.0,
            who.color(),
            lx + 14.0,
            height - 11.0,
            who.name()
        );
        lx += 90.0;
    }
    let _ = writeln!(
        out,
        r#"<text x="{lx}" y="{}" fill="gray">(a) pass-through, (b) full pipeline, (c) gzip both sides, (d) OTLP/HTTP in, (e) steady 10k spans/s, (f) idle, (g) overload, (s) 1 vs 2 cores; ceiling = decode-and-drop server</text>"#,
        height - 11.0
    );
    out.push_str("</svg>\n");
    out
}

/// The Rotel binary: given, or fetched once with pip into `target/peer`.
fn rotel_binary(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(p) = &args.rotel {
        return Ok(p.clone());
    }
    let dir = Path::new(BENCH_DIR)
        .parent()
        .unwrap_or(Path::new("."))
        .join("target/peer");
    let bin = dir.join("rotel/rotel-agent");
    if bin.exists() {
        return Ok(bin);
    }
    std::fs::create_dir_all(&dir)?;
    eprintln!(
        "fetching rotel=={ROTEL_VERSION} with pip into {}",
        dir.display()
    );
    let ok = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            &format!("rotel=={ROTEL_VERSION}"),
            "-d",
        ])
        .arg(&dir)
        .status()
        .context("python3 -m pip")?
        .success();
    if !ok {
        bail!("pip download rotel failed; pass --rotel PATH or --no-peer");
    }
    let wheel = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .context("no wheel downloaded")?;
    let ok = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&dir)
        .status()?
        .success();
    if !ok || !bin.exists() {
        bail!("could not unpack {}", wheel.display());
    }
    let _ = Command::new("chmod").arg("+x").arg(&bin).status();
    Ok(bin)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let here = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .context("no executable directory")?;
    let invocation = std::iter::once("target/release/compare".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::create_dir_all(&args.work_dir)?;
    let rotel = if args.no_peer {
        None
    } else {
        Some(rotel_binary(&args)?)
    };
    let env = Env {
        ferrotel: args
            .ferrotel
            .clone()
            .unwrap_or_else(|| here.join("ferrotel")),
        rotel,
        loadgen: here.join("loadgen"),
        ceiling: here.join("ceiling"),
        ports: (args.base_port, args.base_port + 1, args.base_port + 2),
        args: args.clone(),
    };
    for p in [&env.ferrotel, &env.loadgen, &env.ceiling] {
        if !p.exists() {
            bail!(
                "{} not found: build with `cargo build --release -p ferrotel -p ferrotel-bench`",
                p.display()
            );
        }
    }
    let mut results = Vec::new();
    for s in SCENARIOS
        .iter()
        .filter(|s| args.scenarios.iter().any(|k| k == s.key))
    {
        let rows: Vec<Row> = s
            .who
            .iter()
            .filter(|w| **w != Who::Rotel || env.rotel.is_some())
            .flat_map(|&who| match who {
                Who::Ferrotel if !s.ferrotel_cpus.is_empty() => s
                    .ferrotel_cpus
                    .iter()
                    .map(|&c| Row { who, cpus: Some(c) })
                    .collect(),
                _ => vec![Row { who, cpus: None }],
            })
            .collect();
        let mut runs: BTreeMap<Row, Vec<Run>> = BTreeMap::new();
        let mut commands: BTreeMap<Row, Commands> = BTreeMap::new();
        for round in 0..args.rounds.max(1) {
            for &w in &rows {
                eprint!("{} round {} {:<9}", s.key, round + 1, w.name());
                let (run, cmds) = env.run(s, w, round)?;
                eprintln!(
                    " {:>8} spans/s {:>8} per CPU-s  cpu {:5.1}%  peak RSS {:6.1} MiB  p99 {:7.2} ms  errors {}  accepted {} exported {}",
                    si(run.load.items_per_sec),
                    si(run.items_per_cpu()),
                    run.cpu_pct(),
                    run.peak_rss_kib as f64 / 1024.0,
                    run.load.latency.p99_ms,
                    run.load.errors.values().sum::<u64>(),
                    run.accepted(),
                    run.exported.map_or("-".to_string(), |e| e.to_string()),
                );
                runs.entry(w).or_default().push(run);
                commands.insert(w, cmds);
            }
        }
        let bytes_per_item = runs
            .values()
            .flatten()
            .map(|r| r.load.bytes_per_item)
            .fold(0.0, f64::max);
        results.push(ScenarioResult {
            scenario: s,
            results: runs.iter().map(|(w, r)| (*w, summarize(r))).collect(),
            commands: commands.into_iter().collect(),
            bytes_per_item,
        });
    }
    let mut md = markdown(&args, &env, &results, &invocation);
    md += &kept_section(&args.out_dir.join("RESULTS.md"));
    std::fs::create_dir_all(&args.out_dir)?;
    std::fs::write(args.out_dir.join("RESULTS.md"), &md)?;
    std::fs::write(args.out_dir.join("results.svg"), svg(&results))?;
    println!("{md}");
    Ok(())
}

/// The file_log scenario's section of an existing RESULTS.md (written by `compare_filelog`),
/// kept when this runner rewrites the file.
fn kept_section(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let (begin, end) = ("<!-- file_log:begin -->", "<!-- file_log:end -->");
    match (text.find(begin), text.find(end)) {
        (Some(b), Some(e)) if b < e => format!("\n{}\n", &text[b..e + end.len()]),
        _ => String::new(),
    }
}
