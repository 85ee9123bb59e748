//! `basicauth` extension (otelcol contrib): HTTP Basic authentication. With `htpasswd` it is a
//! server authenticator: a request needs `Authorization: Basic base64(user:password)` matching
//! an htpasswd entry (`inline` entries take precedence over the `file`'s), and the request then
//! carries the auth attributes `username` and `raw`. With `client_auth` it is a client
//! authenticator: exporters send that header. Exactly one of the two must be set, as in otelcol.
//! htpasswd hashes: bcrypt (`$2y$`, `htpasswd -B`), Apache MD5 (`$apr1$`, htpasswd's default),
//! `{SHA}`, and plain text; others (crypt) are a config error. The file is read at start, not by
//! `validate`, as otelcol. Passwords never appear in logs, errors or `Debug` output.
//!
//! ```yaml
//! extensions:
//!   basicauth/server:
//!     htpasswd:
//!       file: /etc/otelcol/.htpasswd
//!       inline: |
//!         ${env:BASIC_AUTH_USERNAME}:${env:BASIC_AUTH_PASSWORD}
//!   basicauth/client:
//!     client_auth:
//!       username: collector
//!       password: ${env:BACKEND_PASSWORD}
//! receivers:
//!   otlp:
//!     protocols:
//!       http: { auth: { authenticator: basicauth/server } }
//! exporters:
//!   otlphttp:
//!     endpoint: https://backend:4318
//!     auth: { authenticator: basicauth/client }
//! service:
//!   extensions: [basicauth/server, basicauth/client]
//! ```

use crate::secret::{constant_time_eq, Secret};
use base64::Engine;
use ferrotel_config::{ConfigErrors, Findings, Validate, Validator};
use ferrotel_core::{
    AuthError, ClientAuthenticator, CreateContext, Extension, ExtensionContext, Factory,
    FactoryInfo, ServerAuthenticator, Stability, StartError,
};
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use sha1::Digest;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `extensions.basicauth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuthConfig {
    /// Server side: the accepted users.
    pub htpasswd: Option<HtpasswdConfig>,
    /// Client side: the credentials exporters send.
    pub client_auth: Option<ClientAuthConfig>,
}

/// `htpasswd`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HtpasswdConfig {
    /// Path of an htpasswd file (`user:hash` per line).
    pub file: String,
    /// htpasswd content inline; its users take precedence over the file's.
    pub inline: Secret,
}

/// `client_auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientAuthConfig {
    /// The user name sent.
    pub username: String,
    /// The password sent.
    pub password: Secret,
}

/// A stored password, as htpasswd writes it.
enum Hash {
    Bcrypt(String),
    Apr1 { salt: String, hash: String },
    Sha1(Vec<u8>),
    Plain(Vec<u8>),
}

impl Hash {
    fn parse(s: &str) -> Result<Hash, &'static str> {
        if s.starts_with("$2y$") || s.starts_with("$2a$") || s.starts_with("$2b$") {
            Ok(Hash::Bcrypt(s.to_string()))
        } else if let Some(rest) = s.strip_prefix("$apr1$") {
            let (salt, hash) = rest.split_once('$').ok_or("malformed $apr1$ hash")?;
            Ok(Hash::Apr1 {
                salt: salt.to_string(),
                hash: hash.to_string(),
            })
        } else if let Some(b64) = s.strip_prefix("{SHA}") {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map(Hash::Sha1)
                .map_err(|_| "malformed {SHA} hash")
        } else if s.starts_with('$') {
            Err("unsupported password hash (use bcrypt, $apr1$, {SHA} or plain text)")
        } else {
            Ok(Hash::Plain(s.as_bytes().to_vec()))
        }
    }

    fn verify(&self, password: &[u8]) -> bool {
        match self {
            Hash::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
            Hash::Apr1 { salt, hash } => {
                constant_time_eq(apr1(password, salt.as_bytes()).as_bytes(), hash.as_bytes())
            }
            Hash::Sha1(h) => constant_time_eq(&sha1::Sha1::digest(password), h),
            Hash::Plain(p) => constant_time_eq(p, password),
        }
    }
}

