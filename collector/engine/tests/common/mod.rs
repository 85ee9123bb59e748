//! Pieces shared by the engine's integration tests: factory info for test components, a
//! receiver that does nothing, config documents from YAML text, and polling for a condition.

#![allow(clippy::unwrap_used)]

use ferrotel_config::{ConfigErrors, Document, Value};
use ferrotel_core::{
    CreateContext, FactoryInfo, Receiver, ReceiverContext, ReceiverFactory, Signal, Stability,
    StartError,
};
use std::time::Duration;

/// The info of a test component of `type_name`.
pub fn test_info(
    type_name: &'static str,
    aliases: &'static [&'static str],
    signals: &'static [Signal],
) -> FactoryInfo {
    FactoryInfo {
        type_name,
        aliases,
        signals,
        stability: Stability::Alpha,
        description: "test",
    }
}

/// A receiver that starts and stops and never sends anything.
pub struct StubReceiver;

#[async_trait::async_trait]
impl Receiver for StubReceiver {
    async fn start(&mut self, _: ReceiverContext) -> Result<(), StartError> {
        Ok(())
    }
    async fn shutdown(&mut self) {}
}

/// The factory of [`StubReceiver`], type `stub`, for every signal.
pub struct StubReceiverFactory;

impl ReceiverFactory for StubReceiverFactory {
    fn info(&self) -> FactoryInfo {
        test_info("stub", &[], &Signal::ALL)
    }
    fn create(&self, _: &CreateContext, _: &Value) -> Result<Box<dyn Receiver>, ConfigErrors> {
        Ok(Box::new(StubReceiver))
    }
}

/// The config document of `yaml`, which must load.
pub fn document(yaml: &str) -> Document {
    ferrotel_config::load(
        &[ferrotel_config::ConfigSource::Text(yaml.into())],
        &[],
        &|_| None,
    )
    .unwrap()
}

/// Polls `f` every 10ms until it holds; panics after 5s.
pub async fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 5s");
}
