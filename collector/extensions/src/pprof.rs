//! `pprof` extension (otelcol contrib): CPU profiles of the running collector in Go's pprof
//! format, read with `go tool pprof http://host:1777/debug/pprof/profile?seconds=10` or any
//! pprof viewer.
//!
//! - `/debug/pprof/`: an index of what is served;
//! - `/debug/pprof/profile?seconds=N`: samples the CPU for N seconds (default 30, at most 300)
//!   at 100 Hz through `SIGPROF`, and answers the gzipped pprof protobuf, as Go does. One
//!   profile runs at a time: a second request, or one while `save_to_file` profiles, gets
//!   `409 Conflict`;
//! - `/debug/pprof/cmdline`: the command line, arguments separated by NUL bytes;
//! - `/debug/pprof/heap` and Go's other profiles (`allocs`, `goroutine`, `block`, `mutex`,
//!   `threadcreate`, `trace`) answer `404` with the reason: Rust's allocator keeps no samples,
//!   and the others describe Go's runtime.
//!
//! `block_profile_fraction` and `mutex_profile_fraction` set Go runtime rates: accepted so that
//! otelcol configs load, and not applicable to Rust. `save_to_file` profiles the CPU from start
//! to shutdown and writes the gzipped profile to that file at shutdown. As in otelcol, the
//! config is not validated beyond its types: an endpoint that cannot be bound fails at start.
//!
//! ```yaml
//! extensions:
//!   pprof:
//!     endpoint: 0.0.0.0:1777        # default localhost:1777
//!     save_to_file: /tmp/cpu.pprof  # optional
//! service:
//!   extensions: [pprof]
//! ```

use crate::http_server::{not_found, reply, text, HttpServer, Reply, Request};
use ::pprof::protos::Message;
use ::pprof::{ProfilerGuard, ProfilerGuardBuilder};
use ferrotel_config::{ConfigErrors, Validate, Validator, Value};
use ferrotel_core::{
    CreateContext, Extension, ExtensionContext, Factory, FactoryInfo, Stability, StartError,
};
use flate2::write::GzEncoder;
use http::{header, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// Go's CPU sampling rate.
const FREQUENCY_HZ: i32 = 100;
/// `seconds` when the request does not say.
const DEFAULT_SECONDS: u64 = 30;
/// The longest profile a request may ask for.
const MAX_SECONDS: u64 = 300;

/// `extensions.pprof`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PprofConfig {
    /// `host:port` to listen on.
    pub endpoint: String,
    /// Go's `runtime.SetBlockProfileRate`: accepted, not applicable to Rust (ignored).
    pub block_profile_fraction: i64,
    /// Go's `runtime.SetMutexProfileFraction`: accepted, not applicable to Rust (ignored).
    pub mutex_profile_fraction: i64,
    /// When set, the CPU is profiled from start to shutdown and the gzipped profile is
    /// written to this file at shutdown.
    pub save_to_file: String,
    /// confignet's dialer settings, accepted for compatibility, not used by a server.
    pub dialer: Option<Value>,
}

impl Default for PprofConfig {
    fn default() -> Self {
        PprofConfig {
            endpoint: "localhost:1777".into(),
            block_profile_fraction: 0,
            mutex_profile_fraction: 0,
            save_to_file: String::new(),
            dialer: None,
        }
    }
}

/// As otelcol, nothing beyond the types: an endpoint that cannot be bound fails at start.
impl Validate for PprofConfig {
    fn validate(&self, _: &mut Validator<'_>) {}
}

/// Starts the process-wide CPU profiler; fails while another profile runs.
fn start_profiler() -> Result<ProfilerGuard<'static>, String> {
    ProfilerGuardBuilder::default()
        .frequency(FREQUENCY_HZ)
        // Unwinding through these while they hold locks can deadlock (pprof-rs's advice).
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|e| match e {
            ::pprof::Error::Running => "cpu profiling already in use (another \
                /debug/pprof/profile request or save_to_file is running)"
                .to_string(),
            e => e.to_string(),
        })
}

/// The profile collected so far by `guard`, as gzipped pprof protobuf.
fn encode(guard: &ProfilerGuard<'static>) -> Result<Vec<u8>, String> {
    let profile = guard
        .report()
        .build()
        .and_then(|r| r.pprof())
        .map_err(|e| e.to_string())?;
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&profile.encode_to_vec())
        .and_then(|()| gz.finish())
        .map_err(|e| e.to_string())
}

