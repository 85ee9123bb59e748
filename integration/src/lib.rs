//! Harness for end-to-end tests: builds and starts the real `ferrotel` binary with a given
//! config whose listeners bind port 0 and reads the bound addresses back from its startup log
//! (so no port is chosen in advance), and provides an independent OTLP sink (the generated
//! tonic services of `opentelemetry-proto`, not ferrotel's code) that records what arrives.

pub mod prometheus;
pub mod sink;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::Duration;

pub use ferrotel_testkit::{metrics, wait_for, wait_for_async, wait_for_blocking, ReservedPort};

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

/// Ports of one collector instance. After [`Collector::start`] they are the addresses the
/// collector reported binding (its startup log lines, see [`startup`]); 0 for a component it
/// did not start.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ports {
    pub grpc: u16,
    pub http: u16,
    pub health: u16,
    pub metrics: u16,
}

impl Ports {
    /// Port 0 everywhere: each listener gets a port from the kernel, read back after start.
    pub const ANY: Ports = Ports {
        grpc: 0,
        http: 0,
        health: 0,
        metrics: 0,
    };
}

/// The messages of the startup log lines that carry a bound address as `endpoint=<addr>` (the
/// address actually bound, so port 0 shows the kernel's choice), with the component as
/// `otelcol.component.id=<id>` where there is one.
pub mod startup {
    /// The otlp receiver's gRPC listener.
    pub const GRPC: &str = "Starting GRPC server";
    /// The otlp receiver's HTTP listener.
    pub const HTTP: &str = "Starting HTTP server";
    /// The health_check extension.
    pub const HEALTH_CHECK: &str = "Starting health_check extension";
    /// The collector's own `/metrics`.
    pub const SELF_METRICS: &str = "Serving self-metrics at /metrics";
    /// A prometheus exporter with a listener of its own.
    pub const PROMETHEUS: &str = "prometheus exporter: serving /metrics";

    /// The `endpoint=` of the first line of `log` with `message` (and, if given, the
    /// component `id`).
    pub fn addr(log: &str, message: &str, id: Option<&str>) -> Option<std::net::SocketAddr> {
        addrs(log, message, id).into_iter().next()
    }

    /// The `endpoint=` of every line of `log` with `message` (and, if given, the component
    /// `id`), oldest first: a collector that reloaded its configuration logs one per start.
    pub fn addrs(log: &str, message: &str, id: Option<&str>) -> Vec<std::net::SocketAddr> {
        let id = id.map(|id| format!("otelcol.component.id={id}"));
        log.lines()
            .filter(|l| l.contains(message))
            .filter(|l| {
                id.as_ref()
                    .is_none_or(|id| l.split_whitespace().any(|t| t == id))
            })
            .filter_map(|l| {
                l.split_whitespace()
                    .find_map(|t| t.strip_prefix("endpoint="))
                    .and_then(|a| a.parse().ok())
            })
            .collect()
    }
}

/// A running ferrotel process; killed on drop.
pub struct Collector {
    pub child: Child,
    /// Filled in from the startup log by [`Collector::start`] / [`Collector::wait_healthy`].
    pub ports: Ports,
    pub config_dir: tempfile::TempDir,
    stderr_path: PathBuf,
}

/// A config with the otlp receiver (gRPC and HTTP), health_check and self-metrics on port 0,
/// the given processors and exporters sections and pipelines. The caller formats the YAML.
pub fn base_config(processors: &str, exporters: &str, pipelines: &str) -> String {
    base_config_on(&Ports::ANY, processors, exporters, pipelines)
}

/// [`base_config`] on the given ports (0 for any): for a collector that must be found at a
/// known address, as when it is restarted on the ports its predecessor reported, or a peer was
/// configured with its address (a [`ReservedPort`] until then) before it starts.
pub fn base_config_on(ports: &Ports, processors: &str, exporters: &str, pipelines: &str) -> String {
    format!(
        "extensions:\n  health_check:\n    endpoint: 127.0.0.1:{health}\nreceivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{grpc}\n      http:\n        endpoint: 127.0.0.1:{http}\nprocessors:\n{processors}\nexporters:\n{exporters}\nservice:\n  extensions: [health_check]\n  telemetry:\n    metrics:\n      address: 127.0.0.1:{metrics}\n  pipelines:\n{pipelines}\n",
        health = ports.health,
        grpc = ports.grpc,
        http = ports.http,
        metrics = ports.metrics,
    )
}

