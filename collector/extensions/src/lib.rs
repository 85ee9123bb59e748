//! ferrotel-extensions: components outside pipelines, started before and stopped after them.
//! Each is behind the cargo feature of the same name (all on by default).
//!
//! - [`health_check`]: otelcol's `health_check` extension (HTTP readiness endpoint);
//! - [`bearertokenauth`] and [`basicauth`]: authenticators for receivers' and exporters'
//!   `auth.authenticator`;
//! - [`file_storage`]: disk storage for exporters' persistent `sending_queue.storage`.

use ferrotel_core::Registry;

#[cfg(feature = "basicauth")]
pub mod basicauth;
#[cfg(feature = "bearertokenauth")]
pub mod bearertokenauth;
#[cfg(feature = "file_storage")]
pub mod file_storage;
#[cfg(feature = "health_check")]
pub mod health_check;
#[cfg(any(feature = "basicauth", feature = "bearertokenauth"))]
mod secret;

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
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_config::decode;
    use ferrotel_core::{AnyFactory, Factory, Stability};
    use std::fmt::Debug;

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
    }
}
