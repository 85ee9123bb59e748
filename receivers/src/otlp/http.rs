//! OTLP/HTTP: `POST` protobuf or JSON bodies to the signal paths, HTTP/1.1 or h2c, with
//! otelcol's error contract: 405 and 415 in `text/plain`, Go's `404 page not found`, a
//! `google.rpc.Status` body (in the request's format) for everything else, 400 (never 413) for
//! a body over `max_request_body_size` before or after decompression. The body is read with
//! that bound, so an oversized or decompression-bomb request never costs more than the limit.
//! With `auth`, every request but a CORS preflight is first shown to the authenticator (headers,
//! plus the query parameters named in `request_params`); a refusal is a 401 before the body is
//! read. With `tls`, HTTP/1.1 and HTTP/2 are offered by ALPN.
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols:
//!       http:
//!         endpoint: 0.0.0.0:4318
//!         max_request_body_size: 10485760
//!         cors: { allowed_origins: ["https://*.example.com"], max_age: 7200 }
//! ```

use super::compression::{self, DecompressError, Encoding};
use super::config::{CompressionAlgorithm, CorsConfig, HttpConfig, DEFAULT_COMPRESSION_ALGORITHMS};
use super::grpc::EMPTY_RESPONSE;
use super::server;
use super::status::{self, ErrorStatus};
use super::{json, Endpoint};
use bytes::Bytes;
use ferrotel_core::error::code;
use ferrotel_core::{Batch, Consumer, PipelineError, Signal};

/// The profiles path, fixed as in otelcol (no `profiles_url_path` key); served only when a
/// profiles pipeline uses the receiver, which needs the `service.profilesSupport` gate.
pub(crate) const PROFILES_URL_PATH: &str = "/v1development/profiles";
use ferrotel_transport::http::{CONTENT_TYPE_JSON as JSON, CONTENT_TYPE_PROTOBUF as PB};
use http::header::{
    HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, ORIGIN, RETRY_AFTER, VARY,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

const TOO_LARGE: &str = "http: request body too large";

/// The body format of a request, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    /// Go's `mime.ParseMediaType` then an exact match: parameters and case do not matter.
    fn of(headers: &HeaderMap) -> Option<Format> {
        let ct = headers.get(CONTENT_TYPE)?.to_str().ok()?;
        let media = ct.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case(PB) {
            Some(Format::Protobuf)
        } else if media.eq_ignore_ascii_case(JSON) {
            Some(Format::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => PB,
            Format::Json => JSON,
        }
    }
}

/// What answers the requests of an HTTP server: OTLP's signal paths here, the `zipkin`
/// receiver's span API there. CORS, response headers and draining an unread body are done
/// around it; authentication, `Content-Encoding` and body reading are helpers on [`HttpState`].
#[async_trait::async_trait]
pub(crate) trait Api: Send + Sync + 'static {
    async fn route(
        &self,
        state: &HttpState,
        peer: SocketAddr,
        req: &Request<()>,
        body: &mut Incoming,
    ) -> Resp;
}

/// OTLP/HTTP: path, signal and consumer of each signal with a pipeline.
struct OtlpApi {
    routes: Vec<(String, Signal, Arc<dyn Consumer>)>,
}

#[async_trait::async_trait]
impl Api for OtlpApi {
    async fn route(
        &self,
        state: &HttpState,
        peer: SocketAddr,
        req: &Request<()>,
        body: &mut Incoming,
    ) -> Resp {
        route(self, state, peer, req, body).await
    }
}

/// One HTTP server's settings and its [`Api`].
pub(crate) struct HttpState {
    pub(crate) endpoint: Endpoint,
    api: Box<dyn Api>,
    max_body: usize,
    /// Accepted `Content-Encoding` values; empty: bodies are never decoded.
    encodings: Vec<CompressionAlgorithm>,
    cors: Option<Cors>,
    response_headers: Vec<(HeaderName, HeaderValue)>,
    read_timeout: Option<Duration>,
    /// Query parameters shown to the authenticator as headers.
    auth_params: Vec<String>,
}

