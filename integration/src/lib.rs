//! Harness for end-to-end tests: builds and starts the real `ferrotel` binary on free loopback
//! ports with a given config, and provides an independent OTLP sink (the generated tonic
//! services of `opentelemetry-proto`, not ferrotel's code) that records what arrives.

pub mod sink;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

static BUILD: Once = Once::new();

/// The ferrotel binary: `FERROTEL_BIN` if set, else built (dev profile) on first use.
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("FERROTEL_BIN") {
        return PathBuf::from(p);
    }
    BUILD.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "ferrotel", "--bin", "ferrotel"])
            .current_dir(workspace())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building ferrotel failed");
    });
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target"));
    target.join("debug").join("ferrotel")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Ports for one collector instance.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub grpc: u16,
    pub http: u16,
    pub health: u16,
    pub metrics: u16,
}

impl Ports {
    pub fn new() -> Ports {
        Ports {
            grpc: free_port(),
            http: free_port(),
            health: free_port(),
            metrics: free_port(),
        }
    }
}

impl Default for Ports {
    fn default() -> Self {
        Self::new()
    }
}

/// A running ferrotel process; killed on drop.
pub struct Collector {
    pub child: Child,
    pub ports: Ports,
    pub config_dir: tempfile::TempDir,
    stderr_path: PathBuf,
}

/// A config with the otlp receiver, health_check and self-metrics on `ports`, the given
/// processors and exporters sections and pipelines. `{grpc}`-style placeholders are not used:
/// the caller formats the YAML.
pub fn base_config(ports: &Ports, processors: &str, exporters: &str, pipelines: &str) -> String {
    format!(
        "extensions:\n  health_check:\n    endpoint: 127.0.0.1:{health}\nreceivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{grpc}\n      http:\n        endpoint: 127.0.0.1:{http}\nprocessors:\n{processors}\nexporters:\n{exporters}\nservice:\n  extensions: [health_check]\n  telemetry:\n    metrics:\n      address: 127.0.0.1:{metrics}\n  pipelines:\n{pipelines}\n",
        health = ports.health,
        grpc = ports.grpc,
        http = ports.http,
        metrics = ports.metrics,
    )
}

impl Collector {
    /// Starts ferrotel with `config` and `extra_args`, and waits until health_check answers 200.
    pub fn start(ports: Ports, config: &str, extra_args: &[&str]) -> Collector {
        let c = Self::spawn(ports, config, extra_args);
        c.wait_healthy(Duration::from_secs(20));
        c
    }

    /// Starts ferrotel without waiting.
    pub fn spawn(ports: Ports, config: &str, extra_args: &[&str]) -> Collector {
        Self::spawn_binary(&binary(), ports, config, extra_args)
    }

    /// Starts another ferrotel-based binary (a custom distribution) and waits until healthy.
    pub fn start_binary(
        bin: &std::path::Path,
        ports: Ports,
        config: &str,
        extra_args: &[&str],
    ) -> Collector {
        let c = Self::spawn_binary(bin, ports, config, extra_args);
        c.wait_healthy(Duration::from_secs(20));
        c
    }

    /// Starts `bin` with `config` without waiting.
    pub fn spawn_binary(
        bin: &std::path::Path,
        ports: Ports,
        config: &str,
        extra_args: &[&str],
    ) -> Collector {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("config.yaml");
        std::fs::write(&cfg, config).expect("write config");
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut cmd = Command::new(bin);
        cmd.arg("--config")
            .arg(&cfg)
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(stderr);
        let child = cmd.spawn().expect("ferrotel starts");
        Collector {
            child,
            ports,
            config_dir: dir,
            stderr_path,
        }
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.stderr_path) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    pub fn wait_healthy(&self, timeout: Duration) {
        let url = format!("http://127.0.0.1:{}/", self.ports.health);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(r) = http_get::blocking_get(&url) {
                if r == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "ferrotel did not become healthy in {timeout:?}; stderr:\n{}",
            self.stderr()
        );
    }

    /// Sends SIGTERM and waits for exit; returns the exit code.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Kills the process with SIGKILL (no shutdown at all, like a crash or an OOM kill) and
    /// waits for it to exit.
    pub fn kill9(&mut self) {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    /// The self-metrics text.
    pub fn metrics_text(&self) -> String {
        http_get::blocking_text(&format!("http://127.0.0.1:{}/metrics", self.ports.metrics))
            .unwrap_or_default()
    }

    /// The value of one self-metric series (exact name and label set as rendered), or 0.
    pub fn metric(&self, series: &str) -> f64 {
        metric_value(&self.metrics_text(), series)
    }
}

/// Finds `series` (e.g. `otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"}`)
/// in a Prometheus text exposition.
pub fn metric_value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Tiny blocking HTTP helpers (the harness is used from sync and async tests alike).
pub mod http_get {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    fn get(url: &str) -> std::io::Result<(u16, String)> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| std::io::Error::other("only http:// URLs"))?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let mut s = TcpStream::connect(host)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        let mut buf = String::new();
        s.read_to_string(&mut buf)?;
        let code = buf
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = buf
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((code, dechunk(&buf, body)))
    }

    fn dechunk(raw: &str, body: String) -> String {
        let head = raw
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if !head.contains("transfer-encoding: chunked") {
            return body;
        }
        let mut out = String::new();
        let mut rest = body.as_str();
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        out
    }

    /// The status code of a GET.
    pub fn blocking_get(url: &str) -> std::io::Result<u16> {
        get(url).map(|(c, _)| c)
    }

    /// The body of a GET.
    pub fn blocking_text(url: &str) -> std::io::Result<String> {
        get(url).map(|(_, b)| b)
    }
}

/// Polls `f` until it is true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    f()
}

/// A trace request with one span per id of `ids`; the span id is the id in big-endian (see
/// [`sink::Sink::span_ids`]), so a test can tell exactly which spans arrived and how often.
pub fn span_request(
    ids: std::ops::Range<u64>,
) -> opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: ids
                    .map(|id| Span {
                        trace_id: [9u8; 8].into_iter().chain(id.to_be_bytes()).collect(),
                        span_id: id.to_be_bytes().to_vec(),
                        name: format!("span-{id}"),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
