//! `compare_prometheus`: the cost of scraping a large target. A target on loopback serves a
//! Prometheus text exposition of `--series` samples (counters, gauges and histograms with
//! labels); ferrotel (its `prometheus` receiver -> batch -> OTLP to a count-only sink) and a real
//! Prometheus server (the Debian `prometheus`, TSDB in a temporary directory) scrape it at the
//! same interval, side by side in one run. The target counts the scrapes of each (by
//! User-Agent), so each one's CPU per scrape is its utime + stime over the measured window
//! divided by the scrapes it made in that window; peak RSS is `VmHWM` at the end.
//!
//! ```text
//! cargo build --release -p ferrotel -p ferrotel-bench
//! target/release/compare_prometheus --series 100000 --interval 5s --scrapes 12
//! target/release/compare_prometheus --exporter debug   # the pipeline without OTLP export
//! ```
#![allow(clippy::print_stdout)]

use anyhow::{bail, Context};
use clap::Parser;
use ferrotel_bench::{procfs, server::Totals};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "ferrotel's prometheus receiver vs Prometheus scraping the same large target")]
struct Args {
    /// Samples (series) the target exposes.
    #[arg(long, default_value_t = 100_000)]
    series: usize,
    /// The scrape interval of both scrapers.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Scrapes measured per scraper, after two of warm-up.
    #[arg(long, default_value_t = 12)]
    scrapes: u64,
    /// The ferrotel binary (default: `ferrotel` beside this program).
    #[arg(long)]
    ferrotel: Option<PathBuf>,
    /// The Prometheus server binary.
    #[arg(long, default_value = "prometheus")]
    prometheus: PathBuf,
    /// ferrotel's exporter: `otlp` (to the count-only sink) or `debug` (verbosity basic: the
    /// pipeline without OTLP encoding and export).
    #[arg(long, default_value = "otlp")]
    exporter: String,
    /// First of the loopback ports used (target, sink, Prometheus web).
    #[arg(long, default_value_t = 29100)]
    base_port: u16,
    /// Where logs and Prometheus's TSDB go.
    #[arg(long, default_value = "/tmp/ferrotel-bench-prometheus")]
    work_dir: PathBuf,
}

/// The exposition: a third of the samples counters, a third gauges, a third histogram lines
/// (10 buckets + `+Inf` + sum + count per labelled series); 1000 label sets per family.
fn exposition(series: usize) -> String {
    const SETS: usize = 1000;
    let label = |i: usize| {
        format!(
            "method=\"{}\",route=\"/api/v1/item/{}\",code=\"{}\"",
            ["GET", "POST", "PUT", "DELETE"][i % 4],
            i,
            [200, 404, 500][i % 3]
        )
    };
    let mut out = String::with_capacity(series * 80);
    let (mut n, mut family) = (0, 0);
    while n < series {
        let name = format!("app_family_{family}");
        match family % 3 {
            0 => {
                let _ = writeln!(
                    out,
                    "# HELP {name}_total A counter.\n# TYPE {name}_total counter"
                );
                for i in 0..SETS {
                    let _ = writeln!(out, "{name}_total{{{}}} {}", label(i), i * 7 + family);
                }
                n += SETS;
            }
            1 => {
                let _ = writeln!(out, "# HELP {name} A gauge.\n# TYPE {name} gauge");
                for i in 0..SETS {
                    let _ = writeln!(out, "{name}{{{}}} {}.25", label(i), i + family);
                }
                n += SETS;
            }
            _ => n += histogram(&mut out, &name, SETS / 10, &label),
        }
        family += 1;
    }
    out
}

/// One histogram family of `sets` labelled series; returns the sample lines written.
fn histogram(out: &mut String, name: &str, sets: usize, label: &dyn Fn(usize) -> String) -> usize {
    const BOUNDS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
    let _ = writeln!(out, "# HELP {name} A histogram.\n# TYPE {name} histogram");
    for i in 0..sets {
        let l = label(i);
        for (b, le) in BOUNDS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{l},le=\"{le}\"}} {}",
                (b + 1) * (i + 1)
            );
        }
        let count = (BOUNDS.len() + 1) * (i + 1);
        let _ = writeln!(out, "{name}_bucket{{{l},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{l}}} {}.5", count * 3);
        let _ = writeln!(out, "{name}_count{{{l}}} {count}");
    }
    sets * (BOUNDS.len() + 3)
}