/// Serves OTLP/HTTP on `listener`.
pub(crate) fn serve(
    cfg: &HttpConfig,
    endpoint: Endpoint,
    listener: Arc<TcpListener>,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let routes = [
        (&cfg.traces_url_path, Signal::Traces),
        (&cfg.metrics_url_path, Signal::Metrics),
        (&cfg.logs_url_path, Signal::Logs),
        (&PROFILES_URL_PATH.to_string(), Signal::Profiles),
    ]
    .into_iter()
    .filter_map(|(p, s)| Some((p.clone(), s, endpoint.consumer(s)?.clone())))
    .collect();
    serve_api(
        cfg,
        endpoint,
        Box::new(OtlpApi { routes }),
        listener,
        tls,
        stop,
    )
}

/// Serves `api` on `listener` with `cfg`'s confighttp server settings (the URL paths aside).
pub(crate) fn serve_api(
    cfg: &HttpConfig,
    endpoint: Endpoint,
    api: Box<dyn Api>,
    listener: Arc<TcpListener>,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let header_timeout = if cfg.read_header_timeout.is_zero() {
        server::DEFAULT_HEADER_READ_TIMEOUT
    } else {
        cfg.read_header_timeout.0
    };
    let mut builder = server::builder();
    builder
        .http1()
        .keep_alive(cfg.keep_alive())
        .header_read_timeout(header_timeout);
    let response_headers = cfg
        .response_headers
        .0
        .iter()
        .filter_map(|(k, v)| {
            let parsed = (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(v.as_str()),
            );
            match parsed {
                (Ok(k), Ok(v)) => Some((k, v)),
                _ => {
                    tracing::warn!(header = %k, "ignoring invalid response header");
                    None
                }
            }
        })
        .collect();
    let state = Arc::new(HttpState {
        endpoint,
        api,
        max_body: cfg.max_body(),
        encodings: match &cfg.compression_algorithms {
            Some(list) => list.clone(),
            None => DEFAULT_COMPRESSION_ALGORITHMS.to_vec(),
        },
        cors: cfg.cors.as_ref().and_then(Cors::new),
        response_headers,
        read_timeout: (!cfg.read_timeout.is_zero()).then_some(cfg.read_timeout.0),
        auth_params: cfg
            .auth
            .as_ref()
            .map(|a| a.request_params.clone())
            .unwrap_or_default(),
    });
    let limits = server::ConnLimits {
        max_connections: state.endpoint.limits.max_connections,
        first_request_timeout: header_timeout,
    };
    server::spawn(listener, tls, builder, limits, stop, state, handle)
}

pub(crate) type Resp = Response<Full<Bytes>>;

/// After answering early (refusal, error, oversized body), the unread rest of a request body is
/// read and discarded in the background, up to this many bytes, so that an HTTP/1.1 client still
/// writing its body reads the answer instead of a broken pipe; memory stays flat (nothing kept).
const DRAIN_MAX_BYTES: usize = 64 << 20;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

async fn drain(mut body: Incoming) {
    let mut seen = 0usize;
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > DRAIN_MAX_BYTES {
                break;
            }
        }
    })
    .await;
}

async fn handle(state: Arc<HttpState>, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    let (parts, mut body) = req.into_parts();
    let req = Request::from_parts(parts, ());
    let mut resp = match &state.cors {
        Some(cors) if Cors::is_preflight(&req) => cors.preflight(req.headers()),
        Some(cors) => {
            let origin = req.headers().get(ORIGIN).cloned();
            let mut r = state.api.route(&state, peer, &req, &mut body).await;
            cors.decorate(origin.as_ref(), r.headers_mut());
            r
        }
        None => state.api.route(&state, peer, &req, &mut body).await,
    };
    if !hyper::body::Body::is_end_stream(&body) {
        tokio::spawn(drain(body));
    }
    let headers = resp.headers_mut();
    for (k, v) in &state.response_headers {
        headers.insert(k.clone(), v.clone());
    }
    resp
}

