//! The `json` encoding: one object a line with zap's keys `level`, `ts` (ISO 8601), `caller`
//! (unless `disable_caller`), `msg`, then `initial_fields` and the record's fields.

use super::outputs::Outputs;
use super::{initial_fields, level_name, Fields};
use ferrotel_config::LogsTelemetry;
use serde_json::{Map, Value};
use tracing_subscriber::layer::Context;

pub(crate) struct JsonLayer {
    out: Outputs,
    caller: bool,
    initial: Vec<(String, Value)>,
}

impl JsonLayer {
    pub fn new(out: Outputs, cfg: &LogsTelemetry) -> Self {
        JsonLayer {
            out,
            caller: !cfg.disable_caller,
            initial: initial_fields(cfg),
        }
    }

    fn encode(&self, event: &tracing::Event<'_>) -> Vec<u8> {
        let meta = event.metadata();
        let f = Fields::of(event);
        let mut m = Map::new();
        m.insert("level".into(), level_name(meta.level()).into());
        m.insert(
            "ts".into(),
            humantime::format_rfc3339_millis(std::time::SystemTime::now())
                .to_string()
                .into(),
        );
        if self.caller {
            if let (Some(file), Some(line)) = (meta.file(), meta.line()) {
                m.insert("caller".into(), format!("{file}:{line}").into());
            }
        }
        m.insert("msg".into(), f.message.into());
        for (k, v) in self.initial.iter().cloned().chain(f.fields) {
            m.insert(k, v);
        }
        let mut line = serde_json::to_vec(&Value::Object(m)).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for JsonLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        self.out.write_record(&self.encode(event));
    }
}
