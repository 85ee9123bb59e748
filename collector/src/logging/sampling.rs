//! zap's sampler: per `tick`, the first `initial` records of each level and message pass, then
//! every `thereafter`-th (0: none). A sampled-out record reaches no output and no exporter.
//! The debug exporter's records are not sampled here (it has its own settings, as otelcol's).

use ferrotel_config::telemetry::LogSampling;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use tracing_subscriber::layer::Context;

pub(crate) struct Sampler {
    cfg: LogSampling,
    /// (level, message) -> (start of its tick, records seen in it).
    seen: Mutex<HashMap<(tracing::Level, String), (Instant, u64)>>,
}

impl Sampler {
    pub fn new(cfg: LogSampling) -> Self {
        Sampler {
            cfg,
            seen: Mutex::default(),
        }
    }

    /// Whether the record with `level` and `message` seen at `now` is kept.
    pub fn keep(&self, level: tracing::Level, message: &str, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 4096 {
            // Bounded: forget ticks that are over.
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.cfg.tick);
        }
        let entry = seen.entry((level, message.to_string())).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.cfg.tick {
            *entry = (now, 0);
        }
        entry.1 += 1;
        let n = entry.1;
        n <= self.cfg.initial || (n - self.cfg.initial).checked_rem(self.cfg.thereafter) == Some(0)
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Sampler {
    fn event_enabled(&self, event: &tracing::Event<'_>, _: Context<'_, S>) -> bool {
        // The debug exporter's output has its own sampling settings, as in otelcol (where it
        // makes a logger of its own).
        if event
            .metadata()
            .target()
            .starts_with("ferrotel_exporters::debug")
        {
            return true;
        }
        let f = super::Fields::of(event);
        self.keep(*event.metadata().level(), &f.message, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn first_initial_then_every_thereafter_per_tick_and_message() {
        let s = Sampler::new(LogSampling {
            tick: Duration::from_secs(10),
            initial: 2,
            thereafter: 3,
        });
        let t0 = Instant::now();
        let kept: Vec<bool> = (0..9)
            .map(|_| s.keep(tracing::Level::INFO, "m", t0))
            .collect();
        assert_eq!(
            kept,
            [true, true, false, false, true, false, false, true, false]
        );
        assert!(s.keep(tracing::Level::INFO, "other", t0));
        assert!(s.keep(tracing::Level::WARN, "m", t0));
        assert!(s.keep(tracing::Level::INFO, "m", t0 + Duration::from_secs(10)));
        let never = Sampler::new(LogSampling {
            tick: Duration::from_secs(10),
            initial: 1,
            thereafter: 0,
        });
        assert!(never.keep(tracing::Level::INFO, "m", t0));
        assert!(!(0..50).any(|_| never.keep(tracing::Level::INFO, "m", t0)));
    }
}
