//! Zipkin v2 spans as they arrive: the JSON list of `POST /api/v2/spans` and Zipkin's
//! `ListOfSpans` protobuf (zipkin.proto, its field numbers declared here with prost), both read
//! into [`ZSpan`], with the checks of zipkin-go's decoders (ids required, hex ids of at most 64
//! or 128 bits, endpoint addresses that parse).
//!
//! ```json
//! [{"traceId": "4d1e00c0db9010db86154a4ba6e91385", "id": "a2fb4a1d1a96d312",
//!   "name": "get /api", "kind": "SERVER", "timestamp": 1472470996199000, "duration": 207000,
//!   "localEndpoint": {"serviceName": "frontend", "ipv4": "192.168.99.1", "port": 3306},
//!   "tags": {"http.method": "GET"}}]
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Zipkin's span kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZKind {
    Client,
    Server,
    Producer,
    Consumer,
}

/// A local or remote endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZEndpoint {
    pub service_name: String,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    pub port: i32,
}

/// One Zipkin v2 span, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZSpan {
    pub trace_id: [u8; 16],
    pub id: [u8; 8],
    pub parent_id: Option<[u8; 8]>,
    pub name: String,
    pub kind: Option<ZKind>,
    /// Microseconds since the epoch; 0: absent.
    pub timestamp_us: u64,
    pub duration_us: u64,
    pub local: Option<ZEndpoint>,
    pub remote: Option<ZEndpoint>,
    /// (microseconds since the epoch, value).
    pub annotations: Vec<(u64, String)>,
    pub tags: BTreeMap<String, String>,
    pub shared: bool,
    pub debug: bool,
}

// ---------------------------------------------------------------------------------------------
// JSON

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: Option<String>,
    id: Option<String>,
    parent_id: Option<String>,
    #[serde(default)]
    name: String,
    kind: Option<String>,
    timestamp: Option<u64>,
    duration: Option<u64>,
    local_endpoint: Option<JsonEndpoint>,
    remote_endpoint: Option<JsonEndpoint>,
    #[serde(default)]
    annotations: Vec<JsonAnnotation>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    shared: bool,
    #[serde(default)]
    debug: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonEndpoint {
    #[serde(default)]
    service_name: String,
    ipv4: Option<String>,
    ipv6: Option<String>,
    #[serde(default)]
    port: i32,
}

#[derive(Deserialize)]
struct JsonAnnotation {
    #[serde(default)]
    timestamp: u64,
    #[serde(default)]
    value: String,
}

/// A Zipkin v2 JSON list of spans.
pub fn from_json(body: &[u8]) -> Result<Vec<ZSpan>, String> {
    let spans: Vec<Option<JsonSpan>> =
        serde_json::from_slice(body).map_err(|e| format!("invalid Zipkin v2 JSON: {e}"))?;
    spans
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| json_span(s).map_err(|e| format!("span {i}: {e}")))
        .collect()
}

fn json_span(s: JsonSpan) -> Result<ZSpan, String> {
    let trace_id = match s.trace_id.as_deref() {
        Some(t) if !t.is_empty() => trace_id_from_hex(t)?,
        _ => return Err("valid traceId required".into()),
    };
    let id = match s.id.as_deref() {
        Some(i) if !i.is_empty() => span_id_from_hex(i, "id")?,
        _ => return Err("valid span id required".into()),
    };
    let parent_id = match s.parent_id.as_deref() {
        Some(p) if !p.is_empty() => Some(span_id_from_hex(p, "parentId")?),
        _ => None,
    };
    let kind = match s.kind.as_deref() {
        None | Some("") => None,
        Some(k) => kind_from_name(k),
    };
    Ok(ZSpan {
        trace_id,
        id,
        parent_id,
        name: s.name,
        kind,
        timestamp_us: s.timestamp.unwrap_or(0),
        duration_us: s.duration.unwrap_or(0),
        local: s.local_endpoint.map(json_endpoint).transpose()?,
        remote: s.remote_endpoint.map(json_endpoint).transpose()?,
        annotations: s
            .annotations
            .into_iter()
            .map(|a| (a.timestamp, a.value))
            .collect(),
        tags: s.tags,
        shared: s.shared,
        debug: s.debug,
    })
}

fn kind_from_name(k: &str) -> Option<ZKind> {
    match k {
        "CLIENT" => Some(ZKind::Client),
        "SERVER" => Some(ZKind::Server),
        "PRODUCER" => Some(ZKind::Producer),
        "CONSUMER" => Some(ZKind::Consumer),
        _ => None,
    }
}