pub(crate) fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A `google.rpc.Status` body in the request's format, with `Retry-After` on 429/503 when the
/// status has a retry delay.
fn status_response(format: Format, http: u16, s: &ErrorStatus) -> Resp {
    let body = match format {
        Format::Protobuf => s.to_protobuf(),
        Format::Json => s.to_json(),
    };
    let status = StatusCode::from_u16(http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = response(status, format.content_type(), body);
    if let (429 | 503, Some(d)) = (http, s.retry_after) {
        r.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(d.as_secs()));
    }
    r
}

fn bad_request(format: Format, message: impl Into<String>) -> Resp {
    status_response(
        format,
        400,
        &ErrorStatus::new(code::INVALID_ARGUMENT, message),
    )
}

fn pipeline_error(format: Format, e: &PipelineError) -> Resp {
    status_response(format, e.http_status(), &status::of_pipeline(e))
}

async fn route(
    api: &OtlpApi,
    state: &HttpState,
    peer: SocketAddr,
    req: &Request<()>,
    body: &mut Incoming,
) -> Resp {
    let headers = req.headers();
    let format = Format::of(headers);
    // otelcol: CORS -> auth -> body limit -> decompressor -> router.
    let auth = match state.authenticate(req).await {
        Ok(a) => a,
        Err(message) => return unauthenticated(format, message),
    };
    // The decompressor wraps the router in otelcol, so an unknown encoding is refused first.
    let encoding = match state.encoding_of(headers) {
        Ok(e) => e,
        Err(message) => return unsupported_encoding(format, headers, message),
    };
    let path = req.uri().path();
    let Some(&(_, signal, ref consumer)) = api.routes.iter().find(|(p, ..)| p == path) else {
        return not_found();
    };
    if req.method() != Method::POST {
        return response(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            &b"405 method not allowed, supported: [POST]"[..],
        );
    }
    let Some(format) = format else {
        return response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain",
            &b"415 unsupported media type, supported: [application/json, application/x-protobuf]"[..],
        );
    };
    if let Err(e) = consumer.admit() {
        return pipeline_error(format, &e);
    }
    let meta = state.endpoint.meta(peer, req.headers(), auth);
    let body = match state.read_body(body, encoding).await {
        Ok(b) => b,
        Err(message) => return bad_request(format, message),
    };
    let (batch, items) = match format {
        Format::Protobuf => match state.endpoint.protobuf_batch(consumer, signal, body, meta) {
            Ok(batch_and_items) => batch_and_items,
            Err(e) => return bad_request(format, e),
        },
        Format::Json => match json::decode(signal, &body)
            .map_err(|e| format!("failed to unmarshal {signal} request: {e}"))
            .and_then(|data| state.endpoint.check(signal, &data).map(|()| data))
        {
            Ok(data) => {
                let items = data.item_count();
                (Batch::from_data(data, meta), items)
            }
            Err(e) => return bad_request(format, e),
        },
    };
    if items > 0 {
        if let Err(e) = state.endpoint.export(consumer, batch, items).await {
            return pipeline_error(format, &e);
        }
    }
    match format {
        Format::Protobuf => response(StatusCode::OK, PB, EMPTY_RESPONSE),
        Format::Json => response(StatusCode::OK, JSON, &br#"{"partialSuccess":{}}"#[..]),
    }
}

/// 401, in the request's format if it has one.
fn unauthenticated(format: Option<Format>, message: String) -> Resp {
    let s = ErrorStatus::new(code::UNAUTHENTICATED, message);
    match format {
        Some(f) => status_response(f, 401, &s),
        None => response(StatusCode::UNAUTHORIZED, "text/plain", s.message),
    }
}

/// An unknown `Content-Encoding`, refused in the request's format (JSON without a
/// Content-Type, 500 with any other one).
fn unsupported_encoding(format: Option<Format>, headers: &HeaderMap, message: String) -> Resp {
    match (format, headers.contains_key(CONTENT_TYPE)) {
        (Some(f), _) => bad_request(f, message),
        (None, false) => bad_request(Format::Json, message),
        (None, true) => response(
            StatusCode::INTERNAL_SERVER_ERROR,
            JSON,
            &br#"{"code": 13, "message": "failed to marshal error message"}"#[..],
        ),
    }
}

