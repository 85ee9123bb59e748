//! `zpages` extension (otelcol core): simple HTML pages describing the running collector, for
//! a human debugging it. The pages are those of otelcol's service:
//!
//! - `/debug/servicez`: build information, start time and uptime, links to the other pages;
//! - `/debug/pipelinez`: every pipeline with its receivers, processors and exporters;
//! - `/debug/extensionz`: the extensions, in start order;
//! - `/debug/featurez`: the feature gates, their stage and whether each is enabled;
//! - `/debug/tracez`: otelcol shows its own spans here; ferrotel emits none, and the page says so;
//! - `/debug/expvar` (with `expvar.enabled`): process variables as JSON.
//!
//! ```yaml
//! extensions:
//!   zpages:
//!     endpoint: 0.0.0.0:55679   # default localhost:55679
//!     expvar:
//!       enabled: true           # default false
//! service:
//!   extensions: [zpages]
//! ```

use crate::http_server::{not_found, reply, HttpServer, Reply, Request};
use ferrotel_config::{ConfigErrors, GoDuration, TlsServerConfig, Validate, Validator, Value};
use ferrotel_core::format::{go_duration, rfc3339_nano};
use ferrotel_core::{
    featuregate, ComponentId, CreateContext, Extension, ExtensionContext, Factory, FactoryInfo,
    ServiceInfo, Stability, StartError,
};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// `expvar`: the `/debug/expvar` page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpvarConfig {
    /// Serve `/debug/expvar` (JSON: the command line and the collector's version).
    pub enabled: bool,
}

/// `extensions.zpages`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZPagesConfig {
    /// `host:port` to listen on.
    pub endpoint: String,
    /// The `/debug/expvar` page.
    pub expvar: ExpvarConfig,
    /// TLS for the endpoint (confighttp's `tls`).
    pub tls: Option<TlsServerConfig>,
    /// confighttp server settings accepted for compatibility, not used.
    pub include_metadata: Option<bool>,
    pub max_request_body_size: Option<Value>,
    pub cors: Option<Value>,
    pub response_headers: Option<Value>,
    pub read_timeout: Option<GoDuration>,
    pub read_header_timeout: Option<GoDuration>,
    pub write_timeout: Option<GoDuration>,
    pub idle_timeout: Option<GoDuration>,
    pub keep_alives_enabled: Option<bool>,
    pub compression_algorithms: Option<Value>,
}

impl Default for ZPagesConfig {
    fn default() -> Self {
        ZPagesConfig {
            endpoint: "localhost:55679".into(),
            expvar: ExpvarConfig::default(),
            tls: None,
            include_metadata: None,
            max_request_body_size: None,
            cors: None,
            response_headers: None,
            read_timeout: None,
            read_header_timeout: None,
            write_timeout: None,
            idle_timeout: None,
            keep_alives_enabled: None,
            compression_algorithms: None,
        }
    }
}

impl Validate for ZPagesConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        // As otelcol: only emptiness is a config error; an address that cannot be bound
        // fails at start, naming it.
        if self.endpoint.is_empty() {
            v.report_at(
                "endpoint",
                "\"endpoint\" is required when using the \"zpages\" extension",
            );
        }
        v.check("tls", &self.tls);
    }
}

/// What the pages are made from: fixed at start.
struct Pages {
    service: Arc<ServiceInfo>,
    started: SystemTime,
    expvar: bool,
}

/// Escapes `s` for HTML text and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: title, links to the other pages, `body`.
fn page(title: &str, body: &str) -> Reply {
    let links = ["servicez", "pipelinez", "extensionz", "featurez", "tracez"]
        .map(|p| format!("<a href=\"/debug/{p}\">{p}</a>"))
        .join(" | ");
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}}</style></head>\n\
         <body><h1>{t}</h1><p>{links}</p>\n{body}</body></html>\n",
        t = esc(title)
    );
    reply(StatusCode::OK, "text/html; charset=utf-8", html)
}

