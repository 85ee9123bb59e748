//! exporters: `debug`, `otlp`, `otlphttp`, `prometheus`, `jaeger` and `loadbalancing`, each
//! behind the cargo feature of its name (all on by default; `loadbalancing` needs `otlp`).
//! [`register`] adds the enabled ones to a registry.

use ferrotel_core::Registry;

#[cfg(feature = "debug")]
pub mod debug;
#[cfg(feature = "jaeger")]
pub mod jaeger;
#[cfg(feature = "loadbalancing")]
pub mod loadbalancing;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "otlphttp")]
pub mod otlphttp;
#[cfg(feature = "prometheus")]
pub mod prometheus;
mod shared;

/// Adds every exporter of this crate whose feature is enabled to `r`.
pub fn register(r: Registry) -> Registry {
    #[cfg(feature = "debug")]
    let r = r.with(debug::DebugExporterFactory);
    #[cfg(feature = "otlp")]
    let r = r.with(otlp::OtlpExporterFactory);
    #[cfg(feature = "otlphttp")]
    let r = r.with(otlphttp::OtlpHttpExporterFactory);
    #[cfg(feature = "prometheus")]
    let r = r.with(prometheus::PrometheusExporterFactory);
    #[cfg(feature = "jaeger")]
    let r = r.with(jaeger::JaegerExporterFactory);
    #[cfg(feature = "loadbalancing")]
    let r = r.with(loadbalancing::LoadBalancingExporterFactory);
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn registers_every_enabled_exporter_once() {
        let r = super::register(ferrotel_core::Registry::default());
        assert!(r.problems().is_empty(), "{:?}", r.problems());
        let expected: Vec<&str> = [
            ("debug", cfg!(feature = "debug")),
            ("otlp_grpc", cfg!(feature = "otlp")),
            ("otlp_http", cfg!(feature = "otlphttp")),
            ("prometheus", cfg!(feature = "prometheus")),
            ("jaeger", cfg!(feature = "jaeger")),
            ("load_balancing", cfg!(feature = "loadbalancing")),
        ]
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect();
        let names: Vec<&str> = r.exporters.infos().iter().map(|i| i.type_name).collect();
        assert_eq!(names, expected);
    }

    /// The default config serialises and decodes back to itself.
    #[allow(dead_code)]
    fn round_trip<C>()
    where
        C: ferrotel_core::ComponentConfig + PartialEq + std::fmt::Debug,
    {
        let yaml = serde_yaml_ng::to_value(C::default()).expect("the default serialises");
        let back: C = ferrotel_config::decode("x", &yaml).expect("the default decodes");
        assert_eq!(back, C::default(), "{yaml:?}");
    }

    #[test]
    fn default_configs_round_trip() {
        #[cfg(feature = "debug")]
        round_trip::<crate::debug::DebugConfig>();
        #[cfg(feature = "otlp")]
        round_trip::<crate::otlp::OtlpConfig>();
        #[cfg(feature = "otlphttp")]
        round_trip::<crate::otlphttp::OtlpHttpConfig>();
        #[cfg(feature = "prometheus")]
        round_trip::<crate::prometheus::PrometheusConfig>();
        #[cfg(feature = "jaeger")]
        round_trip::<crate::jaeger::JaegerConfig>();
        #[cfg(feature = "loadbalancing")]
        round_trip::<crate::loadbalancing::LoadBalancingConfig>();
    }

    /// Every exporter is created from its defaults, or its example when they are not valid
    /// alone; the defaults of one with an example are refused.
    #[test]
    fn examples_create_and_defaults_need_them() {
        use ferrotel_core::{ComponentId, CreateContext, Kind, Telemetry};
        let r = super::register(ferrotel_core::Registry::default());
        for f in r.exporters.iter() {
            let info = f.describe();
            let ctx = CreateContext::new(
                Kind::Exporter,
                ComponentId::new(info.type_name),
                Telemetry::new(),
            );
            let sample = serde_yaml_ng::from_str(info.example).expect("the example is YAML");
            if let Err(e) = f.create_from(&ctx, &sample) {
                panic!("{}: {e}", info.type_name);
            }
            let defaults = f.create_from(&ctx, &ferrotel_config::Value::Null);
            assert_eq!(
                defaults.is_err(),
                !info.example.is_empty(),
                "{}",
                info.type_name
            );
        }
    }

    #[test]
    fn aliases_select_their_exporter() {
        let r = super::register(ferrotel_core::Registry::default());
        for (alias, name) in [
            ("logging", "debug"),
            ("otlp_grpc", "otlp"),
            ("otlp_http", "otlphttp"),
            ("jaeger_thrift", "jaeger"),
            ("load_balancing", "loadbalancing"),
        ] {
            if let Some(f) = r.exporters.get(name) {
                assert!(f.describe().answers_to(alias), "{alias}");
            }
        }
    }
}
