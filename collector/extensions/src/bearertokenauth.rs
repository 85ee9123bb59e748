//! `bearertokenauth` extension (otelcol contrib): a static bearer token. As a server
//! authenticator (`receivers.*.auth.authenticator`) it accepts a request whose `header` (default
//! `Authorization`) is `<scheme> <token>` for one of the configured tokens, compared in constant
//! time; as a client authenticator (`exporters.*.auth.authenticator`) it sends that header with
//! the (first) token. `filename` is read at start, not by `validate`, as otelcol (one token per
//! line; it takes precedence over `token`/`tokens`); unlike otelcol it is not watched for
//! changes, so restart
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
use ferrotel_config::{ConfigErrors, Findings, Validate, Validator};
use ferrotel_core::{
    AuthError, ClientAuthenticator, CreateContext, Extension, ExtensionContext, Factory,
    FactoryInfo, ServerAuthenticator, Stability, StartError,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::sync::Arc;

/// `extensions.bearertokenauth`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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
    /// The checked settings, every problem reported through `v`. The file named by `filename`
    /// is read only with `read_file` (at create time): without it the tokens are left unchecked
    /// when there is a file.
    fn new(cfg: &BearerTokenAuthConfig, v: &mut Validator<'_>, read_file: bool) -> Option<Self> {
        let header = HeaderName::try_from(cfg.header.trim()).ok();
        if header.is_none() {
            v.report_at("header", "not a valid HTTP header name");
        }
        // Whether the tokens have a problem reported already.
        let mut failed = false;
        let (tokens, key): (Vec<String>, &str) = if !cfg.filename.is_empty() {
            if !read_file {
                return None;
            }
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
                    failed = true;
                    v.report_at(
                        "filename",
                        format!("failed to read {:?}: {e}", cfg.filename),
                    );
                    (vec![], "filename")
                }
            }
        } else if !cfg.token.is_empty() && !cfg.tokens.is_empty() {
            failed = true;
            v.report_at("tokens", "either token or tokens can be set, not both");
            (vec![], "tokens")
        } else if !cfg.token.is_empty() {
            (vec![cfg.token.expose().to_string()], "token")
        } else {
            let tokens = cfg.tokens.iter().map(|t| t.expose().to_string());
            (tokens.collect(), "tokens")
        };
        if tokens.is_empty() && !failed {
            failed = true;
            v.report("no bearer token provided");
        }
        let mut values = Vec::with_capacity(tokens.len());
        for t in tokens {
            let value = if cfg.scheme.is_empty() {
                t
            } else {
                format!("{} {t}", cfg.scheme)
            };
            match HeaderValue::try_from(value) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    values.push(value);
                }
                Err(_) => {
                    failed = true;
                    v.report_at(key, "the token is not a valid HTTP header value");
                }
            }
        }
        let header = header.filter(|_| !failed)?;
        Some(BearerToken { header, values })
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

/// The extension: nothing to run, only the authenticator. With `filename`, the authenticator
/// exists once started (the file is read at start, as otelcol; `validate` does not read it).
pub struct BearerTokenAuth {
    cfg: BearerTokenAuthConfig,
    auth: Option<Arc<BearerToken>>,
}

#[async_trait::async_trait]
impl Extension for BearerTokenAuth {
    async fn start(&mut self, _ctx: ExtensionContext) -> Result<(), StartError> {
        if self.auth.is_none() {
            let mut findings = Findings::default();
            let auth = BearerToken::new(&self.cfg, &mut Validator::new("", &mut findings), true);
            findings.into_result()?;
            self.auth = auth.map(Arc::new);
        }
        Ok(())
    }
    async fn shutdown(&mut self) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn server_authenticator(&self) -> Option<Arc<dyn ServerAuthenticator>> {
        self.auth.clone().map(|a| a as Arc<dyn ServerAuthenticator>)
    }
    fn client_authenticator(&self) -> Option<Arc<dyn ClientAuthenticator>> {
        self.auth.clone().map(|a| a as Arc<dyn ClientAuthenticator>)
    }
}

impl Validate for BearerTokenAuthConfig {
    /// Everything but the file named by `filename`, which is read at start.
    fn validate(&self, v: &mut Validator<'_>) {
        BearerToken::new(self, v, false);
    }
}

/// Creates `bearertokenauth` extensions.
pub struct BearerTokenAuthFactory;

impl Factory for BearerTokenAuthFactory {
    type Config = BearerTokenAuthConfig;
    type Component = Box<dyn Extension>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "bearer_token_auth",
            "Static bearer token authentication for receivers and exporters",
        )
        .aliases(&["bearertokenauth"])
        .stability(Stability::Beta)
        .example("token: example-token")
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: BearerTokenAuthConfig,
    ) -> Result<Box<dyn Extension>, ConfigErrors> {
        let mut findings = Findings::default();
        // Without a file, everything is known now; a file is read at start.
        let auth = BearerToken::new(&cfg, &mut ctx.validator(&mut findings), false);
        findings.into_result()?;
        if auth.is_none() && cfg.filename.is_empty() {
            return Err(ctx.error("no bearer token provided"));
        }
        Ok(Box::new(BearerTokenAuth {
            cfg,
            auth: auth.map(Arc::new),
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_config::{decode, Value};
    use ferrotel_core::AnyFactory;
    use ferrotel_testkit::config::{create_context, testdata, yaml};

    fn context() -> ExtensionContext {
        ExtensionContext::new(ferrotel_core::ComponentId::new("bearertokenauth"))
    }

    fn create(config: &str) -> Result<Box<dyn Extension>, ConfigErrors> {
        BearerTokenAuthFactory.create_from(
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
        let mut ext = create(&format!("{{ token: inline, filename: '{}' }}", f.display())).unwrap();
        assert!(
            ext.client_authenticator().is_none(),
            "the file is read at start"
        );
        ext.start(context()).await.unwrap();
        let mut h = HeaderMap::new();
        ext.client_authenticator().unwrap().apply(&mut h).unwrap();
        assert_eq!(h.get("authorization").unwrap(), "Bearer from-file");
        // A file that cannot be read is a start error naming the key and the file.
        let mut ext = create("{ filename: /nonexistent/token }").unwrap();
        let e = ext.start(context()).await.err().unwrap();
        assert!(
            e.0.starts_with("filename: failed to read \"/nonexistent/token\": "),
            "{e}"
        );
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
    fn validation_checks_all_but_the_file() {
        let check = |config: &str| BearerTokenAuthFactory.check("extensions.b", &yaml(config));
        let e = check("{}").unwrap_err();
        assert_eq!(e.0[0].path, "extensions.b");
        assert_eq!(e.0[0].message, "no bearer token provided");
        let e = check("{ header: 'bad header', token: a }").unwrap_err();
        assert_eq!(e.0[0].path, "extensions.b.header");
        assert_eq!(check("{ filename: /nonexistent/token }"), Ok(vec![]));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let v: Value = serde_yaml_ng::from_str("{ token: s3cret, tokens: [t2] }").unwrap();
        let cfg: BearerTokenAuthConfig = decode("x", &v).unwrap();
        let text = format!("{cfg:?}");
        assert!(!text.contains("s3cret") && !text.contains("t2"), "{text}");
    }
}