/// An HTML table with a header row.
fn table(head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut t = String::from("<table>\n<tr>");
    for h in head {
        let _ = write!(t, "<th>{}</th>", esc(h));
    }
    t.push_str("</tr>\n");
    for row in rows {
        t.push_str("<tr>");
        for cell in row {
            let _ = write!(t, "<td>{}</td>", esc(&cell));
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</table>\n");
    t
}

fn ids(ids: &[ComponentId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Pages {
    fn answer(&self, path: &str) -> Reply {
        match path.trim_end_matches('/') {
            "/debug/servicez" => self.servicez(),
            "/debug/pipelinez" => self.pipelinez(),
            "/debug/extensionz" => self.extensionz(),
            "/debug/featurez" => featurez(),
            "/debug/tracez" => tracez(),
            "/debug/expvar" if self.expvar => expvar(),
            _ => not_found(),
        }
    }

    fn servicez(&self) -> Reply {
        let command = std::env::args().next().unwrap_or_default();
        let command = command.rsplit('/').next().unwrap_or_default().to_string();
        let uptime = SystemTime::now()
            .duration_since(self.started)
            .unwrap_or(Duration::ZERO);
        let rows = [
            ("Command", command),
            ("Description", "ferrotel, an OpenTelemetry Collector".into()),
            ("Version", env!("CARGO_PKG_VERSION").into()),
            ("Start time", rfc3339_nano(self.started)),
            ("Uptime", go_duration(uptime)),
        ];
        let body = format!(
            "<h2>Build and runtime</h2>\n{}",
            table(
                &["Property", "Value"],
                rows.map(|(k, v)| vec![k.to_string(), v])
            )
        );
        page("Service", &body)
    }

    fn pipelinez(&self) -> Reply {
        let rows = self.service.pipelines.iter().map(|p| {
            vec![
                p.id.clone(),
                p.signal.to_string(),
                ids(&p.receivers),
                ids(&p.processors),
                ids(&p.exporters),
            ]
        });
        let head = [
            "Full name",
            "Input type",
            "Receivers",
            "Processors",
            "Exporters",
        ];
        page("Pipelines", &table(&head, rows))
    }

    fn extensionz(&self) -> Reply {
        let rows = self.service.extensions.iter().map(|e| vec![e.to_string()]);
        page("Extensions", &table(&["Full name"], rows))
    }
}

fn featurez() -> Reply {
    let mut gates = featuregate::global().all();
    gates.sort_by(|a, b| a.id().cmp(b.id()));
    let rows = gates.iter().map(|g| {
        vec![
            g.id().to_string(),
            g.is_enabled().to_string(),
            g.stage().to_string(),
            g.from_version().unwrap_or_default(),
            g.to_version().unwrap_or_default(),
            g.description().to_string(),
            g.reference_url().to_string(),
        ]
    });
    let head = [
        "ID",
        "Enabled",
        "Stage",
        "From version",
        "To version",
        "Description",
        "Reference URL",
    ];
    page("Feature gates", &table(&head, rows))
}

fn tracez() -> Reply {
    page(
        "Traces",
        "<p>ferrotel does not trace its own work: it emits no spans, so there are no span \
         summaries to show here. The collector's self-metrics are served by \
         <code>service.telemetry.metrics</code>.</p>\n",
    )
}

/// JSON of `cmdline` (as Go's expvar) and ferrotel's version.
fn expvar() -> Reply {
    let json_str = |s: &str| {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    let args: Vec<String> = std::env::args().map(|a| json_str(&a)).collect();
    let body = format!(
        "{{\n\"cmdline\": [{}],\n\"version\": {}\n}}\n",
        args.join(", "),
        json_str(env!("CARGO_PKG_VERSION"))
    );
    reply(StatusCode::OK, "application/json; charset=utf-8", body)
}

/// The running extension.
pub struct ZPages {
    cfg: ZPagesConfig,
    server: HttpServer,
}

impl ZPages {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.local_addr()
    }
}

#[async_trait::async_trait]
impl Extension for ZPages {
    async fn start(&mut self, ctx: ExtensionContext) -> Result<(), StartError> {
        let pages = Arc::new(Pages {
            started: ctx.service.started.unwrap_or_else(SystemTime::now),
            service: ctx.service.clone(),
            expvar: self.cfg.expvar.enabled,
        });
        let handler = move |req: Request| std::future::ready(pages.answer(req.uri().path()));
        self.server =
            HttpServer::start(&ctx, &self.cfg.endpoint, self.cfg.tls.as_ref(), handler).await?;
        Ok(())
    }

    async fn shutdown(&mut self) {
        self.server.shutdown().await;
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Factory of `zpages`.
pub struct ZPagesFactory;

impl Factory for ZPagesFactory {
    type Config = ZPagesConfig;
    type Component = Box<dyn Extension>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "zpages",
            "HTML pages describing the running collector (pipelines, extensions, feature gates)",
        )
        .stability(Stability::Beta)
        .example("endpoint: 127.0.0.1:0")
    }

    fn create(
        &self,
        _ctx: &CreateContext,
        cfg: ZPagesConfig,
    ) -> Result<Box<dyn Extension>, ConfigErrors> {
        Ok(Box::new(ZPages {
            cfg,
            server: HttpServer::default(),
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tests::{context, get};
    use ferrotel_core::{AnyFactory, PipelineInfo, Signal};
    use ferrotel_testkit::config::{create_context, refused, yaml};

    fn create(config: &str) -> Result<Box<dyn Extension>, ConfigErrors> {
        ZPagesFactory.create_from(&create_context("extensions", "zpages"), &yaml(config))
    }

    fn testdata(name: &str) -> String {
        ferrotel_testkit::config::testdata(env!("CARGO_MANIFEST_DIR"), "zpages", name)
    }

    fn ids(s: &[&str]) -> Vec<ComponentId> {
        s.iter().map(|i| ComponentId::parse(i).unwrap()).collect()
    }

    fn service() -> ServiceInfo {
        ServiceInfo {
            pipelines: vec![PipelineInfo {
                id: "traces/in".into(),
                signal: Signal::Traces,
                receivers: ids(&["otlp/edge"]),
                processors: ids(&["memory_limiter", "batch/small"]),
                exporters: ids(&["debug", "forward/x"]),
            }],
            extensions: ids(&["health_check/probe", "zpages"]),
            started: Some(SystemTime::now() - Duration::from_secs(90)),
        }
    }

    async fn started(yaml: &str) -> (Box<dyn Extension>, String) {
        let mut ext = create(yaml).unwrap();
        ext.start(context("zpages", service())).await.unwrap();
        let addr = ext.as_any().downcast_ref::<ZPages>().unwrap().local_addr();
        (ext, format!("http://{}", addr.unwrap()))
    }

    #[tokio::test]
    async fn serves_each_page_from_the_service_it_was_given() {
        let (mut ext, base) = started(&testdata("valid.yaml")).await;
        let (status, ct, body) = get(&format!("{base}/debug/pipelinez")).await;
        assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
        for cell in [
            "<td>traces/in</td>",
            "<td>traces</td>",
            "<td>otlp/edge</td>",
            "<td>memory_limiter, batch/small</td>",
            "<td>debug, forward/x</td>",
        ] {
            assert!(body.contains(cell), "{cell} missing:\n{body}");
        }
        let (_, _, body) = get(&format!("{base}/debug/extensionz")).await;
        assert!(body.contains("<td>health_check/probe</td>"), "{body}");
        assert!(body.contains("<td>zpages</td>"), "{body}");

        let (_, _, body) = get(&format!("{base}/debug/servicez")).await;
        assert!(body.contains(env!("CARGO_PKG_VERSION")), "{body}");
        assert!(body.contains("<td>Uptime</td><td>1m3"), "{body}");
        let (_, _, body) = get(&format!("{base}/debug/tracez")).await;
        assert!(body.contains("emits no spans"), "{body}");

        featuregate::global()
            .register(featuregate::GateSpec::new(
                "zpages.testGate",
                featuregate::Stage::Beta,
            ))
            .unwrap();
        let (_, _, body) = get(&format!("{base}/debug/featurez")).await;
        assert!(
            body.contains("<td>zpages.testGate</td><td>true</td><td>Beta</td>"),
            "{body}"
        );

        let (status, ct, body) = get(&format!("{base}/debug/expvar")).await;
        assert_eq!(
            (status, ct.as_str()),
            (200, "application/json; charset=utf-8")
        );
        assert!(body.contains("\"cmdline\": [\""), "{body}");
        assert_eq!(get(&format!("{base}/debug/nothing")).await.0, 404);
        ext.shutdown().await;
        ext.shutdown().await; // idempotent
    }

    #[tokio::test]
    async fn serves_over_tls() {
        let pki = ferrotel_testkit::pki::TestPki::new();
        let yaml = format!(
            "{{endpoint: '127.0.0.1:0', tls: {{cert_file: '{}', key_file: '{}'}}}}",
            pki.path("server.crt"),
            pki.path("server.key")
        );
        let (mut ext, url) = started(&yaml).await;
        let ca = reqwest::Certificate::from_pem(&pki.pem("ca.crt")).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(ca)
            .tls_built_in_root_certs(false)
            .build()
            .unwrap();
        let https = url.replace("http://127.0.0.1", "https://localhost");
        let r = client.get(format!("{https}/debug/pipelinez")).send();
        let body = r.await.unwrap().text().await.unwrap();
        assert!(body.contains("<td>otlp/edge</td>"), "{body}");
        ext.shutdown().await;
    }

    #[tokio::test]
    async fn expvar_is_off_by_default() {
        let (mut ext, base) = started("endpoint: 127.0.0.1:0").await;
        assert_eq!(get(&format!("{base}/debug/expvar")).await.0, 404);
        assert_eq!(get(&format!("{base}/debug/servicez")).await.0, 200);
        ext.shutdown().await;
    }

    #[tokio::test]
    async fn an_endpoint_that_cannot_be_bound_fails_at_start_naming_it() {
        let mut ext = create("endpoint: localhost").unwrap();
        let e = ext
            .start(context("zpages", ServiceInfo::default()))
            .await
            .err()
            .unwrap();
        assert!(e.0.contains("listen tcp localhost"), "{e}");
    }

    #[test]
    fn config_defaults_typo_and_invalid_endpoint() {
        let c = ZPagesConfig::default();
        assert_eq!(c.endpoint, "localhost:55679");
        assert!(!c.expvar.enabled);
        assert!(create("").is_ok());
        let text = testdata("typo.yaml");
        let e = refused(create(&text), &text);
        assert_eq!(e.0[0].path, "extensions.zpages.expvar.enabeld", "{e}");
        let text = testdata("invalid.yaml");
        let e = refused(create(&text), &text);
        assert_eq!(e.0[0].path, "extensions.zpages.endpoint", "{e}");
        assert!(e.to_string().contains("\"endpoint\" is required"), "{e}");
        let e = refused(create("tls: {cert_file: a}"), "tls");
        assert_eq!(e.0[0].path, "extensions.zpages.tls", "{e}");
    }
}
