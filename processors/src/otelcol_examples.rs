//! Every configuration example of otelcol's READMEs for these processors
//! (`testdata/otelcol_examples/processors.yaml`, filter's and transform's included) is accepted unchanged, for every signal the
//! processor supports, with the same kind of id (`type/name`) and section path.

use crate::attributes::AttributesProcessorFactory;
use crate::batch::BatchProcessorFactory;
use crate::filter::FilterProcessorFactory;
use crate::memory_limiter::MemoryLimiterFactory;
use crate::probabilistic_sampler::ProbabilisticSamplerFactory;
use crate::redaction::RedactionProcessorFactory;
use crate::resource::ResourceProcessorFactory;
use crate::resource_detection::ResourceDetectionFactory;
use crate::transform::TransformProcessorFactory;
use ferrotel_core::{AnyFactory, Processor};

type Dyn = dyn AnyFactory<Box<dyn Processor>>;

fn factory(type_name: &str) -> Option<&'static Dyn> {
    let all: [&'static Dyn; 9] = [
        &BatchProcessorFactory,
        &MemoryLimiterFactory,
        &ResourceProcessorFactory,
        &AttributesProcessorFactory,
        &ProbabilisticSamplerFactory,
        &RedactionProcessorFactory,
        &FilterProcessorFactory,
        &TransformProcessorFactory,
        &ResourceDetectionFactory,
    ];
    all.into_iter().find(|f| f.describe().answers_to(type_name))
}

#[test]
fn every_readme_example_is_accepted_unchanged() {
    let text = include_str!("../testdata/otelcol_examples/processors.yaml");
    let doc: ferrotel_config::Value = serde_yaml_ng::from_str(text).expect("yaml");
    let processors = doc
        .get("processors")
        .and_then(|p| p.as_mapping())
        .expect("a processors section");
    let only = doc.get("signals").and_then(|s| s.as_mapping());
    let mut created = 0;
    for (id, cfg) in processors {
        let id = id.as_str().expect("string ids");
        let type_name = id.split('/').next().unwrap_or(id);
        let f = factory(type_name).unwrap_or_else(|| panic!("no factory for {id}"));
        let signals: Vec<&str> = only
            .and_then(|o| o.get(id))
            .and_then(|l| l.as_sequence())
            .map(|l| l.iter().filter_map(|s| s.as_str()).collect())
            .unwrap_or_default();
        for &(signal, _) in &f.describe().signals {
            if !signals.is_empty() && !signals.contains(&signal.as_str()) {
                continue;
            }
            let ctx = ferrotel_testkit::conformance::processor_context(id, signal);
            if let Err(e) = f.create_from(&ctx, cfg) {
                panic!("{id} ({signal:?}) refused otelcol's example: {e}");
            }
            created += 1;
        }
    }
    assert!(created >= 50, "{created}");
}

/// The README examples ferrotel refuses (`refused` in the corpus) are refused with an error
/// that says why: a detector it does not implement, or a feature that needs a cloud API.
#[test]
fn refused_readme_examples_say_why() {
    let text = include_str!("../testdata/otelcol_examples/processors.yaml");
    let doc: ferrotel_config::Value = serde_yaml_ng::from_str(text).expect("yaml");
    let refused = doc
        .get("refused")
        .and_then(|r| r.as_mapping())
        .expect("refused");
    for (id, case) in refused {
        let id = id.as_str().expect("string ids");
        let type_name = id.split('/').next().unwrap_or(id);
        let f = factory(type_name).unwrap_or_else(|| panic!("no factory for {id}"));
        let because = case["because"].as_str().expect("because");
        let ctx =
            ferrotel_testkit::conformance::processor_context(id, ferrotel_core::Signal::Traces);
        match f.create_from(&ctx, &case["config"]) {
            Ok(_) => panic!("{id} was accepted"),
            Err(e) => assert!(e.to_string().contains(because), "{id}: {e}"),
        }
    }
    assert!(refused.len() >= 28, "{}", refused.len());
}