/// Apache's MD5 crypt (`$apr1$`): the encoded hash part, for `password` and `salt`.
fn apr1(password: &[u8], salt: &[u8]) -> String {
    let salt = &salt[..salt.len().min(8)];
    let mut ctx = md5::Md5::new();
    ctx.update(password);
    ctx.update(b"$apr1$");
    ctx.update(salt);
    let alt = md5::Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    for chunk in password.chunks(16) {
        ctx.update(&alt[..chunk.len()]);
    }
    let mut n = password.len();
    while n > 0 {
        if n & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        n >>= 1;
    }
    let mut sum = ctx.finalize();
    for i in 0..1000 {
        let mut c = md5::Md5::new();
        if i & 1 == 1 {
            c.update(password);
        } else {
            c.update(sum);
        }
        if i % 3 != 0 {
            c.update(salt);
        }
        if i % 7 != 0 {
            c.update(password);
        }
        if i & 1 == 1 {
            c.update(sum);
        } else {
            c.update(password);
        }
        sum = c.finalize();
    }
    const ITOA64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(22);
    let mut put = |mut v: u32, n: usize| {
        for _ in 0..n {
            out.push(ITOA64[(v & 0x3f) as usize] as char);
            v >>= 6;
        }
    };
    let b = |i: usize| u32::from(sum[i]);
    for (x, y, z) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        put(b(x) << 16 | b(y) << 8 | b(z), 4);
    }
    put(b(11), 2);
    out
}

/// The users of an htpasswd text; `v` is at the key it came from.
fn parse_htpasswd(text: &str, v: &mut Validator<'_>, users: &mut BTreeMap<String, Hash>) -> bool {
    let mut ok = true;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line
            .split_once(':')
            .ok_or("expected user:password")
            .and_then(|(u, h)| Ok((u, Hash::parse(h)?)));
        match parsed {
            Ok((user, hash)) => {
                users.insert(user.to_string(), hash);
            }
            Err(why) => {
                ok = false;
                v.report(format!("line {}: {why}", n + 1));
            }
        }
    }
    ok
}

/// The server side: users and their hashes.
struct Htpasswd {
    users: BTreeMap<String, Hash>,
}

impl Htpasswd {
    /// The users of `cfg` (at `v`), the `file` read only with `read_file` (at start).
    fn new(cfg: &HtpasswdConfig, v: &mut Validator<'_>, read_file: bool) -> Option<Self> {
        let mut users = BTreeMap::new();
        let mut ok = true;
        if read_file && !cfg.file.is_empty() {
            let mut v = v.at("file");
            match std::fs::read_to_string(&cfg.file) {
                Ok(text) => ok &= parse_htpasswd(&text, &mut v, &mut users),
                Err(e) => {
                    ok = false;
                    v.report(format!("failed to read {:?}: {e}", cfg.file));
                }
            }
        }
        // Inline entries are read last, so they replace the file's.
        ok &= parse_htpasswd(cfg.inline.expose(), &mut v.at("inline"), &mut users);
        ok.then_some(Htpasswd { users })
    }
}

#[async_trait::async_trait]
impl ServerAuthenticator for Htpasswd {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Vec<(String, String)>, AuthError> {
        let value = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| AuthError("no basic auth provided".into()))?;
        let raw = match value.split_once(' ') {
            Some((scheme, raw)) if scheme.eq_ignore_ascii_case("basic") => raw.trim(),
            _ => return Err(AuthError("invalid authorization scheme prefix".into())),
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| AuthError("invalid authorization format".into()))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| AuthError("invalid authorization format".into()))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| AuthError("invalid authorization format".into()))?;
        match self.users.get(user) {
            Some(hash) if hash.verify(password.as_bytes()) => Ok(vec![
                ("username".into(), user.to_string()),
                ("raw".into(), raw.to_string()),
            ]),
            _ => Err(AuthError("invalid credentials".into())),
        }
    }
}

/// The client side: the header value to send.
struct Credentials(HeaderValue);

impl ClientAuthenticator for Credentials {
    fn apply(&self, headers: &mut HeaderMap) -> Result<(), AuthError> {
        headers.insert(AUTHORIZATION, self.0.clone());
        Ok(())
    }
}

/// The extension: nothing to run, only the authenticator.
pub struct BasicAuth {
    server: Option<Arc<Htpasswd>>,
    client: Option<Arc<Credentials>>,
    /// The config whose htpasswd `file` is still to be read (at start).
    pending: Option<BasicAuthConfig>,
}

#[async_trait::async_trait]
impl Extension for BasicAuth {
    async fn start(&mut self, _ctx: ExtensionContext) -> Result<(), StartError> {
        if let Some(cfg) = self.pending.take() {
            let mut findings = Findings::default();
            let built = BasicAuth::new(&cfg, &mut Validator::new("", &mut findings), true);
            findings.into_result()?;
            self.server = built.and_then(|b| b.server);
        }
        Ok(())
    }
    async fn shutdown(&mut self) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn server_authenticator(&self) -> Option<Arc<dyn ServerAuthenticator>> {
        self.server
            .clone()
            .map(|s| s as Arc<dyn ServerAuthenticator>)
    }
    fn client_authenticator(&self) -> Option<Arc<dyn ClientAuthenticator>> {
        self.client
            .clone()
            .map(|c| c as Arc<dyn ClientAuthenticator>)
    }
}

