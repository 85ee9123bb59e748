//! Builders of attribute values shared by the statement tests.

#![allow(dead_code)]

use ferrotel_core::proto::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};

use any_value::Value as V;

pub fn kv(key: &str, v: V) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

pub fn s(v: &str) -> V {
    V::StringValue(v.into())
}

pub fn map(entries: Vec<KeyValue>) -> V {
    V::KvlistValue(KeyValueList { values: entries })
}

pub fn list(values: Vec<V>) -> V {
    V::ArrayValue(ArrayValue {
        values: values
            .into_iter()
            .map(|v| AnyValue { value: Some(v) })
            .collect(),
    })
}
