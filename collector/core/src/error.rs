//! Errors that cross component boundaries, and the one place they map to gRPC and HTTP
//! statuses (otelcol's `GetStatusFromError` / `GetHTTPStatusCodeFromStatus`).

use std::time::Duration;

/// gRPC status codes used here.
pub mod code {
    pub const OK: i32 = 0;
    pub const CANCELLED: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const ABORTED: i32 = 10;
    pub const OUT_OF_RANGE: i32 = 11;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const DATA_LOSS: i32 = 15;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// The HTTP status otelcol answers for a gRPC code.
pub fn http_status_for_grpc(c: i32) -> u16 {
    match c {
        code::OK => 200,
        code::CANCELLED
        | code::DEADLINE_EXCEEDED
        | code::ABORTED
        | code::OUT_OF_RANGE
        | code::UNAVAILABLE
        | code::DATA_LOSS => 503,
        code::RESOURCE_EXHAUSTED => 429,
        code::INVALID_ARGUMENT => 400,
        code::UNAUTHENTICATED => 401,
        code::PERMISSION_DENIED => 403,
        code::UNIMPLEMENTED => 404,
        _ => 500,
    }
}

/// The gRPC code for an HTTP status received from a server (otelcol's `statusutil`).
pub fn grpc_for_http_status(s: u16) -> i32 {
    match s {
        200..=299 => code::OK,
        400 => code::INVALID_ARGUMENT,
        401 => code::UNAUTHENTICATED,
        403 => code::PERMISSION_DENIED,
        404 => code::UNIMPLEMENTED,
        429 => code::RESOURCE_EXHAUSTED,
        502..=504 => code::UNAVAILABLE,
        _ => code::UNKNOWN,
    }
}

/// Why a pipeline did not take data. What the client sees depends only on this.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    /// Retryable refusal (memory limit, full queue): gRPC UNAVAILABLE, HTTP 503 with Retry-After.
    #[error("{message}")]
    Refused {
        message: String,
        retry_after: Option<Duration>,
    },
    /// A bounded buffer of the pipeline is full (the batch processor's): retryable like
    /// [`PipelineError::Refused`] for network clients, while a receiver that can wait (file_log)
    /// waits and tries again, as otelcol's blocking components make their callers wait.
    #[error("{0}")]
    Busy(String),
    /// The data can never be accepted: gRPC INTERNAL, HTTP 500.
    #[error("{0}")]
    Permanent(String),
    /// A specific gRPC status, passed through as is.
    #[error("{message}")]
    Status { code: i32, message: String },
}

impl PipelineError {
    /// The retryable refusal with otelcol's wording for a full queue.
    pub fn queue_full() -> Self {
        PipelineError::Refused {
            message: "sending queue is full".into(),
            retry_after: Some(Duration::from_secs(1)),
        }
    }

    pub fn refused(message: impl Into<String>) -> Self {
        PipelineError::Refused {
            message: message.into(),
            retry_after: Some(Duration::from_secs(1)),
        }
    }

    pub fn grpc_code(&self) -> i32 {
        match self {
            PipelineError::Refused { .. } | PipelineError::Busy(_) => code::UNAVAILABLE,
            PipelineError::Permanent(_) => code::INTERNAL,
            PipelineError::Status { code, .. } => *code,
        }
    }

    pub fn http_status(&self) -> u16 {
        http_status_for_grpc(self.grpc_code())
    }

    /// Seconds for a `Retry-After` header (HTTP 429/503) or gRPC RetryInfo.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PipelineError::Refused { retry_after, .. } => *retry_after,
            PipelineError::Busy(_) => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.http_status(), 429 | 503)
    }

    /// The pipeline's own bounded buffer is full: a caller that can wait should.
    pub fn is_busy(&self) -> bool {
        matches!(self, PipelineError::Busy(_))
    }
}

/// The outcome of one failed export attempt.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    /// Worth retrying; `throttle` is the server's hint (Retry-After, RetryInfo).
    #[error("{message}")]
    Retryable {
        message: String,
        throttle: Option<Duration>,
    },
    /// Retrying cannot help (bad request, unsupported data); the data is dropped and counted.
    #[error("not retryable error: {0}")]
    Permanent(String),
}

impl ExportError {
    pub fn retryable(message: impl Into<String>) -> Self {
        ExportError::Retryable {
            message: message.into(),
            throttle: None,
        }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        ExportError::Permanent(message.into())
    }
    pub fn is_permanent(&self) -> bool {
        matches!(self, ExportError::Permanent(_))
    }

    /// Classifies a gRPC status from a server as otelcol's OTLP exporter does.
    pub fn from_grpc(c: i32, message: impl Into<String>, retry_info: Option<Duration>) -> Self {
        let message = message.into();
        match c {
            code::CANCELLED
            | code::DEADLINE_EXCEEDED
            | code::ABORTED
            | code::OUT_OF_RANGE
            | code::UNAVAILABLE
            | code::DATA_LOSS => ExportError::Retryable {
                message,
                throttle: retry_info,
            },
            code::RESOURCE_EXHAUSTED if retry_info.is_some() => ExportError::Retryable {
                message,
                throttle: retry_info,
            },
            _ => ExportError::Permanent(message),
        }
    }

    /// Classifies an HTTP response status as otelcol's otlphttp exporter does.
    pub fn from_http(
        status: u16,
        message: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        let message = message.into();
        match status {
            429 | 503 => ExportError::Retryable {
                message,
                throttle: retry_after,
            },
            502 | 504 => ExportError::Retryable {
                message,
                throttle: None,
            },
            _ => ExportError::Permanent(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_matches_otelcol() {
        assert_eq!(PipelineError::refused("x").grpc_code(), 14);
        assert_eq!(PipelineError::refused("x").http_status(), 503);
        assert_eq!(PipelineError::Permanent("x".into()).grpc_code(), 13);
        assert_eq!(PipelineError::Permanent("x".into()).http_status(), 500);
        assert_eq!(http_status_for_grpc(code::RESOURCE_EXHAUSTED), 429);
        assert_eq!(http_status_for_grpc(code::UNIMPLEMENTED), 404);
        assert_eq!(grpc_for_http_status(503), code::UNAVAILABLE);
        assert!(ExportError::from_grpc(code::RESOURCE_EXHAUSTED, "", None).is_permanent());
        assert!(!ExportError::from_grpc(
            code::RESOURCE_EXHAUSTED,
            "",
            Some(Duration::from_secs(1))
        )
        .is_permanent());
        assert!(ExportError::from_http(400, "", None).is_permanent());
        assert!(!ExportError::from_http(502, "", None).is_permanent());
    }
}