impl BasicAuth {
    /// The authenticator of `cfg`, every problem reported through `v`; the htpasswd `file` is
    /// read only with `read_file` (at start).
    fn new(cfg: &BasicAuthConfig, v: &mut Validator<'_>, read_file: bool) -> Option<Self> {
        let (server, client) = match (&cfg.htpasswd, &cfg.client_auth) {
            (Some(_), Some(_)) => {
                v.report("only one of `htpasswd` or `client_auth` can be specified");
                return None;
            }
            (None, None) => {
                v.report("no credential source provided");
                return None;
            }
            (Some(h), None) => (
                Some(Arc::new(Htpasswd::new(
                    h,
                    &mut v.at("htpasswd"),
                    read_file,
                )?)),
                None,
            ),
            (None, Some(c)) => {
                let raw = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    c.username,
                    c.password.expose()
                ));
                let Ok(mut value) = HeaderValue::try_from(format!("Basic {raw}")) else {
                    v.report_at("client_auth", "invalid credentials");
                    return None;
                };
                value.set_sensitive(true);
                (None, Some(Arc::new(Credentials(value))))
            }
        };
        Some(BasicAuth {
            server,
            client,
            pending: None,
        })
    }
}

impl Validate for BasicAuthConfig {
    /// Everything but the htpasswd `file`, which is read at start.
    fn validate(&self, v: &mut Validator<'_>) {
        BasicAuth::new(self, v, false);
    }
}

/// Creates `basicauth` extensions.
pub struct BasicAuthFactory;