type Scrapes = Arc<Mutex<BTreeMap<String, u64>>>;

/// Serves `body` to every GET on `listener` (HTTP/1.1 keep-alive, one thread per connection)
/// and counts the requests per scraper (the first word of the User-Agent).
fn serve(listener: TcpListener, body: Arc<String>, scrapes: Scrapes) {
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (body, scrapes) = (body.clone(), scrapes.clone());
            std::thread::spawn(move || {
                let _ = serve_conn(conn, &body, &scrapes);
            });
        }
    });
}

fn serve_conn(conn: TcpStream, body: &str, scrapes: &Scrapes) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    loop {
        let mut agent = String::from("unknown");
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("user-agent") {
                    agent = v.trim().split(['/', ' ']).next().unwrap_or("").to_string();
                }
            }
        }
        let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\n\r\n", body.len());
        conn.write_all(head.as_bytes())?;
        conn.write_all(body.as_bytes())?;
        if let Ok(mut s) = scrapes.lock() {
            *s.entry(agent).or_default() += 1;
        }
    }
}

/// A started process, killed on drop.
struct Proc {
    child: Child,
    name: &'static str,
}

impl Proc {
    fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> anyhow::Result<Proc> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log)?)
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        Ok(Proc { child, name })
    }
    fn pid(&self) -> String {
        self.child.id().to_string()
    }
    /// SIGTERM, wait up to 20 s, and the captured stdout.
    fn stop(mut self) -> anyhow::Result<String> {
        let _ = Command::new("kill").args(["-TERM", &self.pid()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait()?.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let mut out = String::new();
        if let Some(mut s) = self.child.stdout.take() {
            std::io::Read::read_to_string(&mut s, &mut out)?;
        }
        let _ = self.child.wait();
        Ok(out)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_port(port: u16, p: &mut Proc) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(st) = p.child.try_wait()? {
            bail!("{} exited before listening on {port}: {st}", p.name);
        }
        if Instant::now() > deadline {
            bail!("{} did not listen on {port}", p.name);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn ferrotel_config(target: u16, sink: u16, interval: &str, exporter: &str) -> String {
    let exporters = match exporter {
        "debug" => "  debug: { verbosity: basic }".to_string(),
        _ => format!("  otlp:\n    endpoint: 127.0.0.1:{sink}\n    tls: {{ insecure: true }}\n    compression: none"),
    };
    format!(
        "receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: big
          scrape_interval: {interval}
          scrape_timeout: {interval}
          static_configs:
            - targets: ['127.0.0.1:{target}']
processors:
  batch: {{}}
exporters:
{exporters}
service:
  telemetry:
    logs: {{ level: warn }}
    metrics: {{ level: none }}
  pipelines:
    metrics: {{ receivers: [prometheus], processors: [batch], exporters: [{exporter}] }}
"
    )
}

fn prometheus_config(target: u16, interval: &str) -> String {
    format!(
        "global:
  scrape_interval: {interval}
  scrape_timeout: {interval}
scrape_configs:
  - job_name: big
    static_configs:
      - targets: ['127.0.0.1:{target}']
"
    )
}

/// The three processes of a run.
struct Procs {
    sink: Proc,
    ferrotel: Proc,
    prometheus: Proc,
}

fn start(a: &Args, ferrotel: &Path, ceiling: &Path, target: u16) -> anyhow::Result<Procs> {
    let (sink_port, web) = (a.base_port + 1, a.base_port + 2);
    let w = &a.work_dir;
    let interval = format!("{}ms", a.interval.as_millis());
    let mut c = Command::new(ceiling);
    c.args([
        "--listen",
        &format!("127.0.0.1:{sink_port}"),
        "--mode",
        "count",
    ]);
    println!("$ {c:?}");
    let mut sink = Proc::spawn("sink", c, &w.join("sink.log"))?;
    wait_port(sink_port, &mut sink)?;
    let fcfg = w.join("ferrotel.yaml");
    std::fs::write(
        &fcfg,
        ferrotel_config(target, sink_port, &interval, &a.exporter),
    )?;
    let mut c = Command::new(ferrotel);
    c.arg("--config").arg(&fcfg);
    println!("$ {c:?}   # config: {}", fcfg.display());
    let ferrotel = Proc::spawn("ferrotel", c, &w.join("ferrotel.log"))?;
    let pcfg = w.join("prometheus.yml");
    std::fs::write(&pcfg, prometheus_config(target, &interval))?;
    let _ = std::fs::remove_dir_all(w.join("tsdb"));
    let mut c = Command::new(&a.prometheus);
    c.arg(format!("--config.file={}", pcfg.display()))
        .arg(format!("--storage.tsdb.path={}", w.join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"));
    println!("$ {c:?}");
    let mut prometheus = Proc::spawn("prometheus", c, &w.join("prometheus.log"))?;
    wait_port(web, &mut prometheus)?;
    Ok(Procs {
        sink,
        ferrotel,
        prometheus,
    })
}

fn count(scrapes: &Scrapes, agent: &str) -> u64 {
    scrapes
        .lock()
        .map(|s| s.get(agent).copied().unwrap_or(0))
        .unwrap_or(0)
}

/// Waits until both scrapers have made at least `n` scrapes.
fn wait_scrapes(scrapes: &Scrapes, agents: &[&str], n: u64, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while agents.iter().any(|a| count(scrapes, a) < n) {
        if Instant::now() > deadline {
            bail!(
                "scrapes so far: {:?} (wanted {n} each)",
                scrapes.lock().map(|s| s.clone())
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    std::fs::create_dir_all(&a.work_dir)?;
    let here = std::env::current_exe()?;
    let dir = here.parent().context("no parent")?;
    let ferrotel = a.ferrotel.clone().unwrap_or_else(|| dir.join("ferrotel"));
    let body = Arc::new(exposition(a.series));
    let samples = body.lines().filter(|l| !l.starts_with('#')).count();
    let listener = TcpListener::bind(("127.0.0.1", a.base_port))?;
    let scrapes: Scrapes = Arc::default();
    serve(listener, body.clone(), scrapes.clone());
    println!(
        "target: 127.0.0.1:{} serves {samples} samples, {} bytes",
        a.base_port,
        body.len()
    );
    let p = start(&a, &ferrotel, &dir.join("ceiling"), a.base_port)?;
    let agents = ["ferrotel", "Prometheus"];
    let slack = a.interval * 4 + Duration::from_secs(60);
    wait_scrapes(&scrapes, &agents, 2, slack)?;
    let pids = [p.ferrotel.pid(), p.prometheus.pid()];
    let n0 = agents.map(|g| count(&scrapes, g));
    let cpu0 = [
        procfs::cpu_seconds(&pids[0])?,
        procfs::cpu_seconds(&pids[1])?,
    ];
    let t0 = Instant::now();
    let limit = a.interval * (a.scrapes as u32 + 2) + slack;
    wait_scrapes(
        &scrapes,
        &agents,
        n0.iter().max().copied().unwrap_or(0) + a.scrapes,
        limit,
    )?;
    // Let the last scrape's work finish (parse, convert, export / append) before reading CPU.
    std::thread::sleep(a.interval / 2);
    let n1 = agents.map(|g| count(&scrapes, g));
    let cpu1 = [
        procfs::cpu_seconds(&pids[0])?,
        procfs::cpu_seconds(&pids[1])?,
    ];
    let seconds = t0.elapsed().as_secs_f64();
    let hwm = [
        procfs::status_kib(&pids[0], "VmHWM")?,
        procfs::status_kib(&pids[1], "VmHWM")?,
    ];
    p.prometheus.stop()?;
    p.ferrotel.stop()?;
    let totals: Totals = serde_json::from_str(p.sink.stop()?.trim()).context("sink totals")?;
    let names = [
        format!("ferrotel (prometheus receiver -> batch -> {})", a.exporter),
        "Prometheus (Debian package, TSDB)".to_string(),
    ];
    println!("\n| scraper | scrapes measured | CPU per scrape | CPU % of one core | peak RSS |");
    println!("|---|---:|---:|---:|---:|");
    for i in 0..2 {
        let n = n1[i] - n0[i];
        let cpu = cpu1[i] - cpu0[i];
        println!(
            "| {} | {n} | {:.1} ms | {:.1}% | {:.1} MiB |",
            names[i],
            1000.0 * cpu / n.max(1) as f64,
            100.0 * cpu / seconds,
            hwm[i] as f64 / 1024.0
        );
    }
    println!(
        "\nsink: {} data points in {} requests over {} ferrotel scrapes",
        totals.items, totals.requests, n1[0]
    );
    Ok(())
}
