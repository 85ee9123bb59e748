//! TLS from otelcol's `tls` blocks ([`TlsServerConfig`], [`TlsClientConfig`]) with rustls
//! (ring). Files are read when the settings are built, which components do at start (as
//! otelcol, `validate` reads no file), so a missing or malformed file is an error naming its key
//! (`receivers.otlp: protocols.grpc.tls.cert_file: ...`).
//!
//! As in otelcol: TLS 1.2 is the default minimum; a server requires and verifies client
//! certificates only when `client_ca_file` is set (its `ca_file` is read but, as in Go, not used
//! to verify clients); a client verifies the server against `ca_file` (or the system roots) unless
//! `insecure_skip_verify`. TLS 1.0/1.1, `cipher_suites` and `reload_interval` are refused with a
//! clear error (rustls does not implement the old versions; the others are not supported yet).
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols:
//!       grpc:
//!         tls:
//!           cert_file: /certs/server.crt
//!           key_file: /certs/server.key
//!           client_ca_file: /certs/ca.crt   # require client certificates (mTLS)
//!           min_version: "1.3"
//! exporters:
//!   otlphttp:
//!     endpoint: https://backend:4318
//!     tls: { ca_file: /certs/ca.crt, cert_file: /certs/client.crt, key_file: /certs/client.key }
//! ```

use ferrotel_config::{ConfigError, ConfigErrors, TlsClientConfig, TlsServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
    SupportedProtocolVersion,
};
use std::sync::Arc;

pub use rustls;

/// ALPN id of HTTP/2 (gRPC).
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN id of HTTP/1.1.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Collects errors under one `tls` path.
struct Errors<'a> {
    path: &'a str,
    list: Vec<ConfigError>,
}

impl Errors<'_> {
    fn push(&mut self, key: &str, message: impl Into<String>) {
        let path = if key.is_empty() {
            self.path.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        self.list.push(ConfigError::new(path, message));
    }

    fn read(&mut self, key: &str, file: &str) -> Option<Vec<u8>> {
        match std::fs::read(file) {
            Ok(b) => Some(b),
            Err(e) => {
                self.push(key, format!("failed to read {file:?}: {e}"));
                None
            }
        }
    }

    fn certs(&mut self, key: &str, file: &str) -> Option<Vec<CertificateDer<'static>>> {
        let pem = self.read(key, file)?;
        match CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>() {
            Ok(c) if !c.is_empty() => Some(c),
            Ok(_) => {
                self.push(key, format!("no PEM certificate found in {file:?}"));
                None
            }
            Err(e) => {
                self.push(key, format!("invalid PEM in {file:?}: {e}"));
                None
            }
        }
    }

    fn key(&mut self, key: &str, file: &str) -> Option<PrivateKeyDer<'static>> {
        let pem = self.read(key, file)?;
        match PrivateKeyDer::from_pem_slice(&pem) {
            Ok(k) => Some(k),
            Err(e) => {
                self.push(key, format!("no usable PEM private key in {file:?}: {e}"));
                None
            }
        }
    }

    fn roots(&mut self, key: &str, file: &str, with_system: bool) -> Option<RootCertStore> {
        let certs = self.certs(key, file)?;
        let mut roots = if with_system {
            system_roots()
        } else {
            RootCertStore::empty()
        };
        let (_, bad) = roots.add_parsable_certificates(certs);
        if bad > 0 {
            self.push(
                key,
                format!("{bad} certificate(s) in {file:?} are not valid CAs"),
            );
            return None;
        }
        Some(roots)
    }

    /// `min_version` / `max_version` as the rustls versions they allow.
    fn versions(
        &mut self,
        min: &Option<String>,
        max: &Option<String>,
    ) -> Vec<&'static SupportedProtocolVersion> {
        let mut parse = |key: &str, v: &Option<String>, default: u8| -> u8 {
            match v.as_deref().unwrap_or("") {
                "" => default,
                "1.2" => 2,
                "1.3" => 3,
                old @ ("1.0" | "1.1") => {
                    self.push(
                        key,
                        format!("TLS {old} is not supported (ferrotel speaks TLS 1.2 and 1.3)"),
                    );
                    default
                }
                other => {
                    self.push(
                        key,
                        format!("invalid TLS version {other:?} (expected \"1.2\" or \"1.3\")"),
                    );
                    default
                }
            }
        };
        let (lo, hi) = (parse("min_version", min, 2), parse("max_version", max, 3));
        if lo > hi {
            self.push("min_version", "min_version is above max_version");
        }
        [(2, &rustls::version::TLS12), (3, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (lo..=hi).contains(v))
            .map(|(_, p)| p)
            .collect()
    }

    fn unsupported(
        &mut self,
        reload_interval: &Option<String>,
        cipher_suites: &Option<Vec<String>>,
    ) {
        if reload_interval
            .as_deref()
            .is_some_and(|v| !matches!(v, "" | "0" | "0s"))
        {
            self.push(
                "reload_interval",
                "`reload_interval` is not supported yet by ferrotel (restart to load new certificates)",
            );
        }
        if cipher_suites.as_ref().is_some_and(|c| !c.is_empty()) {
            self.push(
                "cipher_suites",
                "`cipher_suites` is not supported yet by ferrotel (rustls' safe defaults are used)",
            );
        }
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, ConfigErrors> {
        match value {
            Some(v) if self.list.is_empty() => Ok(v),
            _ => Err(ConfigErrors(self.list)),
        }
    }
}

/// The system's CA certificates, plus Mozilla's (webpki-roots) so it is never empty.
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}