fn json_endpoint(e: JsonEndpoint) -> Result<ZEndpoint, String> {
    let ipv4 = match e.ipv4.as_deref() {
        None | Some("") => None,
        Some(a) => Some(
            a.parse::<Ipv4Addr>()
                .map_err(|_| format!("invalid ipv4 address {a:?}"))?,
        ),
    };
    let ipv6 = match e.ipv6.as_deref() {
        None | Some("") => None,
        Some(a) => Some(
            a.parse::<Ipv6Addr>()
                .map_err(|_| format!("invalid ipv6 address {a:?}"))?,
        ),
    };
    Ok(ZEndpoint {
        service_name: e.service_name,
        ipv4,
        ipv6,
        port: e.port,
    })
}

/// A 64- or 128-bit trace id of up to 32 hex digits (shorter ones are zero-padded, as
/// zipkin-go reads them); all zero is invalid.
fn trace_id_from_hex(h: &str) -> Result<[u8; 16], String> {
    if h.len() > 32 {
        return Err(format!("traceId {h:?} is longer than 32 hex digits"));
    }
    let (high, low) = h.split_at(h.len().saturating_sub(16));
    let parse = |s: &str| {
        if s.is_empty() {
            return Ok(0);
        }
        u64::from_str_radix(s, 16).map_err(|_| format!("traceId {h:?} is not hex"))
    };
    let (high, low) = (parse(high)?, parse(low)?);
    if high == 0 && low == 0 {
        return Err("valid traceId required".into());
    }
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&high.to_be_bytes());
    out[8..].copy_from_slice(&low.to_be_bytes());
    Ok(out)
}

fn span_id_from_hex(h: &str, field: &str) -> Result<[u8; 8], String> {
    if h.len() > 16 {
        return Err(format!("{field} {h:?} is longer than 16 hex digits"));
    }
    let v = u64::from_str_radix(h, 16).map_err(|_| format!("{field} {h:?} is not hex"))?;
    if v == 0 && field == "id" {
        return Err("valid span id required".into());
    }
    Ok(v.to_be_bytes())
}

// ---------------------------------------------------------------------------------------------
// Protobuf (zipkin.proto, package zipkin.proto3)

