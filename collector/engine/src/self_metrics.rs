//! The collector's own metrics, served as Prometheus text on `service.telemetry.metrics`
//! (default `localhost:8888`, path `/metrics`), plus the process metrics otelcol exposes.

use bytes::Bytes;
use ferrotel_core::telemetry::CounterStyle;
use ferrotel_core::{Listeners, StartError, Telemetry};
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::OnceLock;
use std::time::Instant;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// When the process started serving: uptime survives configuration reloads.
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Registers otelcol's process metrics (uptime, CPU seconds, RSS).
pub fn register_process_metrics(t: &Telemetry) {
    let started = *STARTED.get_or_init(Instant::now);
    t.counter_fn(
        "otelcol_process_uptime",
        "Uptime of the process (seconds).",
        &[],
        move || started.elapsed().as_secs_f64(),
    );
    t.counter_fn(
        "otelcol_process_cpu_seconds",
        "Total CPU user and system time in seconds.",
        &[],
        || cpu_seconds().unwrap_or(0.0),
    );
    t.gauge_fn(
        "otelcol_process_memory_rss",
        "Total physical memory (resident set size) (bytes).",
        &[],
        || {
            memory_stats::memory_stats()
                .map(|m| m.physical_mem as f64)
                .unwrap_or(0.0)
        },
    );
}

/// utime + stime of this process, from /proc/self/stat (clock ticks of 1/100 s).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Binds `addr` (through `listeners`) and serves `/metrics` until `stop` fires.
pub async fn serve(
    listeners: &Listeners,
    addr: &str,
    telemetry: Telemetry,
    style: CounterStyle,
    stop: CancellationToken,
    tasks: &mut JoinSet<()>,
) -> Result<(), StartError> {
    let listener = listeners
        .bind("service.telemetry.metrics", addr)
        .await
        .map_err(|e| {
            StartError(format!(
                "service.telemetry.metrics: cannot listen on {addr}: {e}"
            ))
        })?;
    // The address actually bound (port 0 shows the kernel's choice; harnesses read it).
    let bound = listener
        .local_addr()
        .map_or_else(|_| addr.to_string(), |a| a.to_string());
    tracing::info!(endpoint = %bound, "Serving self-metrics at /metrics");
    tasks.spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                r = listener.accept() => match r { Ok(s) => s, Err(_) => continue },
                _ = stop.cancelled() => break,
            };
            let telemetry = telemetry.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let telemetry = telemetry.clone();
                    async move { Ok::<_, std::convert::Infallible>(respond(&req, &telemetry, style)) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection(TokioIo::new(stream), svc);
                tokio::select! {
                    _ = conn => {}
                    _ = stop.cancelled() => {}
                }
            });
        }
    });
    Ok(())
}

fn respond(
    req: &Request<hyper::body::Incoming>,
    telemetry: &Telemetry,
    style: CounterStyle,
) -> Response<Full<Bytes>> {
    let mut resp = if req.uri().path() == "/metrics" {
        let mut r = Response::new(Full::new(Bytes::from(telemetry.render_with(style))));
        r.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        r
    } else {
        let mut r = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r
    };
    resp.headers_mut().insert(
        "cache-control",
        hyper::header::HeaderValue::from_static("no-store"),
    );
    resp
}
