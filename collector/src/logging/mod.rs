//! The collector's own log output (`service.telemetry.logs`), as otelcol's zap logger: `level`,
//! `encoding` console or json, `initial_fields`, `sampling`, `output_paths`, `disable_caller`,
//! and `processors` exporting the records as OTLP logs.
//!
//! ```yaml
//! service:
//!   telemetry:
//!     logs:
//!       level: info
//!       encoding: json
//!       initial_fields: {deployment: eu-1}
//!       sampling: {tick: 10s, initial: 10, thereafter: 100}
//!       output_paths: [stderr, /var/log/ferrotel.log]
//! ```
//!
//! The console encoding is tracing's text format (`key=value` fields), which the startup lines'
//! `endpoint=` depend on; `initial_fields` are added to json and OTLP records.

mod json;
pub(crate) mod otlp;
mod outputs;
mod sampling;

use ferrotel_config::LogsTelemetry;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Installs the global log subscriber; `FERROTEL_LOG` overrides the level with a tracing
/// filter. Returns the queue of records for the OTLP processors (none configured: `None`), and
/// an error naming an output path that cannot be opened.
pub(crate) fn init_logging(cfg: &LogsTelemetry) -> Result<Option<otlp::LogQueue>, String> {
    let level = match cfg.level.as_str() {
        "dpanic" | "panic" | "fatal" => "error",
        l => l,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROTEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let out = outputs::Outputs::open(&cfg.output_paths)?;
    // zap's error outputs carry the logger's own errors; ferrotel's has none, but the paths
    // must be usable as in otelcol.
    outputs::Outputs::open(&cfg.error_output_paths)?;
    let ansi =
        cfg.output_paths == ["stderr"] && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let format = if cfg.encoding == "json" {
        json::JsonLayer::new(out, cfg).boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(out)
            // Colours only on a terminal: log files and `docker logs` get plain text.
            .with_ansi(ansi)
            .with_target(false)
            .boxed()
    };
    let (queue, otlp_layer) = if cfg.processors.is_empty() {
        (None, None)
    } else {
        let (q, layer) = otlp::channel(cfg);
        (Some(q), Some(layer))
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(cfg.sampling.map(sampling::Sampler::new))
        .with(format)
        .with(otlp_layer)
        .try_init();
    Ok(queue)
}

/// Collects an event's fields: the message apart, the others as JSON values.
#[derive(Default)]
pub(crate) struct Fields {
    pub message: String,
    pub fields: Vec<(String, serde_json::Value)>,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put(field, serde_json::Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put(field, serde_json::Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.put(field, value.into());
    }
}

impl Fields {
    pub fn of(event: &tracing::Event<'_>) -> Fields {
        let mut f = Fields::default();
        event.record(&mut f);
        f
    }

    fn put(&mut self, field: &tracing::field::Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = match value {
                serde_json::Value::String(s) => s,
                v => v.to_string(),
            };
        } else {
            self.fields.push((field.name().to_string(), value));
        }
    }
}

/// zap's lower-case level names.
pub(crate) fn level_name(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::ERROR => "error",
        tracing::Level::WARN => "warn",
        tracing::Level::INFO => "info",
        _ => "debug",
    }
}

/// `initial_fields` as JSON values.
pub(crate) fn initial_fields(cfg: &LogsTelemetry) -> Vec<(String, serde_json::Value)> {
    cfg.initial_fields
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
        .collect()
}