impl Collector {
    /// Starts ferrotel with `config` and `extra_args`, waits until health_check answers 200
    /// and reads the bound ports from its startup log.
    pub fn start(config: &str, extra_args: &[&str]) -> Collector {
        Self::start_binary(&binary(), config, extra_args)
    }

    /// Starts ferrotel without waiting (`ports` stay 0 until [`Collector::wait_healthy`]).
    pub fn spawn(config: &str, extra_args: &[&str]) -> Collector {
        Self::spawn_binary(&binary(), config, extra_args)
    }

    /// Starts another ferrotel-based binary (a custom distribution) and waits until healthy.
    pub fn start_binary(bin: &std::path::Path, config: &str, extra_args: &[&str]) -> Collector {
        let mut c = Self::spawn_binary(bin, config, extra_args);
        c.wait_healthy(Duration::from_secs(20));
        c
    }

    /// Starts `bin` with `config` without waiting.
    pub fn spawn_binary(bin: &std::path::Path, config: &str, extra_args: &[&str]) -> Collector {
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
            ports: Ports::ANY,
            config_dir: dir,
            stderr_path,
        }
    }

    /// The address the collector logged for `message` (one of [`startup`]'s), of component
    /// `id` if given.
    pub fn logged_addr(&self, message: &str, id: Option<&str>) -> Option<std::net::SocketAddr> {
        startup::addr(&self.stderr(), message, id)
    }

    /// The ports of the otlp receiver `otlp`, health_check and self-metrics, from the log.
    fn logged_ports(&self) -> Ports {
        let log = self.stderr();
        let port = |message, id| startup::addr(&log, message, id).map_or(0, |a| a.port());
        Ports {
            grpc: port(startup::GRPC, Some("otlp")),
            http: port(startup::HTTP, Some("otlp")),
            health: port(startup::HEALTH_CHECK, None),
            metrics: port(startup::SELF_METRICS, None),
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

    /// Waits until health_check (at the address it logged) answers 200, then fills
    /// [`Collector::ports`] from the startup log (every listener has logged by then: health
    /// turns ready after the last receiver started). Panics with the log if the process exits
    /// or `timeout` passes first.
    pub fn wait_healthy(&mut self, timeout: Duration) {
        let healthy = ferrotel_testkit::wait_for_blocking(
            || {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return true;
                }
                self.logged_addr(startup::HEALTH_CHECK, None)
                    .is_some_and(|a| {
                        http_get::blocking_get(&format!("http://{a}/"))
                            .is_ok_and(|code| code == 200)
                    })
            },
            timeout,
        );
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "ferrotel exited ({status}) before it was healthy; stderr:\n{}",
                self.stderr()
            );
        }
        assert!(
            healthy,
            "ferrotel did not become healthy in {timeout:?}; stderr:\n{}",
            self.stderr()
        );
        self.ports = self.logged_ports();
    }

    /// Waits for the process to exit by itself; its exit status, or `None` at `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        ferrotel_testkit::wait_for_blocking(
            || {
                status = self.child.try_wait().ok().flatten();
                status.is_some()
            },
            timeout,
        );
        status
    }

    /// Sends SIGTERM and waits for exit; returns the exit code.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.wait_exit(timeout).and_then(|s| s.code())
    }

    /// Replaces the config file the collector was started with by `config` and sends SIGHUP
    /// (a reload re-reads it).
    pub fn reload(&self, config: &str) {
        std::fs::write(self.config_dir.path().join("config.yaml"), config).expect("write config");
        let _ = Command::new("kill")
            .arg("-HUP")
            .arg(self.child.id().to_string())
            .status();
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

    /// The value of one self-metric series (name and label set as rendered), or 0; read with
    /// [`ferrotel_testkit::metrics::value`].
    pub fn metric(&self, series: &str) -> f64 {
        metrics::value(&self.metrics_text(), series).unwrap_or(0.0)
    }
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

/// Polls `f` until it is true or `timeout` passes ([`ferrotel_testkit::wait_for_blocking`]).
pub fn eventually(timeout: Duration, f: impl FnMut() -> bool) -> bool {
    ferrotel_testkit::wait_for_blocking(f, timeout)
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

/// A `Vm*` line of `/proc/<pid>/status` in KiB (`VmRSS` the resident set, `VmHWM` its peak).
pub fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
