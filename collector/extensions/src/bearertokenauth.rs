//! `bearertokenauth` extension (otelcol contrib): a static bearer token. As a server
//! authenticator (`receivers.*.auth.authenticator`) it accepts a request whose `header` (default
//! `Authorization`) is `<scheme> <token>` for one of the configured tokens, compared in constant
//! time; as a client authenticator (`exporters.*.auth.authenticator`) it sends that header with
//! the (first) token. `filename` is read when the config is loaded (one token per line; it takes
//! precedence over `token`/`tokens`) — unlike otelcol it is not watched for changes, so restart
//! to change it. Tokens never appear in logs, errors or `Debug` output.
//!
//! ```yaml
//! extensions:
//!   bearertokenauth:
//!     token: "${env:OTLP_TOKEN}"
//!     # tokens: [token-a, token-b]    # several accepted tokens (server side)
//!     # filename: /run/secrets/otlp-token
//!     # scheme: Bearer                # default; "" sends the bare token
//!     # header: Authorization         # default
//! receivers:
//!   otlp:
//!     protocols:
//!       grpc: { auth: { authenticator: bearertokenauth } }
//! service:
//!   extensions: [bearertokenauth]
//! ```

use crate::secret::{constant_time_eq, Secret};
use ferrotel_config::{decode, ConfigError, ConfigErrors, Value};
use ferrotel_core::{
    AuthError, ClientAuthenticator, CreateContext, Extension, ExtensionContext, ExtensionFactory,
    FactoryInfo, ServerAuthenticator, Stability, StartError,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use std::any::Any;
use std::sync::Arc;

/// `extensions.bearertokenauth`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BearerTokenAuthConfig {
    /// The header carrying the token (names are case-insensitive).
    pub header: String,
    /// What precedes the token in the header value, followed by a space; empty: nothing.
    pub scheme: String,
    /// The token.
    pub token: Secret,
    /// Several accepted tokens (a client sends the first); not together with `token`.
    pub tokens: Vec<Secret>,
    /// A file holding the token(s), one per line; takes precedence over `token` and `tokens`.
    pub filename: String,
}

impl Default for BearerTokenAuthConfig {
    fn default() -> Self {
        BearerTokenAuthConfig {
            header: "Authorization".into(),
            scheme: "Bearer".into(),
            token: Secret::default(),
            tokens: vec![],
            filename: String::new(),
        }
    }
}

/// The checked settings: the header and the full header values accepted.
struct BearerToken {
    header: HeaderName,
    /// `<scheme> <token>` for each token, the first one sent by clients.
    values: Vec<HeaderValue>,
}

impl BearerToken {
    fn new(path: &str, cfg: &BearerTokenAuthConfig) -> Result<Self, ConfigErrors> {
        let mut errors = vec![];
        let header = HeaderName::try_from(cfg.header.trim()).map_err(|_| {
            ConfigError::new(format!("{path}.header"), "not a valid HTTP header name")
        });
        let (tokens, key): (Vec<String>, &str) = if !cfg.filename.is_empty() {
            match std::fs::read_to_string(&cfg.filename) {
                Ok(text) => (
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(String::from)
                        .collect(),
                    "filename",
                ),
                Err(e) => {
                    errors.push(ConfigError::new(
                        format!("{path}.filename"),
                        format!("failed to read {:?}: {e}", cfg.filename),
                    ));
                    (vec![], "filename")
                }
            }
        } else if !cfg.token.is_empty() && !cfg.tokens.is_empty() {
            errors.push(ConfigError::new(
                format!("{path}.tokens"),
                "either token or tokens can be set, not both",
            ));
            (vec![], "tokens")
        } else if !cfg.token.is_empty() {
            (vec![cfg.token.expose().to_string()], "token")
        } else {
            let tokens = cfg.tokens.iter().map(|t| t.expose().to_string());
            (tokens.collect(), "tokens")
        };
        if tokens.is_empty() && errors.is_empty() {
            errors.push(ConfigError::new(path, "no bearer token provided"));
        }
        let mut values = Vec::with_capacity(tokens.len());
        for t in tokens {
            let v = if cfg.scheme.is_empty() {
                t
            } else {
                format!("{} {t}", cfg.scheme)
            };
            match HeaderValue::try_from(v) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    values.push(v);
                }
                Err(_) => errors.push(ConfigError::new(
                    format!("{path}.{key}"),
                    "the token is not a valid HTTP header value",
                )),
            }
        }
        match header {
            Ok(header) if errors.is_empty() => Ok(BearerToken { header, values }),
            Ok(_) => Err(ConfigErrors(errors)),
            Err(e) => {
                errors.insert(0, e);
                Err(ConfigErrors(errors))
            }
        }
    }
}

#[async_trait::async_trait]
impl ServerAuthenticator for BearerToken {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Vec<(String, String)>, AuthError> {
        let got = match headers.get(&self.header) {
            Some(v) if !v.is_empty() => v.as_bytes(),
            _ => {
                return Err(AuthError(format!(
                    "missing or empty {} header",
                    self.header
                )))
            }
        };
        // Check every token, so the time taken does not tell which one was close.
        let matched = self
            .values
            .iter()
            .fold(false, |ok, v| constant_time_eq(v.as_bytes(), got) | ok);
        if matched {
            Ok(vec![])
        } else {
            Err(AuthError("scheme or token does not match".into()))
        }
    }
}

