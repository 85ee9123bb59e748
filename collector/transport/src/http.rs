//! HTTP pieces both sides of OTLP/HTTP need: the content types, and the `Retry-After` a
//! server sends with a refusal (receivers write delay-seconds, exporters read either form).

use std::time::{Duration, SystemTime};

/// The OTLP/HTTP protobuf content type.
pub const CONTENT_TYPE_PROTOBUF: &str = "application/x-protobuf";
/// The OTLP/HTTP JSON content type.
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// Parses `Retry-After`: delay-seconds or an HTTP-date (a date in the past is no delay).
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
