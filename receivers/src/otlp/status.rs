//! What a client is answered when the pipeline does not take its data: a `google.rpc.Status`
//! ([`ErrorStatus`], declared in `ferrotel-transport`) with the pipeline error's gRPC code and
//! message, and a `google.rpc.RetryInfo` detail for retryable refusals.

use ferrotel_core::PipelineError;
pub use ferrotel_transport::status::ErrorStatus;

/// The status of a pipeline error; only retryable refusals carry a retry delay.
pub fn of_pipeline(e: &PipelineError) -> ErrorStatus {
    ErrorStatus::new(e.grpc_code(), e.to_string())
        .with_retry_after(e.retry_after().filter(|_| e.is_retryable()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_retryable_refusals_carry_a_retry_delay() {
        let s = of_pipeline(&PipelineError::refused("data refused"));
        assert_eq!(s.code, 14);
        assert_eq!(s.message, "data refused");
        assert_eq!(s.retry_after, Some(Duration::from_secs(1)));
        let json: serde_json::Value = serde_json::from_slice(&s.to_json()).unwrap();
        assert_eq!(json["details"][0]["retryDelay"], "1s");
        assert_eq!(s.to_tonic().code(), tonic::Code::Unavailable);

        let p = of_pipeline(&PipelineError::Permanent("bad".into()));
        assert_eq!(p.retry_after, None);
        assert_eq!(&p.to_json()[..], br#"{"code":13,"message":"bad"}"#);
    }
}