impl Factory for BasicAuthFactory {
    type Config = BasicAuthConfig;
    type Component = Box<dyn Extension>;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "basic_auth",
            "HTTP Basic authentication (htpasswd for receivers, credentials for exporters)",
        )
        .aliases(&["basicauth"])
        .stability(Stability::Beta)
        .example("client_auth: {username: user, password: secret}")
    }

    fn create(
        &self,
        ctx: &CreateContext,
        cfg: BasicAuthConfig,
    ) -> Result<Box<dyn Extension>, ConfigErrors> {
        let mut findings = Findings::default();
        let auth = BasicAuth::new(&cfg, &mut ctx.validator(&mut findings), false);
        findings.into_result()?;
        // Every refusal was reported above.
        let mut auth = auth.ok_or_else(|| ctx.error("invalid basicauth config"))?;
        if cfg.htpasswd.as_ref().is_some_and(|h| !h.file.is_empty()) {
            auth.pending = Some(cfg);
        }
        Ok(Box::new(auth))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_config::decode;
    use ferrotel_core::AnyFactory;
    use ferrotel_testkit::config::{create_context, testdata, yaml};

    fn context() -> ExtensionContext {
        ExtensionContext::new(ferrotel_core::ComponentId::new("basicauth"))
    }

    fn create(config: &str) -> Result<Box<dyn Extension>, ConfigErrors> {
        BasicAuthFactory.create_from(&create_context("extensions", "basicauth"), &yaml(config))
    }

    fn load(name: &str) -> Result<Box<dyn Extension>, ConfigErrors> {
        create(&testdata(env!("CARGO_MANIFEST_DIR"), "basicauth", name))
    }

    fn basic(user: &str, pass: &str) -> HeaderMap {
        let raw = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, format!("Basic {raw}").parse().unwrap());
        h
    }

    #[test]
    fn apr1_matches_openssl() {
        // `openssl passwd -apr1 -salt abcdefgh password` and `-salt xyz 'p@ss:word'`.
        assert_eq!(apr1(b"password", b"abcdefgh"), "FBwExRW4dCc8aL.OvjpIE1");
        assert_eq!(apr1(b"p@ss:word", b"xyz"), "x87lmicgFGVzCDR3nSMXo1");
    }

    #[tokio::test]
    async fn every_hash_kind_and_inline_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("htpasswd");
        let bcrypt_hash = bcrypt::hash("bcrypt-pw", 4).unwrap();
        std::fs::write(
            &file,
            format!(
                "# users\nbc:{bcrypt_hash}\nmd:$apr1$xyz$x87lmicgFGVzCDR3nSMXo1\nsha:{{SHA}}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nplain:old\n"
            ),
        )
        .unwrap();
        let mut ext = create(&format!(
            "htpasswd: {{ file: '{}', inline: \"plain:new\\n\" }}",
            file.display()
        ))
        .unwrap();
        ext.start(context()).await.unwrap();
        assert!(ext.client_authenticator().is_none());
        let auth = ext.server_authenticator().unwrap();
        for (user, pass) in [
            ("bc", "bcrypt-pw"),
            ("md", "p@ss:word"),
            ("sha", "password"),
            ("plain", "new"),
        ] {
            let got = auth.authenticate(&basic(user, pass)).await;
            let attrs = got.unwrap_or_else(|e| panic!("{user}: {e}"));
            assert_eq!(attrs[0], ("username".to_string(), user.to_string()));
            assert_eq!(attrs[1].0, "raw");
        }
        for (user, pass) in [
            ("bc", "x"),
            ("md", "p@ss"),
            ("sha", "Password"),
            ("plain", "old"),
            ("nobody", "new"),
        ] {
            let e = auth.authenticate(&basic(user, pass)).await.unwrap_err();
            assert_eq!(e.0, "invalid credentials", "{user}");
        }
    }

    #[tokio::test]
    async fn malformed_headers_are_refused() {
        let ext = load("server.yaml").unwrap();
        let auth = ext.server_authenticator().unwrap();
        assert!(auth.authenticate(&basic("user", "s3cret")).await.is_ok());
        let e = auth.authenticate(&HeaderMap::new()).await.unwrap_err();
        assert_eq!(e.0, "no basic auth provided");
        for (value, why) in [
            ("Bearer abc", "invalid authorization scheme prefix"),
            ("Basic !!!", "invalid authorization format"),
            ("Basic dXNlcg==", "invalid authorization format"), // "user", no colon
        ] {
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, value.parse().unwrap());
            assert_eq!(auth.authenticate(&h).await.unwrap_err().0, why, "{value}");
        }
    }

    #[test]
    fn client_sends_basic_credentials() {
        let ext = load("client.yaml").unwrap();
        assert!(ext.server_authenticator().is_none());
        let mut h = HeaderMap::new();
        ext.client_authenticator().unwrap().apply(&mut h).unwrap();
        // base64("collector:pa55")
        assert_eq!(h.get(AUTHORIZATION).unwrap(), "Basic Y29sbGVjdG9yOnBhNTU=");
        assert!(h.get(AUTHORIZATION).unwrap().is_sensitive());
    }

    #[test]
    fn validation_checks_all_but_the_file() {
        let check = |config: &str| BasicAuthFactory.check("extensions.b", &yaml(config));
        let e = check("htpasswd: { inline: nocolon }").unwrap_err();
        assert_eq!(e.0[0].path, "extensions.b.htpasswd.inline");
        let e = check("{}").unwrap_err();
        assert_eq!(e.0[0].message, "no credential source provided");
        assert_eq!(
            check("htpasswd: { file: /nonexistent/htpasswd }"),
            Ok(vec![])
        );
    }

    #[tokio::test]
    async fn config_errors_have_paths() {
        let e = load("typo.yaml").err().unwrap();
        assert_eq!(e.0[0].path, "extensions.basicauth.htpasswd.inlin", "{e}");
        let e = load("invalid.yaml").err().unwrap();
        assert_eq!(e.0[0].path, "extensions.basicauth.htpasswd.inline", "{e}");
        assert!(e.0[0].message.contains("line 2"), "{e}");
        assert!(
            !e.to_string().contains("s3cret"),
            "no password in errors: {e}"
        );
        let e = create("{}").err().unwrap();
        assert_eq!(e.0[0].message, "no credential source provided");
        let e = create("{ htpasswd: { inline: 'a:b' }, client_auth: { username: a } }")
            .err()
            .unwrap();
        assert!(e.0[0].message.contains("only one of"), "{e}");
        // The file is read at start: a missing one is a start error naming the key and file.
        let mut ext = create("htpasswd: { file: /nonexistent/htpasswd }").unwrap();
        let e = ext.start(context()).await.err().unwrap();
        assert!(
            e.0.starts_with("htpasswd.file: failed to read \"/nonexistent/htpasswd\": "),
            "{e}"
        );
        let cfg: BasicAuthConfig = decode(
            "x",
            &serde_yaml_ng::from_str("client_auth: { username: u, password: s3cret }").unwrap(),
        )
        .unwrap();
        assert!(!format!("{cfg:?}").contains("s3cret"));
    }
}