#[derive(Clone, PartialEq, prost::Message)]
struct ListOfSpans {
    #[prost(message, repeated, tag = "1")]
    spans: Vec<ProtoSpan>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoSpan {
    #[prost(bytes = "vec", tag = "1")]
    trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    parent_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    id: Vec<u8>,
    /// 0 unspecified, 1 CLIENT, 2 SERVER, 3 PRODUCER, 4 CONSUMER.
    #[prost(int32, tag = "4")]
    kind: i32,
    #[prost(string, tag = "5")]
    name: String,
    #[prost(fixed64, tag = "6")]
    timestamp: u64,
    #[prost(uint64, tag = "7")]
    duration: u64,
    #[prost(message, optional, tag = "8")]
    local_endpoint: Option<ProtoEndpoint>,
    #[prost(message, optional, tag = "9")]
    remote_endpoint: Option<ProtoEndpoint>,
    #[prost(message, repeated, tag = "10")]
    annotations: Vec<ProtoAnnotation>,
    #[prost(btree_map = "string, string", tag = "11")]
    tags: BTreeMap<String, String>,
    #[prost(bool, tag = "12")]
    debug: bool,
    #[prost(bool, tag = "13")]
    shared: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoEndpoint {
    #[prost(string, tag = "1")]
    service_name: String,
    #[prost(bytes = "vec", tag = "2")]
    ipv4: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    ipv6: Vec<u8>,
    #[prost(int32, tag = "4")]
    port: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAnnotation {
    #[prost(fixed64, tag = "1")]
    timestamp: u64,
    #[prost(string, tag = "2")]
    value: String,
}

/// A Zipkin `ListOfSpans` protobuf; `debug` (the `X-B3-Flags: 1` header) marks every span.
pub fn from_protobuf(body: &[u8], debug: bool) -> Result<Vec<ZSpan>, String> {
    let list = <ListOfSpans as prost::Message>::decode(body)
        .map_err(|e| format!("invalid Zipkin ListOfSpans protobuf: {e}"))?;
    list.spans
        .into_iter()
        .enumerate()
        .map(|(i, s)| proto_span(s, debug).map_err(|e| format!("span {i}: {e}")))
        .collect()
}

fn proto_span(s: ProtoSpan, debug: bool) -> Result<ZSpan, String> {
    let trace_id = match s.trace_id.len() {
        8 | 16 => {
            let mut t = [0u8; 16];
            t[16 - s.trace_id.len()..].copy_from_slice(&s.trace_id);
            t
        }
        n => return Err(format!("trace_id has {n} bytes, wanted 8 or 16")),
    };
    if trace_id == [0; 16] {
        return Err("valid traceId required".into());
    }
    let id: [u8; 8] =
        s.id.as_slice()
            .try_into()
            .map_err(|_| format!("id has {} bytes, wanted 8", s.id.len()))?;
    if id == [0; 8] {
        return Err("valid span id required".into());
    }
    let parent_id = match s.parent_id.len() {
        0 => None,
        _ => Some(
            s.parent_id
                .as_slice()
                .try_into()
                .map_err(|_| format!("parent_id has {} bytes, wanted 8", s.parent_id.len()))?,
        ),
    };
    let kind = match s.kind {
        1 => Some(ZKind::Client),
        2 => Some(ZKind::Server),
        3 => Some(ZKind::Producer),
        4 => Some(ZKind::Consumer),
        _ => None,
    };
    Ok(ZSpan {
        trace_id,
        id,
        parent_id,
        name: s.name,
        kind,
        timestamp_us: s.timestamp,
        duration_us: s.duration,
        local: s.local_endpoint.map(proto_endpoint).transpose()?,
        remote: s.remote_endpoint.map(proto_endpoint).transpose()?,
        annotations: s
            .annotations
            .into_iter()
            .map(|a| (a.timestamp, a.value))
            .collect(),
        tags: s.tags,
        shared: s.shared,
        debug: s.debug || debug,
    })
}

fn proto_endpoint(e: ProtoEndpoint) -> Result<ZEndpoint, String> {
    let ipv4 = match e.ipv4.len() {
        0 => None,
        4 => Some(Ipv4Addr::new(e.ipv4[0], e.ipv4[1], e.ipv4[2], e.ipv4[3])),
        n => return Err(format!("ipv4 has {n} bytes, wanted 4")),
    };
    let ipv6 = match <[u8; 16]>::try_from(e.ipv6.as_slice()) {
        _ if e.ipv6.is_empty() => None,
        Ok(b) => Some(Ipv6Addr::from(b)),
        Err(_) => return Err(format!("ipv6 has {} bytes, wanted 16", e.ipv6.len())),
    };
    Ok(ZEndpoint {
        service_name: e.service_name,
        ipv4,
        ipv6,
        port: e.port,
    })
}

#[cfg(test)]
pub(crate) mod encode {
    //! Protobuf encoding of [`ZSpan`]s, for tests.
    use super::*;

    pub(crate) fn to_protobuf(spans: &[ZSpan]) -> Vec<u8> {
        let ep = |e: &ZEndpoint| ProtoEndpoint {
            service_name: e.service_name.clone(),
            ipv4: e.ipv4.map(|a| a.octets().to_vec()).unwrap_or_default(),
            ipv6: e.ipv6.map(|a| a.octets().to_vec()).unwrap_or_default(),
            port: e.port,
        };
        let list = ListOfSpans {
            spans: spans
                .iter()
                .map(|s| ProtoSpan {
                    trace_id: s.trace_id.to_vec(),
                    parent_id: s.parent_id.map(|p| p.to_vec()).unwrap_or_default(),
                    id: s.id.to_vec(),
                    kind: match s.kind {
                        None => 0,
                        Some(ZKind::Client) => 1,
                        Some(ZKind::Server) => 2,
                        Some(ZKind::Producer) => 3,
                        Some(ZKind::Consumer) => 4,
                    },
                    name: s.name.clone(),
                    timestamp: s.timestamp_us,
                    duration: s.duration_us,
                    local_endpoint: s.local.as_ref().map(ep),
                    remote_endpoint: s.remote.as_ref().map(ep),
                    annotations: s
                        .annotations
                        .iter()
                        .map(|(t, v)| ProtoAnnotation {
                            timestamp: *t,
                            value: v.clone(),
                        })
                        .collect(),
                    tags: s.tags.clone(),
                    debug: s.debug,
                    shared: s.shared,
                })
                .collect(),
        };
        prost::Message::encode_to_vec(&list)
    }
}
