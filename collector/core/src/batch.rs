//! [`Batch`]: the unit of data passed between components.
//!
//! The payload is shared (`Arc`) and lazy. A receiver stores the request body as [`Bytes`] and
//! decodes nothing; [`Batch::view`] decodes once and caches; [`Batch::make_mut`] decodes if
//! needed, copies only if another consumer shares the payload (copy-on-write) and drops the
//! cached bytes; [`Batch::encoded`] reuses the original bytes while nothing changed them. So a
//! pass-through pipeline does no protobuf work, and fan-out to N exporters costs N reference
//! counts.

use crate::delivery::Delivery;
use crate::pdata;
use crate::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    profiles::v1development::ExportProfilesServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use crate::span_view::SpanIndex;
use crate::wire::WireError;
use crate::Signal;
use bytes::Bytes;
use once_cell::sync::OnceCell;
use prost::Message;
use std::net::SocketAddr;
use std::sync::Arc;

/// A decoded payload: one OTLP export request.
///
/// Profiles are passed through: components that take them forward [`Batch::encoded`] (the bytes
/// as received) and count with [`Batch::item_count`] (samples, read off the wire); decoding them
/// is for inspection only, and a changed profiles request would have to keep its dictionary
/// consistent with every reference into it.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
    Profiles(ExportProfilesServiceRequest),
}

/// The payload was not valid OTLP protobuf.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl Data {
    pub fn empty(signal: Signal) -> Data {
        match signal {
            Signal::Traces => Data::Traces(Default::default()),
            Signal::Metrics => Data::Metrics(Default::default()),
            Signal::Logs => Data::Logs(Default::default()),
            Signal::Profiles => Data::Profiles(Default::default()),
        }
    }

    pub fn signal(&self) -> Signal {
        match self {
            Data::Traces(_) => Signal::Traces,
            Data::Metrics(_) => Signal::Metrics,
            Data::Logs(_) => Signal::Logs,
            Data::Profiles(_) => Signal::Profiles,
        }
    }

    pub fn decode(signal: Signal, bytes: &[u8]) -> Result<Data, DecodeError> {
        let err = |e: prost::DecodeError| {
            DecodeError(format!("failed to unmarshal {signal} request: {e}"))
        };
        Ok(match signal {
            Signal::Traces => Data::Traces(match crate::decode::traces(bytes) {
                Some(req) => req,
                None => ExportTraceServiceRequest::decode(bytes).map_err(err)?,
            }),
            Signal::Metrics => {
                Data::Metrics(ExportMetricsServiceRequest::decode(bytes).map_err(err)?)
            }
            Signal::Logs => Data::Logs(ExportLogsServiceRequest::decode(bytes).map_err(err)?),
            Signal::Profiles => {
                Data::Profiles(ExportProfilesServiceRequest::decode(bytes).map_err(err)?)
            }
        })
    }

    pub fn encode(&self) -> Bytes {
        Bytes::from(match self {
            Data::Traces(r) => crate::encode::traces(r),
            Data::Metrics(r) => r.encode_to_vec(),
            Data::Logs(r) => r.encode_to_vec(),
            Data::Profiles(r) => r.encode_to_vec(),
        })
    }

    pub fn encoded_len(&self) -> usize {
        match self {
            Data::Traces(r) => r.encoded_len(),
            Data::Metrics(r) => r.encoded_len(),
            Data::Logs(r) => r.encoded_len(),
            Data::Profiles(r) => r.encoded_len(),
        }
    }

    /// Spans, metric data points, log records or profile samples.
    pub fn item_count(&self) -> usize {
        pdata::count_items(self)
    }
}

/// Who sent a request, kept with its data. `headers` is filled only when the receiver has
/// `include_metadata: true`; names are lower-case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    /// The receiver id that accepted the data.
    pub receiver: String,
    /// `grpc` or `http`.
    pub transport: &'static str,
    pub peer: Option<SocketAddr>,
    pub headers: Vec<(String, String)>,
    /// Attributes an authenticator attached (`auth.<name>` in `from_context`).
    pub auth: Vec<(String, String)>,
}

