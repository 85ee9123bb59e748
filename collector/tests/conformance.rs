//! Conformance of every registered component, of every kind, run over the registration list:
//! a component gets all of it by being registered.
//!
//! - its defaults round-trip (serialised, decoded and serialised again, the same YAML; an empty
//!   section gives the defaults);
//! - an unknown key and a value of the wrong type are refused with the key's full path;
//! - it is created (from its defaults, or its info's `example` when the defaults alone are not
//!   valid), started and shut down for every signal it supports; shutdown is idempotent and safe
//!   without start;
//! - empty and large batches pass without panic (processors, exporters, connectors).

#![allow(clippy::unwrap_used)]

use ferrotel_config::{ComponentId, Kind, Signal, Value};
use ferrotel_core::{
    AnyFactory, Batch, Built, Catalog, Consumers, CreateContext, Data, ExporterStartContext,
    ExtensionContext, Extensions, FactoryInfo, ReceiverContext, Registry, RequestMeta, Telemetry,
};
use ferrotel_testkit::{fixtures, CaptureConsumer};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

fn registry() -> Registry {
    ferrotel::components::builtin()
}

/// The config a component is created with in these tests.
fn sample(info: &FactoryInfo) -> Value {
    if info.example.is_empty() {
        Value::Null
    } else {
        serde_yaml_ng::from_str(info.example).unwrap()
    }
}

fn context(kind: Kind, info: &FactoryInfo) -> CreateContext {
    CreateContext::new(kind, ComponentId::new(info.type_name), Telemetry::new())
}

/// Each batch size the data-path checks feed: empty, small, large.
fn batches(signal: Signal) -> Vec<Batch> {
    let empty = Batch::from_data(Data::empty(signal), Arc::new(RequestMeta::default()));
    vec![
        empty,
        fixtures::encoded_batch(signal, 1),
        fixtures::encoded_batch(signal, 5000),
    ]
}

fn each<C: Built>(catalog: &Catalog<C>, mut check: impl FnMut(&FactoryInfo, &dyn AnyFactory<C>)) {
    for f in catalog.iter() {
        check(&f.describe(), f.as_ref());
    }
}

fn config_checks<C: Built>(catalog: &Catalog<C>) {
    each(catalog, |info, f| {
        let path = format!("{}.{}", C::KIND.section(), info.type_name);
        let t = info.type_name;
        let defaults = f
            .default_config()
            .unwrap_or_else(|e| panic!("{t}: defaults do not serialise: {e}"));
        let again = f
            .normalize(&path, &defaults)
            .unwrap_or_else(|e| panic!("{t}: its own defaults are refused: {e}"));
        assert_eq!(again, defaults, "{t}: defaults do not round-trip");
        let empty = f.normalize(&path, &Value::Null).unwrap();
        assert_eq!(empty, defaults, "{t}: an empty section is not the defaults");
        unknown_key_is_refused(f, &path, t);
        wrong_types_are_refused(f, &path, t, &defaults);
    });
}

fn unknown_key_is_refused<C>(f: &dyn AnyFactory<C>, path: &str, t: &str) {
    let bad: Value = serde_yaml_ng::from_str("no_such_key_anywhere: 1").unwrap();
    let e = f
        .check(path, &bad)
        .err()
        .unwrap_or_else(|| panic!("{t}: an unknown key is accepted"));
    assert!(
        e.0.iter()
            .any(|e| e.path.starts_with(path) && e.to_string().contains("no_such_key_anywhere")),
        "{t}: the error does not name the key under {path}: {e}"
    );
}

/// Every top-level key whose default is a plain value gets a nested list instead.
fn wrong_types_are_refused<C>(f: &dyn AnyFactory<C>, path: &str, t: &str, defaults: &Value) {
    let Value::Mapping(map) = defaults else {
        return;
    };
    for (key, value) in map {
        let scalar = matches!(value, Value::Bool(_) | Value::Number(_) | Value::String(_));
        let Some(key) = key.as_str().filter(|_| scalar) else {
            continue;
        };
        let bad: Value = serde_yaml_ng::from_str(&format!("{key}: [[1]]")).unwrap();
        let e = f
            .check(path, &bad)
            .err()
            .unwrap_or_else(|| panic!("{t}: {key}: [[1]] is accepted"));
        let want = format!("{path}.{key}");
        assert!(
            e.0.iter().any(|e| e.path.starts_with(&want)),
            "{t}: the error is not at {want}: {e}"
        );
    }
}

#[test]
fn every_component_config_round_trips_and_refuses_bad_input_with_paths() {
    let r = registry();
    config_checks(&r.receivers);
    config_checks(&r.processors);
    config_checks(&r.exporters);
    config_checks(&r.connectors);
    config_checks(&r.extensions);
}

