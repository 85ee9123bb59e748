//! `debug` exporter (and the removed `logging` exporter's type name, with its old defaults):
//! writes what it receives as text, to the collector's log (stderr) or to `output_paths`, with
//! otelcol's layouts for `basic`, `normal` and `detailed` verbosity and zap's per-second
//! sampling. Exports never fail. Values of credential attributes (Authorization, Cookie, ...)
//! are printed as `[REDACTED]`. Profiles (behind the `service.profilesSupport` feature gate) get
//! otelcol's summary line (`Profiles {"resource profiles": 1, "sample records": 8}`) at every
//! verbosity; their normal and detailed dumps are not written yet.
//!
//! ```yaml
//! exporters:
//!   debug:
//!     verbosity: detailed        # basic (default) | normal | detailed
//!     sampling_initial: 2        # first N messages each second ...
//!     sampling_thereafter: 1     # ... then every Mth (1 = no sampling)
//!     use_internal_logger: true  # false: write to output_paths instead
//!     # output_paths: [stdout]
//! ```

mod text;

pub use text::{basic, detailed, go_time, is_sensitive, normal};

use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::{ConfigErrors, GoDuration, QueueConfig, RetryConfig, Validate, Validator};
use ferrotel_core::{
    Batch, CreateContext, ExportError, Exporter, ExporterParts, ExporterSettings, Factory,
    FactoryInfo, Signal, Stability,
};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `exporters.debug` (and `exporters.logging`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DebugConfig {
    /// `basic`, `normal` or `detailed` (default `basic`; `normal` for `logging`).
    pub verbosity: Option<Choice<Verbosity>>,
    /// Messages logged each second before sampling starts.
    pub sampling_initial: u32,
    /// After `sampling_initial`, log every Mth message in that second (default 1; 500 for `logging`).
    pub sampling_thereafter: Option<u32>,
    /// Write through the collector's own logger (stderr). `false`: write to `output_paths`.
    pub use_internal_logger: bool,
    /// `stdout`, `stderr` or file paths; only with `use_internal_logger: false` (default `[stdout]`).
    pub output_paths: Option<Vec<String>>,
    /// `logging` only, deprecated: `debug` means `detailed`, any other level `normal`.
    pub loglevel: Option<Choice<LogLevel>>,
    /// exporterhelper queue; disabled by default for this exporter.
    pub sending_queue: QueueConfig,
}

impl Default for DebugConfig {
    fn default() -> Self {
        DebugConfig {
            verbosity: None,
            sampling_initial: 2,
            sampling_thereafter: None,
            use_internal_logger: true,
            output_paths: None,
            loglevel: None,
            sending_queue: QueueConfig::disabled(),
        }
    }
}

impl Validate for DebugConfig {
    fn validate(&self, v: &mut Validator<'_>) {
        if self.loglevel.is_some() && self.verbosity.is_some() {
            v.report_at(
                "loglevel",
                "'loglevel' and 'verbosity' are incompatible. Use only 'verbosity' instead.",
            );
        }
        if let Some(level) = self.verbosity.as_ref().and_then(Choice::unknown) {
            v.report_at(
                "verbosity",
                format!("verbosity level {level:?} is not supported"),
            );
        }
        if let Some(level) = self.loglevel.as_ref().and_then(Choice::unknown) {
            v.report_at("loglevel", format!("unrecognized level: {level:?}"));
        }
        if self.use_internal_logger && self.output_paths.is_some() {
            v.report_at(
                "output_paths",
                "output_paths is only valid when use_internal_logger is false",
            );
        }
        v.check("sending_queue", &self.sending_queue);
        if !self.use_internal_logger && self.output_paths.as_ref().is_some_and(Vec::is_empty) {
            v.report_at("output_paths", "must not be empty");
        }
    }
}

/// How much the exporter prints per batch (otelcol's `configtelemetry` levels; case is
/// ignored, as otelcol does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    Basic,
    Normal,
    Detailed,
}

impl Choices for Verbosity {
    const IGNORE_CASE: bool = true;
}

/// The `logging` exporter's `loglevel` (zap's levels; case is ignored, `""` is `info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    #[serde(alias = "")]
    Info,
    Warn,
    Error,
    Dpanic,
    Panic,
    Fatal,
}

impl Choices for LogLevel {
    const IGNORE_CASE: bool = true;
}

/// The per-second sampler of zap that otelcol's debug exporter uses: in each one-second window,
/// the first `initial` messages of a kind pass, then every `thereafter`-th (none if 0).
#[derive(Debug)]
pub struct Sampler {
    initial: u64,
    thereafter: u64,
    state: Mutex<(Instant, [u64; 4])>,
}

impl Sampler {
    pub fn new(initial: u32, thereafter: u32) -> Self {
        Sampler {
            initial: u64::from(initial),
            thereafter: u64::from(thereafter),
            state: Mutex::new((Instant::now(), [0; 4])),
        }
    }

    /// Whether a message of `signal` seen at `now` is logged.
    pub fn allow_at(&self, signal: Signal, now: Instant) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(st.0) >= Duration::from_secs(1) {
            *st = (now, [0; 4]);
        }
        let slot = match signal {
            Signal::Traces => 0,
            Signal::Metrics => 1,
            Signal::Logs => 2,
            Signal::Profiles => 3,
        };
        st.1[slot] += 1;
        let n = st.1[slot];
        n <= self.initial || (n - self.initial).checked_rem(self.thereafter) == Some(0)
    }
}

enum Output {
    /// The collector's log, tagged with the component id.
    Logger {
        id: String,
    },
    Writers(Mutex<Vec<Box<dyn Write + Send>>>),
}