/// Go's `http.NotFound`, for a path that is no signal's.
fn not_found() -> Resp {
    go_http_error(StatusCode::NOT_FOUND, "404 page not found")
}

/// Go's `http.Error`: the message and a newline in `text/plain`, with `nosniff`.
pub(crate) fn go_http_error(status: StatusCode, message: &str) -> Resp {
    let mut r = response(status, "text/plain; charset=utf-8", format!("{message}\n"));
    r.headers_mut().insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    r
}

impl HttpState {
    /// The authenticator's verdict on the request's headers and `request_params`.
    pub(crate) async fn authenticate(
        &self,
        req: &Request<()>,
    ) -> Result<Vec<(String, String)>, String> {
        if self.auth_params.is_empty() {
            return self
                .endpoint
                .authenticate(req.headers())
                .await
                .map_err(|e| e.0);
        }
        let mut headers = req.headers().clone();
        for (k, v) in url_query(req.uri().query().unwrap_or("")) {
            if self.auth_params.contains(&k) {
                if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v))
                {
                    headers.append(k, v);
                }
            }
        }
        self.endpoint.authenticate(&headers).await.map_err(|e| e.0)
    }

    /// The request's `Content-Encoding`, if it is one of the accepted ones.
    pub(crate) fn encoding_of(&self, headers: &HeaderMap) -> Result<Encoding, String> {
        if self.encodings.is_empty() {
            return Ok(Encoding::Identity);
        }
        let name = headers
            .get(CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap_or("(not text)"))
            .unwrap_or("");
        self.encodings
            .iter()
            .any(|e| e.as_str() == name)
            .then(|| Encoding::from_name(name))
            .flatten()
            .ok_or_else(|| format!("unsupported Content-Encoding: {name}"))
    }

    /// Reads at most `max_body` bytes of body, then decodes it with the same bound. On error
    /// the rest of the body stays unread in `body`.
    pub(crate) async fn read_body(
        &self,
        body: &mut Incoming,
        enc: Encoding,
    ) -> Result<Bytes, String> {
        let max = self.max_body;
        let read = async {
            let mut buf = bytes::BytesMut::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| e.to_string())?;
                if let Some(d) = frame.data_ref() {
                    if buf.len() + d.len() > max {
                        return Err(TOO_LARGE.to_string());
                    }
                    buf.extend_from_slice(d);
                }
            }
            Ok(buf.freeze())
        };
        let raw = match self.read_timeout {
            Some(t) => tokio::time::timeout(t, read)
                .await
                .map_err(|_| "timeout reading the request body".to_string())??,
            None => read.await?,
        };
        compression::decompress(enc, raw, max).map_err(|e| match e {
            DecompressError::TooLarge => TOO_LARGE.to_string(),
            DecompressError::Invalid(m) => m,
        })
    }
}

/// `a=1&b=x%20y` as decoded pairs.
fn url_query(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let mut b = [0u8];
                    match hex::decode_to_slice(&bytes[i + 1..i + 3], &mut b) {
                        Ok(()) => {
                            out.push(b[0]);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    q.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (decode(k), decode(v))
    })
}

// ---------------------------------------------------------------------------------------------
// CORS, as otelcol configures rs/cors: credentials allowed, methods GET/POST/HEAD.

/// An allowed origin: exact, or with one `*` standing for any characters.
enum OriginPattern {
    Exact(String),
    Wildcard(String, String),
}

