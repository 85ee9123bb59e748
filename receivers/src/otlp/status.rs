//! `google.rpc.Status`, the error body of OTLP/HTTP and the details of a gRPC status, in
//! protobuf and in JSON, with an optional `google.rpc.RetryInfo` for retryable refusals.

use bytes::Bytes;
use ferrotel_core::PipelineError;
use prost::Message;
use std::time::Duration;

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// An error as the client will see it: a gRPC code, a message and an optional retry delay.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorStatus {
    pub code: i32,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl ErrorStatus {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        ErrorStatus {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The status of a pipeline error; only retryable refusals carry a retry delay.
    pub fn from_pipeline(e: &PipelineError) -> Self {
        ErrorStatus {
            code: e.grpc_code(),
            message: e.to_string(),
            retry_after: e.retry_after().filter(|_| e.is_retryable()),
        }
    }

    fn proto(&self) -> RpcStatus {
        let details = self
            .retry_after
            .map(|d| ProtoAny {
                type_url: RETRY_INFO_TYPE.into(),
                value: RetryInfo {
                    retry_delay: Some(ProtoDuration {
                        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
                    }),
                }
                .encode_to_vec(),
            })
            .into_iter()
            .collect();
        RpcStatus {
            code: self.code,
            message: self.message.clone(),
            details,
        }
    }

    /// The protobuf encoding.
    pub fn to_protobuf(&self) -> Bytes {
        Bytes::from(self.proto().encode_to_vec())
    }

    /// The protojson encoding (`{"code":3,"message":"..."}`).
    pub fn to_json(&self) -> Bytes {
        let mut v = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(d) = self.retry_after {
            v["details"] = serde_json::json!([{
                "@type": RETRY_INFO_TYPE,
                "retryDelay": format_json_duration(d),
            }]);
        }
        Bytes::from(v.to_string())
    }

    /// The tonic status, with the RetryInfo detail when there is a retry delay.
    pub fn to_tonic(&self) -> tonic::Status {
        let code = tonic::Code::from_i32(self.code);
        match self.retry_after {
            Some(_) => tonic::Status::with_details(code, self.message.clone(), self.to_protobuf()),
            None => tonic::Status::new(code, self.message.clone()),
        }
    }
}

/// protojson's `google.protobuf.Duration`: seconds with up to 9 decimals and an `s`.
fn format_json_duration(d: Duration) -> String {
    match d.subsec_nanos() {
        0 => format!("{}s", d.as_secs()),
        n => {
            let mut frac = format!("{n:09}");
            while frac.len() > 3 && frac.ends_with("000") {
                frac.truncate(frac.len() - 3);
            }
            format!("{}.{frac}s", d.as_secs())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encodes_status_with_retry_info() {
        let s = ErrorStatus::from_pipeline(&PipelineError::refused("data refused"));
        assert_eq!(s.code, 14);
        assert_eq!(s.retry_after, Some(Duration::from_secs(1)));
        let json: serde_json::Value = serde_json::from_slice(&s.to_json()).unwrap();
        assert_eq!(json["code"], 14);
        assert_eq!(json["message"], "data refused");
        assert_eq!(json["details"][0]["@type"], RETRY_INFO_TYPE);
        assert_eq!(json["details"][0]["retryDelay"], "1s");
        let pb = RpcStatus::decode(s.to_protobuf()).unwrap();
        assert_eq!(pb.code, 14);
        let ri = RetryInfo::decode(pb.details[0].value.as_slice()).unwrap();
        assert_eq!(ri.retry_delay.unwrap().seconds, 1);
        let t = s.to_tonic();
        assert_eq!(t.code(), tonic::Code::Unavailable);
        assert_eq!(RpcStatus::decode(t.details()).unwrap().details.len(), 1);

        let p = ErrorStatus::from_pipeline(&PipelineError::Permanent("bad".into()));
        assert_eq!(p.retry_after, None);
        assert_eq!(&p.to_json()[..], br#"{"code":13,"message":"bad"}"#);
        assert_eq!(format_json_duration(Duration::from_millis(1500)), "1.500s");
        assert_eq!(format_json_duration(Duration::new(2, 1_000)), "2.000001s");
    }
}