impl RequestMeta {
    /// All values of a header (case-insensitive name).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct Shared {
    bytes: OnceCell<Bytes>,
    data: OnceCell<Data>,
    items: OnceCell<usize>,
    /// Traces: the spans located once for every connector reading this batch.
    spans: OnceCell<Result<Arc<SpanIndex>, WireError>>,
}

/// A signal's payload plus the metadata of the request it came from. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Batch {
    signal: Signal,
    shared: Arc<Shared>,
    pub meta: Arc<RequestMeta>,
    /// Delivery tokens of the data inside (see [`crate::delivery`]); empty for most receivers.
    deliveries: Vec<Delivery>,
}

impl Batch {
    /// Wraps an encoded OTLP request without decoding it. `items`, when known (the receiver
    /// validated and counted it), saves a later scan.
    pub fn from_bytes(
        signal: Signal,
        bytes: Bytes,
        items: Option<usize>,
        meta: Arc<RequestMeta>,
    ) -> Batch {
        let shared = Shared {
            bytes: OnceCell::with_value(bytes),
            ..Default::default()
        };
        if let Some(n) = items {
            let _ = shared.items.set(n);
        }
        Batch {
            signal,
            shared: Arc::new(shared),
            meta,
            deliveries: Vec::new(),
        }
    }

    /// A request decoded on arrival that keeps its bytes as well: for a pipeline that decodes
    /// first (see [`crate::Consumer::decodes_first`]), while whatever reads the batch unchanged
    /// still gets the original bytes.
    pub fn from_bytes_and_data(bytes: Bytes, data: Data, meta: Arc<RequestMeta>) -> Batch {
        let batch = Batch::from_bytes(data.signal(), bytes, Some(data.item_count()), meta);
        let _ = batch.shared.data.set(data);
        batch
    }

    pub fn from_data(data: Data, meta: Arc<RequestMeta>) -> Batch {
        let signal = data.signal();
        Batch {
            signal,
            shared: Arc::new(Shared {
                data: OnceCell::with_value(data),
                ..Default::default()
            }),
            meta,
            deliveries: Vec::new(),
        }
    }

    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Attaches a delivery token: released once every holder of this data dropped it.
    pub fn with_delivery(mut self, d: Delivery) -> Batch {
        self.deliveries.push(d);
        self
    }

    /// Carries `other`'s delivery tokens over to this batch, built from `other`'s data.
    pub fn keep_deliveries_of(mut self, other: &Batch) -> Batch {
        self.deliveries.extend(other.deliveries.iter().cloned());
        self
    }

    /// This batch's delivery tokens.
    pub fn deliveries(&self) -> &[Delivery] {
        &self.deliveries
    }

    /// Drops this copy's hold on its tokens (a persistent queue made the data durable).
    pub fn release_deliveries(&mut self) {
        self.deliveries = Vec::new();
    }

    /// True when `other` is a clone of this batch (the very same payload, not merely equal
    /// content): an exporter can tell a retry of a batch from a new one. Holding a clone keeps
    /// the answer reliable, as a payload's identity is not reused while it is alive.
    pub fn same_payload(&self, other: &Batch) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// True when the decoded form is already available (no decode cost to view it).
    pub fn is_decoded(&self) -> bool {
        self.shared.data.get().is_some()
    }

    /// The decoded payload, decoding at most once.
    pub fn view(&self) -> Result<&Data, DecodeError> {
        self.shared.data.get_or_try_init(|| {
            let bytes = self
                .shared
                .bytes
                .get()
                .ok_or_else(|| DecodeError("batch has neither bytes nor data".into()))?;
            Data::decode(self.signal, bytes)
        })
    }