struct Cors {
    origins: Vec<OriginPattern>,
    any_origin: bool,
    /// Lower-case allowed request headers.
    headers: Vec<String>,
    any_header: bool,
    exposed: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

const CORS_METHODS: [&str; 3] = ["GET", "POST", "HEAD"];

impl Cors {
    fn new(c: &CorsConfig) -> Option<Cors> {
        if c.allowed_origins.is_empty() {
            if !c.allowed_headers.is_empty() {
                tracing::warn!("cors.allowed_headers is set without allowed_origins: CORS is off");
            }
            return None;
        }
        let origins = c
            .allowed_origins
            .iter()
            .map(|o| {
                let o = o.to_ascii_lowercase();
                match o.split_once('*') {
                    Some((pre, suf)) => OriginPattern::Wildcard(pre.into(), suf.into()),
                    None => OriginPattern::Exact(o),
                }
            })
            .collect();
        let mut headers: Vec<String> = [
            "accept",
            "accept-language",
            "content-type",
            "content-language",
            "origin",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        if c.allowed_headers.is_empty() {
            headers.push("x-requested-with".into());
        }
        headers.extend(c.allowed_headers.iter().map(|h| h.to_ascii_lowercase()));
        Some(Cors {
            origins,
            any_origin: c.allowed_origins.iter().any(|o| o == "*"),
            any_header: headers.iter().any(|h| h == "*"),
            headers,
            exposed: (!c.exposed_headers.is_empty())
                .then(|| HeaderValue::try_from(c.exposed_headers.join(", ")).ok())
                .flatten(),
            max_age: (c.max_age > 0).then(|| HeaderValue::from(c.max_age)),
        })
    }

    fn is_preflight<B>(req: &Request<B>) -> bool {
        req.method() == Method::OPTIONS
            && req.headers().contains_key("access-control-request-method")
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self.any_origin {
            return true;
        }
        let origin = origin.to_ascii_lowercase();
        self.origins.iter().any(|p| match p {
            OriginPattern::Exact(o) => *o == origin,
            OriginPattern::Wildcard(pre, suf) => {
                origin.len() >= pre.len() + suf.len()
                    && origin.starts_with(pre.as_str())
                    && origin.ends_with(suf.as_str())
            }
        })
    }

    fn allow_origin_value(&self, origin: &HeaderValue) -> HeaderValue {
        if self.any_origin {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        }
    }

    /// The answer to a preflight `OPTIONS`: 204, with the allow headers only when the origin,
    /// method and headers asked for are all allowed.
    fn preflight(&self, h: &HeaderMap) -> Resp {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NO_CONTENT;
        let out = r.headers_mut();
        out.insert(
            VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        let Some(origin) = h
            .get(ORIGIN)
            .filter(|o| o.to_str().is_ok_and(|o| self.origin_allowed(o)))
        else {
            return r;
        };
        let method = text("access-control-request-method").to_ascii_uppercase();
        if !CORS_METHODS.contains(&method.as_str()) {
            return r;
        }
        let requested = text("access-control-request-headers");
        let headers_ok = self.any_header
            || requested
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .all(|s| self.headers.contains(&s));
        if !headers_ok {
            return r;
        }
        out.insert(
            "access-control-allow-origin",
            self.allow_origin_value(origin),
        );
        if let Ok(m) = HeaderValue::try_from(method) {
            out.insert("access-control-allow-methods", m);
        }
        if !requested.is_empty() {
            if let Some(v) = h.get("access-control-request-headers") {
                out.insert("access-control-allow-headers", v.clone());
            }
        }
        out.insert(
            "access-control-allow-credentials",
            HeaderValue::from_static("true"),
        );
        if let Some(m) = &self.max_age {
            out.insert("access-control-max-age", m.clone());
        }
        r
    }

    /// CORS headers of an actual (non-preflight) response.
    fn decorate(&self, origin: Option<&HeaderValue>, out: &mut HeaderMap) {
        out.insert(VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = origin.filter(|o| o.to_str().is_ok_and(|o| self.origin_allowed(o)))
        else {
            return;
        };
        out.insert(
            "access-control-allow-origin",
            self.allow_origin_value(origin),
        );
        out.insert(
            "access-control-allow-credentials",
            HeaderValue::from_static("true"),
        );
        if let Some(e) = &self.exposed {
            out.insert("access-control-expose-headers", e.clone());
        }
    }
}

#[cfg(test)]
mod url_query_tests {
    use super::url_query;

    #[test]
    fn decodes_percent_escapes_and_plus() {
        let got: Vec<_> = url_query("a=1&b=x%20y&&c=%4a%4B+z&d=%zz%2&e").collect();
        let want = [
            ("a", "1"),
            ("b", "x y"),
            ("c", "JK z"),
            ("d", "%zz%2"),
            ("e", ""),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(got, want);
    }
}
