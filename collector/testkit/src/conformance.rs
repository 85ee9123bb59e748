//! The checks every processor factory gets for free: for each signal it supports, create it
//! from its default config, feed it data, tick and flush it, and check that no item appears
//! from nowhere and that everything buffered comes out at flush.

use crate::fixtures;
use ferrotel_config::{ComponentId, Value};
use ferrotel_core::{AnyFactory, Batch, CreateContext, Kind, Processor, Telemetry};

/// A create context for the processor `id` (`batch`, `batch/2`) in a pipeline of `signal`.
pub fn processor_context(id: &str, signal: ferrotel_core::Signal) -> CreateContext {
    let id = ComponentId::parse(id).expect("a valid component id");
    CreateContext::new(Kind::Processor, id, Telemetry::new())
        .in_pipeline(signal, signal.as_str().to_string())
}

/// Runs the harness with `config` (YAML text; empty for the default). Returns, per signal
/// supported, (items in, items out). Panics with a message on a contract violation.
pub fn run_processor(
    factory: &dyn AnyFactory<Box<dyn Processor>>,
    config: &str,
) -> Vec<(ferrotel_core::Signal, usize, usize)> {
    let info = factory.describe();
    let cfg: Value = if config.trim().is_empty() {
        Value::Null
    } else {
        serde_yaml_ng::from_str(config).expect("harness config is valid YAML")
    };
    let mut results = vec![];
    for &(signal, _) in &info.signals {
        let ctx = processor_context(info.type_name, signal);
        let p = factory
            .create_from(&ctx, &cfg)
            .unwrap_or_else(|e| panic!("{}: create failed for {signal}: {e}", info.type_name));
        let mut out: Vec<Batch> = vec![];
        let mut fed = 0;
        for n in [1, 30, 300] {
            let b = fixtures::encoded_batch(signal, n);
            fed += b.item_count();
            p.process(b, &mut out)
                .unwrap_or_else(|e| panic!("{}: process refused {signal}: {e}", info.type_name));
        }
        p.on_tick(&mut out);
        p.flush(&mut out);
        let mut after_flush = vec![];
        p.flush(&mut after_flush);
        assert!(
            after_flush.is_empty(),
            "{}: a second flush emitted data again",
            info.type_name
        );
        for b in &out {
            assert_eq!(
                b.signal(),
                signal,
                "{}: emitted a batch of another signal",
                info.type_name
            );
            b.view()
                .unwrap_or_else(|e| panic!("{}: emitted undecodable data: {e}", info.type_name));
        }
        let emitted: usize = out.iter().map(Batch::item_count).sum();
        assert!(
            emitted <= fed,
            "{}: emitted {emitted} items from {fed}",
            info.type_name
        );
        results.push((signal, fed, emitted));
    }
    results
}