/// `seconds` from the query: `Err` with the message for a 400.
fn parse_seconds(query: Option<&str>) -> Result<u64, String> {
    let value = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == "seconds")
        .map(|(_, v)| v);
    match value {
        None | Some("") => Ok(DEFAULT_SECONDS),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=MAX_SECONDS).contains(&n) => Ok(n),
            _ => Err(format!(
                "invalid seconds {v:?}: must be a whole number of seconds from 1 to {MAX_SECONDS}"
            )),
        },
    }
}

/// `/debug/pprof/profile`: samples for the requested time, then answers the profile. A client
/// that goes away drops this future, and with it the profiler.
async fn cpu_profile(query: Option<String>) -> Reply {
    let seconds = match parse_seconds(query.as_deref()) {
        Ok(s) => s,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let guard = match start_profiler() {
        Ok(g) => g,
        Err(e) => {
            let message = format!("Could not enable CPU profiling: {e}");
            return text(StatusCode::CONFLICT, message);
        }
    };
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let encoded = tokio::task::spawn_blocking(move || encode(&guard)).await;
    match encoded {
        Ok(Ok(body)) => {
            let mut r = reply(StatusCode::OK, "application/octet-stream", body);
            r.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"profile\""),
            );
            r
        }
        Ok(Err(e)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Could not build the CPU profile: {e}"),
        ),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

const INDEX: &str = "<!DOCTYPE html>\n<html><head><title>/debug/pprof/</title></head><body>\n\
<h1>/debug/pprof/</h1>\n<p>Profiles of ferrotel:</p>\n<ul>\n\
<li><a href=\"profile?seconds=30\">profile</a>: CPU profile (pprof protobuf, gzipped); \
<code>seconds</code> from 1 to 300, default 30</li>\n\
<li><a href=\"cmdline\">cmdline</a>: the command line</li>\n</ul>\n\
<p>Go's heap, allocs, goroutine, block, mutex, threadcreate and trace profiles are not \
available in a Rust process.</p>\n</body></html>\n";

/// Why a Go profile is not served, or None for an unknown path.
fn unavailable(name: &str) -> Option<&'static str> {
    Some(match name {
        "heap" | "allocs" => {
            "ferrotel's allocator keeps no allocation samples, so there is no heap profile"
        }
        "goroutine" | "threadcreate" | "trace" => "this profile describes Go's runtime",
        "block" | "mutex" => {
            "Go's block and mutex profiles have no equivalent in ferrotel \
             (block_profile_fraction and mutex_profile_fraction are not applicable)"
        }
        _ => return None,
    })
}

async fn answer(req: Request) -> Reply {
    let path = req.uri().path();
    let name = match path.strip_prefix("/debug/pprof") {
        Some("") => "",
        Some(rest) => match rest.strip_prefix('/') {
            Some(name) => name,
            None => return not_found(),
        },
        None => return not_found(),
    };
    match name {
        "" => reply(StatusCode::OK, "text/html; charset=utf-8", INDEX),
        "profile" => cpu_profile(req.uri().query().map(str::to_string)).await,
        "cmdline" => {
            let args: Vec<String> = std::env::args().collect();
            text(StatusCode::OK, args.join("\0"))
        }
        name => match unavailable(name) {
            Some(why) => text(
                StatusCode::NOT_FOUND,
                format!("/debug/pprof/{name} is not available: {why}"),
            ),
            None => not_found(),
        },
    }
}

/// The running extension.
pub struct Pprof {
    cfg: PprofConfig,
    server: HttpServer,
    /// The `save_to_file` profile, from start to shutdown.
    lifetime: Option<ProfilerGuard<'static>>,
}

impl Pprof {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.local_addr()
    }

    /// Writes the `save_to_file` profile, if one runs.
    async fn save(&mut self) {
        let Some(guard) = self.lifetime.take() else {
            return;
        };
        let file = self.cfg.save_to_file.clone();
        let written = tokio::task::spawn_blocking(move || {
            let body = encode(&guard)?;
            drop(guard);
            std::fs::write(&file, body).map_err(|e| format!("write {file:?}: {e}"))
        })
        .await;
        match written {
            Ok(Ok(())) => tracing::info!(file = %self.cfg.save_to_file, "CPU profile written"),
            Ok(Err(e)) => tracing::error!(error = %e, "pprof: save_to_file failed"),
            Err(e) => tracing::error!(error = %e, "pprof: save_to_file failed"),
        }
    }
}

