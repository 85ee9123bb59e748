//! The `resource_attributes` switches of each detector, with otelcol's enabled-by-default flag
//! per attribute (each detector's metadata.yaml), and the [`Detected`] resource a detector
//! returns.
//!
//! ```yaml
//! system:
//!   resource_attributes:
//!     host.id: { enabled: true }
//!     os.type: { enabled: false }
//! ```

use ferrotel_config::Validator;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One attribute's switch.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    /// Whether the detector sets the attribute.
    pub enabled: bool,
}

/// `resource_attributes`: attribute name to switch; absent names keep their default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct ResourceAttributes(pub BTreeMap<String, Toggle>);

/// A detector's attributes, each with otelcol's default.
pub type Defaults = &'static [(&'static str, bool)];

pub const SYSTEM: Defaults = &[
    ("host.name", true),
    ("host.id", false),
    ("os.description", false),
    ("os.type", true),
    ("host.arch", false),
    ("host.ip", false),
    ("host.mac", false),
    ("host.interface", false),
    ("os.name", false),
    ("os.version", false),
    ("os.build.id", false),
    ("host.cpu.vendor.id", false),
    ("host.cpu.family", false),
    ("host.cpu.model.id", false),
    ("host.cpu.model.name", false),
    ("host.cpu.stepping", false),
    ("host.cpu.cache.l2.size", false),
];

pub const DOCKER: Defaults = &[
    ("host.name", true),
    ("os.type", true),
    ("container.name", false),
    ("container.image.name", false),
    ("container.image.id", false),
    ("container.image.tags", false),
];

pub const EC2: Defaults = &[
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.region", true),
    ("cloud.account.id", true),
    ("cloud.availability_zone", true),
    ("host.id", true),
    ("host.image.id", true),
    ("host.name", true),
    ("host.type", true),
];

pub const GCP: Defaults = &[
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.account.id", true),
    ("cloud.region", true),
    ("cloud.availability_zone", true),
    ("host.id", true),
    ("host.name", true),
    ("host.type", true),
    ("k8s.cluster.name", true),
    ("faas.name", true),
    ("faas.version", true),
    ("faas.id", true),
    ("gcp.cloud_run.job.execution", true),
    ("gcp.cloud_run.job.task_index", true),
    ("gcp.gce.instance.hostname", false),
    ("gcp.gce.instance.name", false),
];

pub const HEROKU: Defaults = &[
    ("cloud.provider", true),
    ("heroku.app.id", true),
    ("heroku.dyno.id", true),
    ("heroku.release.commit", true),
    ("heroku.release.creation_timestamp", true),
    ("service.instance.id", true),
    ("service.name", true),
    ("service.version", true),
];

pub const LAMBDA: Defaults = &[
    ("aws.log.group.names", true),
    ("aws.log.stream.names", true),
    ("cloud.platform", true),
    ("cloud.provider", true),
    ("cloud.region", true),
    ("faas.instance", true),
    ("faas.max_memory", true),
    ("faas.name", true),
    ("faas.version", true),
];

pub const AZURE: Defaults = &[
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.region", true),
    ("cloud.availability_zone", true),
    ("cloud.account.id", true),
    ("host.id", true),
    ("host.name", true),
    ("azure.vm.name", true),
    ("azure.vm.size", true),
    ("azure.vm.scaleset.name", true),
    ("azure.resourcegroup.name", true),
];

impl ResourceAttributes {
    /// Reports names the detector does not know.
    pub fn check(&self, defaults: Defaults, v: &mut Validator<'_>) {
        for name in self.0.keys() {
            if !defaults.iter().any(|(n, _)| n == name) {
                v.at("resource_attributes").report_at(
                    name,
                    format!(
                        "unknown attribute (valid: {})",
                        defaults.iter().map(|d| d.0).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
    }

    /// Whether `name` is on: the config's switch, else otelcol's default (off when unknown).
    pub fn enabled(&self, defaults: Defaults, name: &str) -> bool {
        match self.0.get(name) {
            Some(t) => t.enabled,
            None => defaults.iter().any(|(n, on)| *n == name && *on),
        }
    }
}

/// What one detector found: attributes in the order set, and the semantic conventions'
/// schema URL they follow (empty for none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detected {
    pub attributes: Vec<KeyValue>,
    pub schema_url: String,
}

/// Builds a [`Detected`], dropping attributes switched off.
pub struct Builder<'a> {
    switches: &'a ResourceAttributes,
    defaults: Defaults,
    out: Detected,
}

impl<'a> Builder<'a> {
    pub fn new(switches: &'a ResourceAttributes, defaults: Defaults, schema_url: &str) -> Self {
        Builder {
            switches,
            defaults,
            out: Detected {
                attributes: Vec::new(),
                schema_url: schema_url.to_string(),
            },
        }
    }

    /// Whether `name` is switched on (to skip work for attributes nobody wants).
    pub fn wants(&self, name: &str) -> bool {
        self.switches.enabled(self.defaults, name)
    }

    pub fn str(&mut self, name: &str, value: impl Into<String>) {
        if self.wants(name) {
            self.out
                .attributes
                .push(kv(name, any_value::Value::StringValue(value.into())));
        }
    }

    pub fn int(&mut self, name: &str, value: i64) {
        if self.wants(name) {
            self.out
                .attributes
                .push(kv(name, any_value::Value::IntValue(value)));
        }
    }

    pub fn strs(&mut self, name: &str, values: Vec<String>) {
        if self.wants(name) {
            let values = values
                .into_iter()
                .map(|s| AnyValue {
                    value: Some(any_value::Value::StringValue(s)),
                })
                .collect();
            let array = any_value::Value::ArrayValue(ArrayValue { values });
            self.out.attributes.push(kv(name, array));
        }
    }

    pub fn finish(self) -> Detected {
        self.out
    }
}

/// A string attribute not subject to switches (env's, tags').
pub fn str_kv(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_string()))
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}