    /// Mutable access for processors that change data: decodes if needed, copies if the payload
    /// is shared, and invalidates the cached encoding and item count.
    pub fn make_mut(&mut self) -> Result<&mut Data, DecodeError> {
        self.view()?;
        if Arc::get_mut(&mut self.shared).is_none() {
            let data = self.view()?.clone();
            self.shared = Arc::new(Shared {
                data: OnceCell::with_value(data),
                ..Default::default()
            });
        }
        let Some(shared) = Arc::get_mut(&mut self.shared) else {
            unreachable!("payload was made unique above")
        };
        shared.bytes = OnceCell::new();
        shared.items = OnceCell::new();
        shared.spans = OnceCell::new();
        shared
            .data
            .get_mut()
            .ok_or_else(|| DecodeError("payload vanished".into()))
    }

    /// Takes the decoded payload out (decoding or copying as needed).
    pub fn into_data(mut self) -> Result<Data, DecodeError> {
        self.make_mut()?;
        let Some(shared) = Arc::get_mut(&mut self.shared) else {
            unreachable!("make_mut made the payload unique")
        };
        shared
            .data
            .take()
            .ok_or_else(|| DecodeError("payload vanished".into()))
    }

    /// The protobuf encoding: the original bytes while nothing changed them.
    pub fn encoded(&self) -> Bytes {
        self.shared
            .bytes
            .get_or_init(|| self.shared.data.get().map(Data::encode).unwrap_or_default())
            .clone()
    }

    /// A traces batch's spans, located once and shared by every reader of this batch (see
    /// [`crate::span_view`]); fails on malformed protobuf.
    pub fn span_index(&self) -> Result<Arc<SpanIndex>, WireError> {
        self.shared
            .spans
            .get_or_init(|| SpanIndex::new(self.encoded()).map(Arc::new))
            .clone()
    }

    /// The encoded size in bytes, without encoding when the bytes are not there.
    pub fn encoded_len(&self) -> usize {
        match (self.shared.bytes.get(), self.shared.data.get()) {
            (Some(b), _) => b.len(),
            (None, Some(d)) => d.encoded_len(),
            (None, None) => 0,
        }
    }

    /// About the heap this batch holds, for memory budgets: its encoded bytes, plus twice
    /// their size for a decoded form (the decoded types with their vectors and strings).
    pub fn held_bytes(&self) -> usize {
        let encoded = self.shared.bytes.get().map_or(0, Bytes::len);
        let decoded = self.shared.data.get().map_or(0, |d| 2 * d.encoded_len());
        encoded + decoded
    }

    /// Spans, data points, log records or profile samples in this batch (0 for an undecodable
    /// payload).
    pub fn item_count(&self) -> usize {
        *self
            .shared
            .items
            .get_or_init(|| match (self.shared.data.get(), self.shared.bytes.get()) {
                (Some(d), _) => d.item_count(),
                (None, Some(b)) => pdata::count_items_encoded(self.signal, b).unwrap_or(0),
                (None, None) => 0,
            })
    }