impl ClientAuthenticator for BearerToken {
    fn apply(&self, headers: &mut HeaderMap) -> Result<(), AuthError> {
        let v = self
            .values
            .first()
            .ok_or_else(|| AuthError("no bearer token".into()))?;
        headers.insert(self.header.clone(), v.clone());
        Ok(())
    }
}

/// The extension: nothing to run, only the authenticator.
pub struct BearerTokenAuth {
    auth: Arc<BearerToken>,
}

#[async_trait::async_trait]
impl Extension for BearerTokenAuth {
    async fn start(&mut self, _ctx: ExtensionContext) -> Result<(), StartError> {
        Ok(())
    }
    async fn shutdown(&mut self) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn server_authenticator(&self) -> Option<Arc<dyn ServerAuthenticator>> {
        Some(self.auth.clone())
    }
    fn client_authenticator(&self) -> Option<Arc<dyn ClientAuthenticator>> {
        Some(self.auth.clone())
    }
}

/// Creates `bearertokenauth` extensions.
pub struct BearerTokenAuthFactory;

impl ExtensionFactory for BearerTokenAuthFactory {
    fn info(&self) -> FactoryInfo {
        FactoryInfo {
            type_name: "bearertokenauth",
            aliases: &[],
            signals: &[],
            stability: Stability::Beta,
            description: "Static bearer token authentication for receivers and exporters",
        }
    }

    fn create(
        &self,
        ctx: &CreateContext,
        config: &Value,
    ) -> Result<Box<dyn Extension>, ConfigErrors> {
        let cfg: BearerTokenAuthConfig = decode(&ctx.path, config)?;
        Ok(Box::new(BearerTokenAuth {
            auth: Arc::new(BearerToken::new(&ctx.path, &cfg)?),
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_testkit::config::{create_context, testdata, yaml};

    fn create(config: &str) -> Result<Box<dyn Extension>, ConfigErrors> {
        BearerTokenAuthFactory.create(
            &create_context("extensions", "bearertokenauth"),
            &yaml(config),
        )
    }

    fn load(name: &str) -> Result<Box<dyn Extension>, ConfigErrors> {
        create(&testdata(
            env!("CARGO_MANIFEST_DIR"),
            "bearertokenauth",
            name,
        ))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_static(k),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn server_accepts_only_the_token_with_its_scheme() {
        let ext = load("valid.yaml").unwrap();
        let auth = ext.server_authenticator().unwrap();
        let ok = auth
            .authenticate(&headers(&[("authorization", "Bearer s3cret")]))
            .await;
        assert_eq!(ok, Ok(vec![]));
        for bad in ["Bearer wrong", "s3cret", "Basic s3cret", "Bearer s3cret2"] {
            let e = auth
                .authenticate(&headers(&[("authorization", bad)]))
                .await
                .unwrap_err();
            assert_eq!(e.0, "scheme or token does not match");
            assert!(!e.0.contains("s3cret"), "the error does not echo tokens");
        }
        let e = auth.authenticate(&HeaderMap::new()).await.unwrap_err();
        assert!(e.0.contains("missing"), "{e}");
    }

    #[tokio::test]
    async fn custom_header_scheme_and_several_tokens() {
        let ext = create("{ header: X-Api-Key, scheme: '', tokens: [a1, b2] }").unwrap();
        let auth = ext.server_authenticator().unwrap();
        for t in ["a1", "b2"] {
            assert!(auth
                .authenticate(&headers(&[("x-api-key", t)]))
                .await
                .is_ok());
        }
        assert!(auth
            .authenticate(&headers(&[("authorization", "a1")]))
            .await
            .is_err());
        let mut h = HeaderMap::new();
        ext.client_authenticator().unwrap().apply(&mut h).unwrap();
        assert_eq!(h.get("x-api-key").unwrap(), "a1");
        assert!(h.get("x-api-key").unwrap().is_sensitive());
    }

    #[tokio::test]
    async fn filename_is_read_and_takes_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "from-file\n").unwrap();
        let ext = create(&format!("{{ token: inline, filename: '{}' }}", f.display())).unwrap();
        let mut h = HeaderMap::new();
        ext.client_authenticator().unwrap().apply(&mut h).unwrap();
        assert_eq!(h.get("authorization").unwrap(), "Bearer from-file");
        let e = create("{ filename: /nonexistent/token }").err().unwrap();
        assert_eq!(e.0[0].path, "extensions.bearertokenauth.filename");
    }

    #[test]
    fn config_errors_have_paths() {
        let e = load("typo.yaml").err().unwrap();
        assert_eq!(e.0[0].path, "extensions.bearertokenauth.tokn", "{e}");
        let e = load("invalid.yaml").err().unwrap();
        assert_eq!(e.0[0].path, "extensions.bearertokenauth.tokens", "{e}");
        let e = create("{}").err().unwrap();
        assert_eq!(e.0[0].path, "extensions.bearertokenauth");
        assert_eq!(e.0[0].message, "no bearer token provided");
        let e = create("{ token: \"a\\nb\" }").err().unwrap();
        assert_eq!(e.0[0].path, "extensions.bearertokenauth.token");
        assert!(!e.to_string().contains("a\nb"));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let v: Value = serde_yaml_ng::from_str("{ token: s3cret, tokens: [t2] }").unwrap();
        let cfg: BearerTokenAuthConfig = decode("x", &v).unwrap();
        let text = format!("{cfg:?}");
        assert!(!text.contains("s3cret") && !text.contains("t2"), "{text}");
    }
}