#[test]
fn registered_names_are_unique_and_every_kind_has_components() {
    let r = registry();
    assert!(r.problems().is_empty(), "{:?}", r.problems());
    for (kind, n) in [
        (Kind::Receiver, r.receivers.infos().len()),
        (Kind::Processor, r.processors.infos().len()),
        (Kind::Exporter, r.exporters.infos().len()),
        (Kind::Connector, r.connectors.infos().len()),
        (Kind::Extension, r.extensions.infos().len()),
    ] {
        assert!(n > 0, "no {} is registered", kind.singular());
    }
    // Registering a stock component again is refused; replacing it is not.
    let again = registry().with_from(&registry(), "batch");
    assert!(
        again.problems()[0].contains("registered twice"),
        "{:?}",
        again.problems()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_receiver_starts_and_stops_for_every_signal() {
    let r = registry();
    for f in r.receivers.iter() {
        let info = f.describe();
        let t = info.type_name;
        for &(signal, _) in &info.signals {
            let ctx = context(Kind::Receiver, &info);
            let never = f.create_from(&ctx, &sample(&info)).unwrap();
            let mut never = never;
            never.shutdown().await; // without start
            let mut receiver = f.create_from(&ctx, &sample(&info)).unwrap();
            let capture: Arc<dyn ferrotel_core::Consumer> = Arc::new(CaptureConsumer::new());
            let mut consumers = Consumers::default();
            match signal {
                Signal::Traces => consumers.traces = Some(capture),
                Signal::Metrics => consumers.metrics = Some(capture),
                Signal::Logs => consumers.logs = Some(capture),
                Signal::Profiles => consumers.profiles = Some(capture),
            }
            let shutdown = CancellationToken::new();
            let rctx = ReceiverContext {
                id: ctx.id.clone(),
                consumers,
                telemetry: Telemetry::new(),
                shutdown: shutdown.clone(),
                extensions: Extensions::default(),
                listeners: Default::default(),
            };
            receiver
                .start(rctx)
                .await
                .unwrap_or_else(|e| panic!("{t} ({signal}): start: {e}"));
            shutdown.cancel();
            receiver.shutdown().await;
            receiver.shutdown().await;
        }
    }
}

#[test]
fn every_processor_handles_empty_and_large_batches_for_every_signal() {
    let r = registry();
    for f in r.processors.iter() {
        let info = f.describe();
        let t = info.type_name;
        for &(signal, _) in &info.signals {
            let ctx = context(Kind::Processor, &info).in_pipeline(signal, signal.to_string());
            let p = f
                .create_from(&ctx, &sample(&info))
                .unwrap_or_else(|e| panic!("{t}: {e}"));
            let mut out = Vec::new();
            let mut fed = 0;
            for b in batches(signal) {
                fed += b.item_count();
                p.process(b, &mut out)
                    .unwrap_or_else(|e| panic!("{t} ({signal}): {e}"));
            }
            p.on_tick(&mut out);
            p.flush(&mut out);
            let mut again = Vec::new();
            p.flush(&mut again);
            assert!(
                again.is_empty(),
                "{t} ({signal}): a second flush emitted data"
            );
            let emitted: usize = out.iter().map(Batch::item_count).sum();
            assert!(
                emitted <= fed,
                "{t} ({signal}): {emitted} items out of {fed}"
            );
            assert!(
                out.iter().all(|b| b.signal() == signal),
                "{t}: another signal came out"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exporter_starts_exports_and_stops_for_every_signal() {
    let r = registry();
    for f in r.exporters.iter() {
        let info = f.describe();
        let t = info.type_name;
        let ctx = context(Kind::Exporter, &info);
        let never = f
            .create_from(&ctx, &sample(&info))
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        never.exporter.shutdown().await; // without start
        let parts = f.create_from(&ctx, &sample(&info)).unwrap();
        let shutdown = CancellationToken::new();
        let sctx = ExporterStartContext {
            shutdown: shutdown.clone(),
            ..ExporterStartContext::default()
        };
        parts
            .exporter
            .start(&sctx)
            .await
            .unwrap_or_else(|e| panic!("{t}: start: {e}"));
        for &(signal, _) in &info.signals {
            for b in batches(signal) {
                // The example's backend is not there: an error is fine, a panic or a hang is not.
                let attempt = parts.exporter.export(b);
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), attempt)
                    .await
                    .unwrap_or_else(|_| panic!("{t} ({signal}): export hangs"));
            }
        }
        shutdown.cancel();
        parts.exporter.shutdown().await;
        parts.exporter.shutdown().await;
    }
}

#[test]
fn every_connector_joins_what_it_says_with_empty_and_large_batches() {
    let r = registry();
    for f in r.connectors.iter() {
        let info = f.describe();
        let t = info.type_name;
        let c = f
            .create_from(&context(Kind::Connector, &info), &sample(&info))
            .unwrap();
        for &(from, _, _) in &info.connects {
            let mut out = Vec::new();
            for b in batches(from) {
                c.consume(b, &mut out)
                    .unwrap_or_else(|e| panic!("{t} ({from}): {e}"));
            }
            c.on_tick(&mut out);
            c.flush(&mut out);
            for routed in &out {
                let to = routed.batch.signal();
                assert!(
                    info.joins(from, to),
                    "{t}: emitted {to} from {from}, which it does not join"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_extension_starts_and_stops() {
    let r = registry();
    for f in r.extensions.iter() {
        let info = f.describe();
        let t = info.type_name;
        let ctx = context(Kind::Extension, &info);
        let mut never = f
            .create_from(&ctx, &sample(&info))
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        never.shutdown().await; // without start
        let mut ext = f.create_from(&ctx, &sample(&info)).unwrap();
        let shutdown = CancellationToken::new();
        let ectx = ExtensionContext {
            shutdown: shutdown.clone(),
            ..ExtensionContext::new(ctx.id.clone())
        };
        ext.start(ectx)
            .await
            .unwrap_or_else(|e| panic!("{t}: start: {e}"));
        shutdown.cancel();
        ext.shutdown().await;
        ext.shutdown().await;
    }
}
