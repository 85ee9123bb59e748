//! ferrotel-extensions: components outside pipelines, started before and stopped after them.
//! Each is behind the cargo feature of the same name (all on by default).
//!
//! - [`health_check`]: otelcol's `health_check` extension (HTTP readiness endpoint);
//! - [`bearertokenauth`] and [`basicauth`]: authenticators for receivers' and exporters'
//!   `auth.authenticator`;
//! - [`file_storage`]: disk storage for exporters' persistent `sending_queue.storage`;
//! - [`zpages`]: otelcol's `zpages` extension (HTML pages describing the running service);
//! - [`pprof`]: otelcol's `pprof` extension (CPU profiles in Go's pprof format).

use ferrotel_core::Registry;

#[cfg(feature = "basicauth")]
pub mod basicauth;
#[cfg(feature = "bearertokenauth")]
pub mod bearertokenauth;
#[cfg(feature = "file_storage")]
pub mod file_storage;
#[cfg(feature = "health_check")]
pub mod health_check;
#[cfg(any(feature = "health_check", feature = "zpages", feature = "pprof"))]
mod http_server;
#[cfg(feature = "pprof")]
pub mod pprof;
#[cfg(any(feature = "basicauth", feature = "bearertokenauth"))]
mod secret;
#[cfg(feature = "zpages")]
pub mod zpages;

#[cfg(any(feature = "basicauth", feature = "bearertokenauth"))]
pub use secret::Secret;

/// Registers every extension this crate was built with.
pub fn register(r: Registry) -> Registry {
    #[cfg(feature = "health_check")]
    let r = r.with(health_check::HealthCheckFactory);
    #[cfg(feature = "bearertokenauth")]
    let r = r.with(bearertokenauth::BearerTokenAuthFactory);
    #[cfg(feature = "basicauth")]
    let r = r.with(basicauth::BasicAuthFactory);
    #[cfg(feature = "file_storage")]
    let r = r.with(file_storage::FileStorageFactory);
    #[cfg(feature = "zpages")]
    let r = r.with(zpages::ZPagesFactory);
    #[cfg(feature = "pprof")]
    let r = r.with(pprof::PprofFactory);
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_config::decode;
    use ferrotel_core::{AnyFactory, Factory, Stability};
    use std::fmt::Debug;

    /// What the service hands an extension at start, with `service` as the running service.
    #[allow(dead_code)]
    pub(crate) fn context(
        type_name: &str,
        service: ferrotel_core::ServiceInfo,
    ) -> ferrotel_core::ExtensionContext {
        ferrotel_core::ExtensionContext {
            service: std::sync::Arc::new(service),
            ..ferrotel_core::ExtensionContext::new(ferrotel_core::ComponentId::new(type_name))
        }
    }

    /// GET `url`: status, content type and body.
    #[allow(dead_code)]
    pub(crate) async fn get(url: &str) -> (u16, String, String) {
        let r = reqwest::get(url).await.unwrap();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status().as_u16(), ct, r.text().await.unwrap())
    }

    /// The default config serialises and reads back as it is.
    #[allow(dead_code)]
    fn round_trips<F: Factory>(factory: &F)
    where
        F::Config: PartialEq + Debug,
    {
        let v = factory.default_config().unwrap();
        let name = Factory::info(factory).type_name;
        let back: F::Config = decode(name, &v).unwrap();
        assert_eq!(back, F::Config::default(), "{name}: {v:?}");
    }

    #[test]
    fn every_extension_is_registered_once_and_its_default_config_round_trips() {
        let r = register(Registry::default());
        assert!(r.problems().is_empty(), "{:?}", r.problems());
        for info in r.extensions.infos() {
            assert_eq!(info.stability, Stability::Beta, "{}", info.type_name);
            assert!(info.signals.is_empty(), "{}", info.type_name);
        }
        #[cfg(feature = "health_check")]
        round_trips(&health_check::HealthCheckFactory);
        #[cfg(feature = "bearertokenauth")]
        round_trips(&bearertokenauth::BearerTokenAuthFactory);
        #[cfg(feature = "basicauth")]
        round_trips(&basicauth::BasicAuthFactory);
        #[cfg(feature = "file_storage")]
        round_trips(&file_storage::FileStorageFactory);
        #[cfg(feature = "zpages")]
        round_trips(&zpages::ZPagesFactory);
        #[cfg(feature = "pprof")]
        round_trips(&pprof::PprofFactory);
    }
}
