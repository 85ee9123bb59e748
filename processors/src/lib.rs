//! processors: `batch`, `memory_limiter`, `resource`, `attributes`, `probabilistic_sampler`,
//! `redaction`, `tail_sampling`, `filter`, `transform` and `resource_detection`, each behind the cargo feature of its name (all on by
//! default). [`register`] adds the enabled ones to a registry.

// Tests may unwrap: a panic is how they fail.
#![cfg_attr(test, allow(clippy::unwrap_used))]

use ferrotel_core::Registry;

#[cfg(feature = "attraction")]
pub mod attraction;
#[cfg(feature = "attributes")]
pub mod attributes;
#[cfg(feature = "batch")]
pub mod batch;
#[cfg(feature = "filter")]
pub mod filter;
#[cfg(all(
    test,
    any(
        feature = "resource",
        feature = "attributes",
        feature = "probabilistic_sampler",
        feature = "redaction",
        feature = "tail_sampling",
        feature = "filter",
        feature = "resource_detection"
    )
))]
mod golden;
#[cfg(feature = "attraction")]
pub mod matching;
#[cfg(feature = "memory_limiter")]
pub mod memory_limiter;
#[cfg(all(
    test,
    feature = "batch",
    feature = "memory_limiter",
    feature = "resource",
    feature = "attributes",
    feature = "probabilistic_sampler",
    feature = "redaction",
    feature = "filter",
    feature = "transform",
    feature = "resource_detection"
))]
mod otelcol_examples;
#[cfg(any(feature = "tail_sampling", feature = "transform"))]
pub mod ottl_mode;
#[cfg(feature = "probabilistic_sampler")]
pub mod probabilistic_sampler;
#[cfg(feature = "redaction")]
pub mod redaction;
#[cfg(feature = "resource")]
pub mod resource;
#[cfg(feature = "resource_detection")]
pub mod resource_detection;
#[cfg(feature = "tail_sampling")]
pub mod tail_sampling;
#[cfg(feature = "transform")]
pub mod transform;

/// Adds every processor of this crate whose feature is enabled to `r`.
pub fn register(r: Registry) -> Registry {
    // otelcol's OTTL gates (`ottl.functions.enableLambda`), for the processors running OTTL.
    #[cfg(any(feature = "transform", feature = "filter", feature = "tail_sampling"))]
    ferrotel_ottl::register_feature_gates();
    #[cfg(feature = "batch")]
    let r = r.with(batch::BatchProcessorFactory);
    #[cfg(feature = "memory_limiter")]
    let r = r.with(memory_limiter::MemoryLimiterFactory);
    #[cfg(feature = "resource")]
    let r = r.with(resource::ResourceProcessorFactory);
    #[cfg(feature = "attributes")]
    let r = r.with(attributes::AttributesProcessorFactory);
    #[cfg(feature = "probabilistic_sampler")]
    let r = r.with(probabilistic_sampler::ProbabilisticSamplerFactory);
    #[cfg(feature = "redaction")]
    let r = r.with(redaction::RedactionProcessorFactory);
    #[cfg(feature = "tail_sampling")]
    let r = r.with(tail_sampling::TailSamplingProcessorFactory);
    #[cfg(feature = "transform")]
    let r = r.with(transform::TransformProcessorFactory);
    #[cfg(feature = "filter")]
    let r = r.with(filter::FilterProcessorFactory);
    #[cfg(feature = "resource_detection")]
    let r = r.with(resource_detection::ResourceDetectionFactory);
    r
}

/// The validator of entry `i` of the list at `key`, named as decoding errors name it
/// (`actions[2]`), so that both kinds of problem point at an entry the same way.
#[cfg(any(
    feature = "attraction",
    feature = "redaction",
    feature = "tail_sampling",
    feature = "transform"
))]
pub(crate) fn entry<'v>(
    v: &'v mut ferrotel_config::Validator<'_>,
    key: &str,
    i: usize,
) -> ferrotel_config::Validator<'v> {
    v.at(format_args!("{key}[{i}]"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn registers_every_enabled_processor_once() {
        let r = super::register(ferrotel_core::Registry::default());
        assert!(r.problems().is_empty(), "{:?}", r.problems());
        let mut expected = vec![];
        if cfg!(feature = "batch") {
            expected.push("batch");
        }
        if cfg!(feature = "memory_limiter") {
            expected.push("memory_limiter");
        }
        if cfg!(feature = "resource") {
            expected.push("resource");
        }
        if cfg!(feature = "attributes") {
            expected.push("attributes");
        }
        if cfg!(feature = "probabilistic_sampler") {
            expected.push("probabilistic_sampler");
        }
        if cfg!(feature = "redaction") {
            expected.push("redaction");
        }
        if cfg!(feature = "tail_sampling") {
            expected.push("tail_sampling");
        }
        if cfg!(feature = "transform") {
            expected.push("transform");
        }
        if cfg!(feature = "filter") {
            expected.push("filter");
        }
        if cfg!(feature = "resource_detection") {
            expected.push("resource_detection");
        }
        let got: Vec<_> = r.processors.infos().iter().map(|i| i.type_name).collect();
        assert_eq!(got, expected);
        // `--feature-gates=ottl.functions.enableLambda` names a known gate (alpha, so off).
        if cfg!(feature = "transform") {
            let gates = ferrotel_config::featuregate::global();
            let gate = gates.get("ottl.functions.enableLambda").unwrap();
            assert!(!gate.is_enabled());
            assert_eq!(gate.from_version().as_deref(), Some("v0.155.0"));
        }
        for f in r.processors.iter() {
            let name = f.describe().type_name;
            let yaml = f.default_config().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(yaml.is_mapping(), "{name}: {yaml:?}");
        }
    }

    /// The default config serialises, and decodes back to the same YAML.
    fn round_trips<F: ferrotel_core::Factory>(_: F) {
        let yaml = serde_yaml_ng::to_value(F::Config::default()).unwrap();
        let back: F::Config = ferrotel_config::decode("processors.x", &yaml).unwrap();
        assert_eq!(serde_yaml_ng::to_value(back).unwrap(), yaml);
    }

    #[test]
    fn default_configs_round_trip() {
        #[cfg(feature = "batch")]
        round_trips(crate::batch::BatchProcessorFactory);
        #[cfg(feature = "memory_limiter")]
        round_trips(crate::memory_limiter::MemoryLimiterFactory);
        #[cfg(feature = "resource")]
        round_trips(crate::resource::ResourceProcessorFactory);
        #[cfg(feature = "attributes")]
        round_trips(crate::attributes::AttributesProcessorFactory);
        #[cfg(feature = "probabilistic_sampler")]
        round_trips(crate::probabilistic_sampler::ProbabilisticSamplerFactory);
        #[cfg(feature = "redaction")]
        round_trips(crate::redaction::RedactionProcessorFactory);
        #[cfg(feature = "tail_sampling")]
        round_trips(crate::tail_sampling::TailSamplingProcessorFactory);
        #[cfg(feature = "transform")]
        round_trips(crate::transform::TransformProcessorFactory);
        #[cfg(feature = "filter")]
        round_trips(crate::filter::FilterProcessorFactory);
        #[cfg(feature = "resource_detection")]
        round_trips(crate::resource_detection::ResourceDetectionFactory);
    }
}
