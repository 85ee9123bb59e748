//! Authentication capabilities that extensions offer to receivers and exporters, and
//! [`Extensions`], the lookup of started extensions handed to them at start. A receiver with
//! `auth: { authenticator: <id> }` asks for a [`ServerAuthenticator`] and checks every request
//! before reading its body; an exporter with the same key asks for a [`ClientAuthenticator`]
//! and lets it add its headers to every request.
//!
//! ```yaml
//! extensions:
//!   bearertokenauth: { token: "${env:TOKEN}" }
//! receivers:
//!   otlp:
//!     protocols:
//!       grpc: { auth: { authenticator: bearertokenauth } }
//! exporters:
//!   otlp:
//!     endpoint: backend:4317
//!     auth: { authenticator: bearertokenauth }
//! service:
//!   extensions: [bearertokenauth]
//! ```

use crate::{ComponentId, Extension};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why a request or a client could not be authenticated. Receivers answer 401 / UNAUTHENTICATED
/// with the message; it must not contain the credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// Checks incoming requests (otelcol's `extensionauth.Server`).
#[async_trait::async_trait]
pub trait ServerAuthenticator: Send + Sync {
    /// Checks one request's headers (HTTP headers, or gRPC metadata, which are the same on the
    /// wire). Ok: attributes to attach to the request ([`crate::RequestMeta::auth`]).
    async fn authenticate(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<Vec<(String, String)>, AuthError>;
}

/// Adds credentials to outgoing requests (otelcol's `extensionauth.HTTPClient` /
/// `GRPCClient`).
pub trait ClientAuthenticator: Send + Sync {
    /// Inserts this authenticator's headers (e.g. `authorization`) into a request's headers.
    fn apply(&self, headers: &mut http::HeaderMap) -> Result<(), AuthError>;
}

#[derive(Clone)]
struct Entry {
    server: Option<Arc<dyn ServerAuthenticator>>,
    client: Option<Arc<dyn ClientAuthenticator>>,
    storage: Option<Arc<dyn crate::Storage>>,
}

/// The extensions of the running collector, by id, with the capabilities they offer. Cheap to
/// clone. Built by the engine from `service.extensions` once they started.
#[derive(Clone, Default)]
pub struct Extensions {
    by_id: Arc<BTreeMap<String, Entry>>,
}

impl Extensions {
    /// A lookup over `(id, extension)` pairs.
    pub fn new<'a>(list: impl IntoIterator<Item = (&'a ComponentId, &'a dyn Extension)>) -> Self {
        let by_id = list
            .into_iter()
            .map(|(id, ext)| {
                let entry = Entry {
                    server: ext.server_authenticator(),
                    client: ext.client_authenticator(),
                    storage: ext.storage(),
                };
                (id.to_string(), entry)
            })
            .collect();
        Extensions {
            by_id: Arc::new(by_id),
        }
    }

    fn entry(&self, id: &str) -> Result<&Entry, String> {
        self.by_id.get(id.trim()).ok_or_else(|| {
            format!(
                "failed to resolve authenticator {id:?}: no such extension in service.extensions"
            )
        })
    }

    /// The server authenticator `id` (the value of `auth.authenticator`), or why there is none.
    pub fn server_authenticator(&self, id: &str) -> Result<Arc<dyn ServerAuthenticator>, String> {
        self.entry(id)?.server.clone().ok_or_else(|| {
            format!(
                "failed to resolve authenticator {id:?}: extension is not a server authenticator"
            )
        })
    }

    /// The client authenticator `id`, or why there is none.
    pub fn client_authenticator(&self, id: &str) -> Result<Arc<dyn ClientAuthenticator>, String> {
        self.entry(id)?.client.clone().ok_or_else(|| {
            format!(
                "failed to resolve authenticator {id:?}: extension is not a client authenticator"
            )
        })
    }

    /// The storage extension `id` (a component's `storage` key), or why there is none.
    pub fn storage(&self, id: &str) -> Result<Arc<dyn crate::Storage>, String> {
        let entry = self.by_id.get(id.trim()).ok_or_else(|| {
            format!("storage extension {id:?} not found: no such extension in service.extensions")
        })?;
        entry
            .storage
            .clone()
            .ok_or_else(|| format!("extension {id:?} is not a storage extension"))
    }
}