#[async_trait::async_trait]
impl Extension for Pprof {
    async fn start(&mut self, ctx: ExtensionContext) -> Result<(), StartError> {
        if self.cfg.block_profile_fraction != 0 || self.cfg.mutex_profile_fraction != 0 {
            tracing::info!(
                otelcol.component.id = %ctx.id,
                "block_profile_fraction and mutex_profile_fraction are Go runtime settings, \
                 not applicable to ferrotel; ignored"
            );
        }
        self.server = HttpServer::start(&ctx, &self.cfg.endpoint, None, answer).await?;
        if !self.cfg.save_to_file.is_empty() {
            let guard = start_profiler()
                .map_err(|e| StartError(format!("save_to_file: could not start: {e}")))?;
            self.lifetime = Some(guard);
        }
        Ok(())
    }

    async fn shutdown(&mut self) {
        self.server.shutdown().await;
        self.save().await;
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Factory of `pprof`.
pub struct PprofFactory;

impl Factory for PprofFactory {
    type Config = PprofConfig;
    type Component = Box<dyn Extension>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "pprof",
            "CPU profiles of the collector in Go's pprof format",
        )
        .stability(Stability::Beta)
        .example("endpoint: 127.0.0.1:0")
    }

    fn create(
        &self,
        _ctx: &CreateContext,
        cfg: PprofConfig,
    ) -> Result<Box<dyn Extension>, ConfigErrors> {
        Ok(Box::new(Pprof {
            cfg,
            server: HttpServer::default(),
            lifetime: None,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tests::{context, get};
    use ::pprof::protos::Profile;
    use ferrotel_core::{AnyFactory, ServiceInfo};
    use ferrotel_testkit::config::{create_context, refused, yaml};
    use std::io::Read;

    fn create(config: &str) -> Result<Box<dyn Extension>, ConfigErrors> {
        PprofFactory.create_from(&create_context("extensions", "pprof"), &yaml(config))
    }

    fn testdata(name: &str) -> String {
        ferrotel_testkit::config::testdata(env!("CARGO_MANIFEST_DIR"), "pprof", name)
    }

    async fn started(yaml: &str) -> (Box<dyn Extension>, String) {
        let mut ext = create(yaml).unwrap();
        ext.start(context("pprof", ServiceInfo::default()))
            .await
            .unwrap();
        let addr = ext.as_any().downcast_ref::<Pprof>().unwrap().local_addr();
        (ext, format!("http://{}/debug/pprof", addr.unwrap()))
    }

    /// Keeps one core busy for `d`, so that the profile has samples.
    fn burn(d: Duration) -> std::thread::JoinHandle<u64> {
        std::thread::spawn(move || {
            let end = std::time::Instant::now() + d;
            let mut x = 1u64;
            while std::time::Instant::now() < end {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            x
        })
    }

    fn decode(gzipped: &[u8]) -> Profile {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gzipped)
            .read_to_end(&mut raw)
            .unwrap();
        Profile::decode(raw.as_slice()).unwrap()
    }

    /// A CPU profile as pprof reads it: two sample types (samples/count, cpu/nanoseconds),
    /// Go's 100 Hz period, and samples whose locations and functions resolve.
    fn assert_cpu_profile(p: &Profile, min: Duration) {
        let s = |i: i64| p.string_table[i as usize].as_str();
        assert_eq!(s(0), "");
        let types: Vec<_> = p.sample_type.iter().map(|t| (s(t.ty), s(t.unit))).collect();
        assert_eq!(types, [("samples", "count"), ("cpu", "nanoseconds")]);
        assert_eq!(p.period, 10_000_000);
        assert!(
            p.duration_nanos >= min.as_nanos() as i64,
            "{}",
            p.duration_nanos
        );
        assert!(p.time_nanos > 0);
        assert!(!p.sample.is_empty(), "no samples");
        for sample in &p.sample {
            assert_eq!(sample.value.len(), 2);
            assert!(sample.value[0] > 0);
            for id in &sample.location_id {
                let loc = p.location.iter().find(|l| l.id == *id).unwrap();
                let f = loc.line[0].function_id;
                assert!(p.function.iter().any(|x| x.id == f));
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_a_cpu_profile_one_at_a_time_and_saves_one_to_file() {
        let (mut ext, base) = started(&testdata("valid.yaml")).await;
        // While a profile runs (here: one the test holds), another is refused.
        let running = start_profiler().unwrap();
        let (status, _, body) = get(&format!("{base}/profile?seconds=1")).await;
        assert_eq!(status, 409, "{body}");
        assert!(body.contains("cpu profiling already in use"), "{body}");
        drop(running);

        let busy = burn(Duration::from_millis(1500));
        let r = reqwest::get(format!("{base}/profile?seconds=1"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        assert_cpu_profile(&decode(&r.bytes().await.unwrap()), Duration::from_secs(1));
        busy.join().unwrap();
        ext.shutdown().await;

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cpu.pprof");
        let yaml = format!(
            "{{endpoint: '127.0.0.1:0', save_to_file: '{}'}}",
            file.display()
        );
        let (mut ext, base) = started(&yaml).await;
        let (status, _, body) = get(&format!("{base}/profile?seconds=1")).await;
        assert_eq!(status, 409, "save_to_file holds the profiler: {body}");
        burn(Duration::from_millis(500)).join().unwrap();
        ext.shutdown().await;
        assert_cpu_profile(&decode(&std::fs::read(&file).unwrap()), Duration::ZERO);
    }

    #[tokio::test]
    async fn bad_seconds_index_and_unavailable_profiles() {
        let (mut ext, base) = started("endpoint: 127.0.0.1:0").await;
        for bad in ["abc", "0", "301", "-1", "1.5"] {
            let (status, _, body) = get(&format!("{base}/profile?seconds={bad}")).await;
            assert_eq!(status, 400, "{bad}: {body}");
            assert!(
                body.contains(&format!("invalid seconds \"{bad}\"")),
                "{body}"
            );
        }
        let (status, ct, body) = get(&format!("{base}/")).await;
        assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
        assert_eq!(get(&base).await.2, body);
        assert_eq!(get(&format!("{base}x")).await.0, 404);
        assert!(body.contains("href=\"profile?seconds=30\""), "{body}");
        let (status, _, body) = get(&format!("{base}/heap")).await;
        assert_eq!(status, 404);
        assert!(
            body.contains("/debug/pprof/heap is not available"),
            "{body}"
        );
        assert_eq!(get(&format!("{base}/mutex")).await.0, 404);
        let (status, _, body) = get(&format!("{base}/cmdline")).await;
        assert_eq!(status, 200);
        assert!(!body.is_empty());
        assert_eq!(get(&format!("{base}/nothing")).await.0, 404);
        ext.shutdown().await;
        ext.shutdown().await; // idempotent
    }

    #[test]
    fn seconds_parsing() {
        assert_eq!(parse_seconds(None), Ok(30));
        assert_eq!(parse_seconds(Some("debug=1")), Ok(30));
        assert_eq!(parse_seconds(Some("seconds=")), Ok(30));
        assert_eq!(parse_seconds(Some("x=1&seconds=300")), Ok(300));
        assert!(parse_seconds(Some("seconds=1000")).is_err());
    }

    #[test]
    fn config_defaults_typo_and_invalid_values() {
        let c = PprofConfig::default();
        assert_eq!(c.endpoint, "localhost:1777");
        assert_eq!((c.block_profile_fraction, c.mutex_profile_fraction), (0, 0));
        assert!(c.save_to_file.is_empty());
        assert!(create(&testdata("valid.yaml")).is_ok());
        let text = testdata("typo.yaml");
        let e = refused(create(&text), &text);
        assert_eq!(e.0[0].path, "extensions.pprof.save_to_fle", "{e}");
        let text = testdata("invalid.yaml");
        let e = refused(create(&text), &text);
        assert_eq!(
            e.0[0].path, "extensions.pprof.block_profile_fraction",
            "{e}"
        );
    }

    #[tokio::test]
    async fn an_endpoint_that_cannot_be_bound_fails_at_start_naming_it() {
        let mut ext = create("endpoint: '127.0.0.1:port'").unwrap();
        let e = ext
            .start(context("pprof", ServiceInfo::default()))
            .await
            .err()
            .unwrap();
        assert!(e.0.contains("listen tcp 127.0.0.1:port"), "{e}");
    }
}
