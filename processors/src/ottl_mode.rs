//! otelcol's `error_mode` for OTTL (`ignore`, `silent`, `propagate`, any case), as the
//! components that take OTTL read it from their config.

use ferrotel_config::choice::{Choice, Choices};
use ferrotel_config::Validator;
use ferrotel_ottl::ErrorMode;
use serde::{Deserialize, Serialize};

/// `error_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OttlErrorMode {
    Ignore,
    Silent,
    Propagate,
}

impl Choices for OttlErrorMode {
    const IGNORE_CASE: bool = true;
}

impl From<OttlErrorMode> for ErrorMode {
    fn from(m: OttlErrorMode) -> Self {
        match m {
            OttlErrorMode::Ignore => ErrorMode::Ignore,
            OttlErrorMode::Silent => ErrorMode::Silent,
            OttlErrorMode::Propagate => ErrorMode::Propagate,
        }
    }
}

/// The mode a config names; an unknown name is reported at `error_mode` as otelcol words it
/// (lower-cased).
pub fn error_mode(mode: &Choice<OttlErrorMode>, v: &mut Validator<'_>) -> Option<ErrorMode> {
    match mode {
        Choice::Known(m) => Some(ErrorMode::from(*m)),
        Choice::Unknown(other) => {
            v.report_at(
                "error_mode",
                format!("unknown error mode {}", other.to_lowercase()),
            );
            None
        }
    }
}