/// The exporter.
pub struct DebugExporter {
    verbosity: Verbosity,
    sampler: Sampler,
    output: Output,
}

impl DebugExporter {
    /// The text for one batch: the summary line, then the per-verbosity body (may be empty).
    pub fn render(&self, batch: &Batch) -> (String, String) {
        if self.verbosity == Verbosity::Basic && !batch.is_decoded() {
            if let Some(summary) = text::basic_encoded(batch.signal(), &batch.encoded()) {
                return (summary, String::new());
            }
        }
        match batch.view() {
            Ok(data) => {
                let body = match self.verbosity {
                    Verbosity::Basic => String::new(),
                    Verbosity::Normal => normal(data),
                    Verbosity::Detailed => detailed(data),
                };
                (basic(data), body)
            }
            Err(e) => (format!("{}: {e}", batch.signal()), String::new()),
        }
    }

    fn emit(&self, signal: Signal, summary: &str, body: &str) {
        match &self.output {
            Output::Logger { id } => {
                tracing::info!(
                    otelcol.component.id = %id,
                    otelcol.component.kind = "exporter",
                    otelcol.signal = signal.as_str(),
                    "{summary}"
                );
                if !body.is_empty() {
                    // The fields are written after the message: with the text ending in a
                    // newline they start a line of their own, as zap's do after otelcol's
                    // text, instead of reading as part of the last record's attributes.
                    tracing::info!(
                        otelcol.component.id = %id,
                        otelcol.component.kind = "exporter",
                        otelcol.signal = signal.as_str(),
                        "{}",
                        ends_with_newline(body)
                    );
                }
            }
            Output::Writers(ws) => {
                let mut ws = ws.lock().unwrap_or_else(|e| e.into_inner());
                for w in ws.iter_mut() {
                    // Failing to print is not an export failure (otelcol ignores sync errors too).
                    let _ = writeln!(w, "{summary}");
                    let _ = w.write_all(body.as_bytes());
                    let _ = w.flush();
                }
            }
        }
    }
}

/// `text` ending in exactly one newline.
fn ends_with_newline(text: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = text.trim_end_matches('\n');
    if trimmed.len() + 1 == text.len() {
        text.into()
    } else {
        format!("{trimmed}\n").into()
    }
}

#[async_trait::async_trait]
impl Exporter for DebugExporter {
    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        if self.sampler.allow_at(batch.signal(), Instant::now()) {
            let (summary, body) = self.render(&batch);
            self.emit(batch.signal(), &summary, &body);
        }
        Ok(())
    }
}

/// Factory of `debug` (alias `logging`).
pub struct DebugExporterFactory;

fn open_output(path: &str) -> std::io::Result<Box<dyn Write + Send>> {
    Ok(match path {
        "stdout" => Box::new(std::io::stdout()),
        "stderr" => Box::new(std::io::stderr()),
        file => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)?,
        ),
    })
}

/// Builds the exporter from a validated config; `logging` selects the old exporter's defaults.
/// Reports what only creation finds: `loglevel` outside `logging`, output files that cannot
/// be opened.
fn build(
    v: &mut Validator<'_>,
    cfg: &DebugConfig,
    logging: bool,
    id: String,
) -> (DebugExporter, ExporterSettings) {
    if cfg.loglevel.is_some() && !logging {
        v.report_at(
            "loglevel",
            "unknown field `loglevel` (only the deprecated `logging` exporter has it; use `verbosity`)",
        );
    }
    let verbosity = match (&cfg.verbosity, &cfg.loglevel) {
        (Some(level), _) => level.known().unwrap_or(Verbosity::Basic),
        (None, Some(Choice::Known(LogLevel::Debug))) => Verbosity::Detailed,
        (None, Some(_)) => Verbosity::Normal,
        (None, None) if logging => Verbosity::Normal,
        (None, None) => Verbosity::Basic,
    };
    let settings = ExporterSettings {
        timeout: GoDuration::default(),
        retry: RetryConfig {
            enabled: false,
            ..Default::default()
        },
        queue: cfg.sending_queue.clone(),
    };
    let output = if cfg.use_internal_logger {
        Output::Logger { id }
    } else {
        let paths = cfg
            .output_paths
            .clone()
            .unwrap_or_else(|| vec!["stdout".to_string()]);
        let mut ws = vec![];
        for (i, p) in paths.iter().enumerate() {
            match open_output(p) {
                Ok(w) => ws.push(w),
                // Named as decoding errors name a list entry.
                Err(e) => v.report_at(
                    format_args!("output_paths[{i}]"),
                    format!("cannot open {p:?}: {e}"),
                ),
            }
        }
        Output::Writers(Mutex::new(ws))
    };
    let thereafter = cfg
        .sampling_thereafter
        .unwrap_or(if logging { 500 } else { 1 });
    let exporter = DebugExporter {
        verbosity,
        sampler: Sampler::new(cfg.sampling_initial, thereafter),
        output,
    };
    (exporter, settings)
}

impl Factory for DebugExporterFactory {
    type Config = DebugConfig;
    type Component = ExporterParts;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "debug",
            "Writes telemetry as text to the log or to files (otelcol's debug exporter)",
        )
        .aliases(&["logging"])
        .all_signals(Stability::Stable)
        .signal(Signal::Profiles, Stability::Alpha)
    }

    fn create(&self, ctx: &CreateContext, cfg: DebugConfig) -> Result<ExporterParts, ConfigErrors> {
        let logging = ctx.id.type_name == "logging";
        let (exporter, settings) =
            crate::shared::build(ctx, |v| Some(build(v, &cfg, logging, ctx.id.to_string())))?;
        Ok(ExporterParts {
            exporter: Arc::new(exporter),
            settings,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