    /// Concatenates batches of one signal into one request. Protobuf concatenation of export
    /// requests is a merge of their resource lists, so this costs one copy of the bytes and no
    /// decoding. Metadata is taken from the first batch. Not for profiles: each profiles request
    /// carries its own dictionary, which concatenation would merge wrongly (`None` when asked).
    pub fn concat(batches: &[Batch]) -> Option<Batch> {
        let first = batches.first()?;
        if first.signal == Signal::Profiles && batches.len() > 1 {
            return None;
        }
        if batches.len() == 1 {
            return Some(first.clone());
        }
        // Encoded first (and kept in each batch), so a decoded batch's size is not computed
        // once more for the capacity: prost's length pass walks every nested message.
        let encoded: Vec<Bytes> = batches.iter().map(Batch::encoded).collect();
        let mut buf = Vec::with_capacity(encoded.iter().map(Bytes::len).sum());
        let mut items = 0;
        let mut deliveries = Vec::new();
        for (b, bytes) in batches.iter().zip(&encoded) {
            buf.extend_from_slice(bytes);
            items += b.item_count();
            deliveries.extend(b.deliveries.iter().cloned());
        }
        let mut out = Batch::from_bytes(
            first.signal,
            Bytes::from(buf),
            Some(items),
            first.meta.clone(),
        );
        out.deliveries = deliveries;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn traces(n: usize) -> Data {
        let spans = (0..n)
            .map(|i| Span {
                name: format!("s{i}"),
                ..Default::default()
            })
            .collect();
        Data::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    #[test]
    fn lazy_view_and_copy_on_write() {
        let bytes = traces(3).encode();
        let mut a = Batch::from_bytes(Signal::Traces, bytes.clone(), None, Default::default());
        assert!(!a.is_decoded());
        assert_eq!(a.item_count(), 3);
        let b = a.clone();
        if let Data::Traces(t) = a.make_mut().unwrap() {
            t.resource_spans[0].scope_spans[0].spans.pop();
        }
        assert_eq!(a.item_count(), 2);
        assert_eq!(b.item_count(), 3, "the other consumer's copy is untouched");
        assert_eq!(
            b.encoded(),
            bytes,
            "unchanged data keeps its original bytes"
        );
        assert_ne!(a.encoded(), bytes);
    }

    #[test]
    fn concat_merges_without_decoding() {
        let a = Batch::from_data(traces(2), Default::default());
        let b = Batch::from_data(traces(5), Default::default());
        let c = Batch::concat(&[a, b]).unwrap();
        assert_eq!(c.item_count(), 7);
        match c.view().unwrap() {
            Data::Traces(t) => assert_eq!(t.resource_spans.len(), 2),
            _ => panic!("wrong signal"),
        }
    }

    #[test]
    fn profiles_keep_their_bytes_and_are_never_concatenated() {
        use crate::proto::profiles::v1development::{
            Profile, ProfilesDictionary, ResourceProfiles, Sample, ScopeProfiles,
        };
        let profile = |n: usize| Profile {
            samples: vec![Sample::default(); n],
            ..Default::default()
        };
        let req = ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                scope_profiles: vec![ScopeProfiles {
                    profiles: vec![profile(2), profile(3)],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            dictionary: Some(ProfilesDictionary {
                string_table: vec![String::new(), "cpu".into()],
                ..Default::default()
            }),
        };
        let bytes = Bytes::from(req.encode_to_vec());
        let b = Batch::from_bytes(Signal::Profiles, bytes.clone(), None, Default::default());
        assert_eq!(b.item_count(), 5, "samples, counted off the wire");
        assert!(!b.is_decoded());
        assert_eq!(b.view().unwrap(), &Data::Profiles(req));
        assert_eq!(b.encoded(), bytes, "viewing keeps the received bytes");
        assert!(Batch::concat(&[b.clone(), b.clone()]).is_none());
        assert!(Batch::concat(std::slice::from_ref(&b))
            .unwrap()
            .same_payload(&b));
    }

    #[test]
    fn concat_and_clones_carry_delivery_tokens() {
        use crate::delivery::{Delivery, DeliveryListener};
        use std::sync::Mutex;
        #[derive(Default)]
        struct Heard(Mutex<Vec<u64>>);
        impl DeliveryListener for Heard {
            fn delivered(&self, id: u64) {
                self.0.lock().unwrap().push(id);
            }
        }
        let heard = Arc::new(Heard::default());
        let a = Batch::from_data(traces(2), Default::default())
            .with_delivery(Delivery::new(heard.clone(), 1));
        let b = Batch::from_data(traces(1), Default::default())
            .with_delivery(Delivery::new(heard.clone(), 2));
        let merged = Batch::concat(&[a, b]).unwrap();
        assert_eq!(merged.deliveries().len(), 2);
        let copy = merged.clone();
        drop(merged);
        assert!(heard.0.lock().unwrap().is_empty(), "the copy holds both");
        drop(copy);
        assert_eq!(*heard.0.lock().unwrap(), vec![1, 2]);
    }

    #[test]
    fn garbage_fails_to_view() {
        let b = Batch::from_bytes(
            Signal::Logs,
            Bytes::from_static(b"\x0a\xff\xff"),
            None,
            Default::default(),
        );
        assert!(b.view().is_err());
    }
}