/// A server's rustls config from its `tls` block; `path` is the block's config path
/// (`receivers.otlp.protocols.grpc.tls`), `alpn` the protocols offered (e.g. `[ALPN_H2]`).
pub fn server_config(
    tls: &TlsServerConfig,
    path: &str,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, ConfigErrors> {
    let mut e = Errors { path, list: vec![] };
    e.unsupported(&tls.reload_interval, &tls.cipher_suites);
    let versions = e.versions(&tls.min_version, &tls.max_version);
    let certs = match &tls.cert_file {
        Some(f) => e.certs("cert_file", f),
        None => {
            e.push("cert_file", "a TLS server needs cert_file and key_file");
            None
        }
    };
    let key = match &tls.key_file {
        Some(f) => e.key("key_file", f),
        None => {
            e.push("key_file", "a TLS server needs cert_file and key_file");
            None
        }
    };
    if let Some(f) = &tls.ca_file {
        e.certs("ca_file", f);
    }
    let with_system = tls.include_system_ca_certs_pool == Some(true);
    let client_roots = match &tls.client_ca_file {
        Some(f) => match e.roots("client_ca_file", f, with_system) {
            Some(r) => Some(r),
            None => return e.finish(None),
        },
        None => None,
    };
    let (Some(certs), Some(key)) = (certs, key) else {
        return e.finish(None);
    };
    let builder =
        match ServerConfig::builder_with_provider(provider()).with_protocol_versions(&versions) {
            Ok(b) => b,
            Err(err) => {
                e.push("min_version", err.to_string());
                return e.finish(None);
            }
        };
    let builder = match client_roots {
        None => builder.with_no_client_auth(),
        Some(roots) => {
            match WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build() {
                Ok(v) => builder.with_client_cert_verifier(v),
                Err(err) => {
                    e.push("client_ca_file", err.to_string());
                    return e.finish(None);
                }
            }
        }
    };
    let config = match builder.with_single_cert(certs, key) {
        Ok(mut c) => {
            c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Some(Arc::new(c))
        }
        Err(err) => {
            e.push(
                "key_file",
                format!("the certificate and key cannot be used together: {err}"),
            );
            None
        }
    };
    e.finish(config)
}

/// How a client checks the server: the CA roots (or none with `insecure_skip_verify`), an
/// optional `server_name_override`, and whether TLS 1.2 is allowed (`min_version: "1.3"`
/// refuses it here too, for clients such as tonic's whose versions cannot be set).
#[derive(Debug)]
pub struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    name_override: Option<ServerName<'static>>,
    allow_tls12: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.webpki {
            None => Ok(ServerCertVerified::assertion()),
            Some(v) => v.verify_server_cert(
                end_entity,
                intermediates,
                self.name_override.as_ref().unwrap_or(server_name),
                ocsp_response,
                now,
            ),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if !self.allow_tls12 {
            return Err(rustls::Error::General(
                "the server speaks TLS 1.2 and tls.min_version is 1.3".into(),
            ));
        }
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What a client `tls` block gives: the verifier, the client identity (mTLS) and the versions.
pub struct ClientParts {
    pub verifier: Arc<Verifier>,
    pub identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    pub versions: Vec<&'static SupportedProtocolVersion>,
}

/// Reads and checks a client `tls` block (`insecure` is the caller's business: it means no
/// TLS at all). `path` is the block's config path (`exporters.otlp.tls`).
pub fn client_parts(tls: &TlsClientConfig, path: &str) -> Result<ClientParts, ConfigErrors> {
    let mut e = Errors { path, list: vec![] };
    e.unsupported(&tls.reload_interval, &tls.cipher_suites);
    let versions = e.versions(&tls.min_version, &tls.max_version);
    let with_system = tls.include_system_ca_certs_pool == Some(true);
    let roots = match &tls.ca_file {
        Some(f) => e.roots("ca_file", f, with_system),
        None => Some(system_roots()),
    };
    let identity = match (&tls.cert_file, &tls.key_file) {
        (Some(c), Some(k)) => match (e.certs("cert_file", c), e.key("key_file", k)) {
            (Some(c), Some(k)) => Some((c, k)),
            _ => None,
        },
        (None, None) => None,
        _ => {
            e.push("", "cert_file and key_file must be set together");
            None
        }
    };
    let name_override = match tls.server_name_override.as_deref() {
        None | Some("") => None,
        Some(n) => match ServerName::try_from(n.to_string()) {
            Ok(n) => Some(n),
            Err(_) => {
                e.push("server_name_override", format!("invalid server name {n:?}"));
                None
            }
        },
    };
    let provider = provider();
    let webpki = match roots {
        _ if tls.insecure_skip_verify => None,
        Some(roots) => {
            match WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
            {
                Ok(v) => Some(v),
                Err(err) => {
                    e.push("ca_file", err.to_string());
                    None
                }
            }
        }
        None => None,
    };
    let verifier = Arc::new(Verifier {
        webpki,
        name_override,
        allow_tls12: versions.contains(&&rustls::version::TLS12),
        provider,
    });
    e.finish(Some(ClientParts {
        verifier,
        identity,
        versions,
    }))
}

/// A complete rustls client config from a `tls` block, offering `alpn`.
pub fn client_config(
    tls: &TlsClientConfig,
    path: &str,
    alpn: &[&[u8]],
) -> Result<ClientConfig, ConfigErrors> {
    let parts = client_parts(tls, path)?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&parts.versions)
        .map_err(|err| {
            ConfigErrors(vec![ConfigError::new(
                format!("{path}.min_version"),
                err.to_string(),
            )])
        })?
        .dangerous()
        .with_custom_certificate_verifier(parts.verifier);
    let mut config = match parts.identity {
        Some((certs, key)) => builder.with_client_auth_cert(certs, key).map_err(|err| {
            ConfigErrors(vec![ConfigError::new(
                format!("{path}.key_file"),
                format!("the certificate and key cannot be used together: {err}"),
            )])
        })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}
