//! `google.rpc.Status`: the error body of OTLP/HTTP and the details of a gRPC status
//! (`grpc-status-details-bin`), with the `google.rpc.RetryInfo` detail that carries a retry
//! delay. Declared here once: receivers answer with an [`ErrorStatus`] (protobuf, protojson or a
//! tonic status), exporters read what servers send with [`RpcStatus`] and [`retry_info_delay`].

use bytes::Bytes;
use prost::Message;
use std::time::Duration;

/// The type URL of a `google.rpc.RetryInfo` detail.
pub const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl RpcStatus {
    /// A status with a `RetryInfo` detail when `retry_after` is given.
    pub fn new(code: i32, message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        let details = retry_after
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
            code,
            message: message.into(),
            details,
        }
    }

    /// The delay of the first `RetryInfo` detail, if there is one and it is not negative.
    pub fn retry_delay(&self) -> Option<Duration> {
        let any = self
            .details
            .iter()
            .find(|d| d.type_url == RETRY_INFO_TYPE)?;
        let d = RetryInfo::decode(any.value.as_slice()).ok()?.retry_delay?;
        let secs = u64::try_from(d.seconds).ok()?;
        let nanos = u32::try_from(d.nanos).ok()?;
        Some(Duration::new(secs, nanos))
    }
}

/// The `RetryInfo.retry_delay` in an encoded `google.rpc.Status` (gRPC `grpc-status-details-bin`).
pub fn retry_info_delay(encoded: &[u8]) -> Option<Duration> {
    RpcStatus::decode(encoded).ok()?.retry_delay()
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

    /// The same status, carrying `retry_after` as a `RetryInfo` detail when it is set.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// The protobuf encoding.
    pub fn to_protobuf(&self) -> Bytes {
        Bytes::from(
            RpcStatus::new(self.code, self.message.clone(), self.retry_after).encode_to_vec(),
        )
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
mod tests {
    use super::*;

    #[test]
    fn encodes_status_with_retry_info() {
        let s = ErrorStatus::new(14, "data refused").with_retry_after(Some(Duration::from_secs(1)));
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

        let p = ErrorStatus::new(13, "bad");
        assert_eq!(&p.to_json()[..], br#"{"code":13,"message":"bad"}"#);
        assert!(p.to_tonic().details().is_empty());
        assert_eq!(format_json_duration(Duration::from_millis(1500)), "1.500s");
        assert_eq!(format_json_duration(Duration::new(2, 1_000)), "2.000001s");
    }

    #[test]
    fn retry_info_is_read_from_status_details() {
        let with = |seconds| {
            RpcStatus {
                code: 8,
                message: "slow down".into(),
                details: vec![ProtoAny {
                    type_url: RETRY_INFO_TYPE.into(),
                    value: RetryInfo {
                        retry_delay: Some(ProtoDuration { seconds, nanos: 0 }),
                    }
                    .encode_to_vec(),
                }],
            }
            .encode_to_vec()
        };
        assert_eq!(retry_info_delay(&with(7)), Some(Duration::from_secs(7)));
        assert_eq!(retry_info_delay(b""), None);
        assert_eq!(retry_info_delay(&with(-1)), None);
        let round = ErrorStatus::new(14, "x").with_retry_after(Some(Duration::from_millis(1500)));
        assert_eq!(
            retry_info_delay(&round.to_protobuf()),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(RpcStatus::new(3, "no delay", None).retry_delay(), None);
    }
}
