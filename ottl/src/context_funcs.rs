//! Converters only some contexts have: `IsRootSpan()` in the span context (otelcol's
//! ottlfuncs), and the filter processor's `HasAttrKeyOnDatapoint(key)` and
//! `HasAttrOnDatapoint(key, value)` in the metric context (true when any data point of the
//! metric has that attribute key, or that key with that string value).

use crate::compile::{CompiledArg, Function};
use crate::contexts::{SpanContext, SpanItem};
use crate::error::EvalError;
use crate::funcs::{bind, literal_string};
use crate::metric_context::{MetricContext, MetricItem};
use crate::value::Value;
use ferrotel_core::proto::common::v1::{any_value, KeyValue};
use ferrotel_core::proto::metrics::v1::{metric::Data, Metric};

/// The span context's own converters.
pub const SPAN: &[&str] = &["IsRootSpan"];
/// The metric context's own converters.
pub const METRIC: &[&str] = &["HasAttrKeyOnDatapoint", "HasAttrOnDatapoint"];

struct IsRootSpan;

impl Function<SpanContext> for IsRootSpan {
    fn call<'a>(&'a self, item: SpanItem<'a>) -> Result<Value<'a>, EvalError> {
        let parent = &item.span.parent_span_id;
        Ok(Value::Bool(parent.iter().all(|b| *b == 0)))
    }
}

pub(crate) fn span(
    name: &str,
    args: Vec<CompiledArg<SpanContext>>,
) -> Result<Box<dyn Function<SpanContext>>, String> {
    let [] = bind::<SpanContext, 0>(name, args, &[])?;
    Ok(Box::new(IsRootSpan))
}

/// Whether any data point's attributes satisfy `f`.
fn any_point(m: &Metric, f: impl Fn(&[KeyValue]) -> bool) -> bool {
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::Sum(s)) => s.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::Histogram(h)) => h.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::ExponentialHistogram(h)) => h.data_points.iter().any(|p| f(&p.attributes)),
        Some(Data::Summary(s)) => s.data_points.iter().any(|p| f(&p.attributes)),
        None => false,
    }
}

struct HasAttr {
    key: String,
    /// `None`: the key alone must be present.
    value: Option<String>,
}

impl Function<MetricContext> for HasAttr {
    fn call<'a>(&'a self, item: MetricItem<'a>) -> Result<Value<'a>, EvalError> {
        let found = any_point(item.metric, |attrs| {
            attrs.iter().any(|kv| {
                kv.key == self.key
                    && self.value.as_ref().is_none_or(|want| {
                        let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
                        matches!(v, Some(any_value::Value::StringValue(s)) if s == want)
                    })
            })
        });
        Ok(Value::Bool(found))
    }
}

pub(crate) fn metric(
    name: &str,
    args: Vec<CompiledArg<MetricContext>>,
) -> Result<Box<dyn Function<MetricContext>>, String> {
    if name == "HasAttrKeyOnDatapoint" {
        let [key] = bind::<MetricContext, 1>(name, args, &["key"])?;
        let key = literal_string(&key, name, "key")?;
        return Ok(Box::new(HasAttr { key, value: None }));
    }
    let [key, value] = bind::<MetricContext, 2>(name, args, &["key", "value"])?;
    Ok(Box::new(HasAttr {
        key: literal_string(&key, name, "key")?,
        value: Some(literal_string(&value, name, "value")?),
    }))
}

#[cfg(test)]
mod tests {
    use crate::{Condition, MetricContext, MetricItem, SpanContext, SpanItem};
    use ferrotel_core::proto::common::v1::{any_value::Value as V, AnyValue, KeyValue};
    use ferrotel_core::proto::metrics::v1::{metric::Data, Gauge, Metric, NumberDataPoint};
    use ferrotel_core::proto::trace::v1::Span;

    #[test]
    fn is_root_span() {
        let c = Condition::<SpanContext>::new("IsRootSpan()").unwrap();
        let root = Span::default();
        let child = Span {
            parent_span_id: vec![1; 8],
            ..Default::default()
        };
        let item = |span| SpanItem {
            cache: &[],
            span,
            scope: None,
            resource: None,
        };
        assert!(c.eval(item(&root)).unwrap());
        assert!(!c.eval(item(&child)).unwrap());
        assert!(Condition::<SpanContext>::new("IsRootSpan(name)").is_err());
    }

    #[test]
    fn has_attr_on_datapoint() {
        let point = |k: &str, v: &str| NumberDataPoint {
            attributes: vec![KeyValue {
                key: k.into(),
                value: Some(AnyValue {
                    value: Some(V::StringValue(v.into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let m = Metric {
            data: Some(Data::Gauge(Gauge {
                data_points: vec![point("a", "1"), point("http.method", "GET")],
            })),
            ..Default::default()
        };
        let item = MetricItem {
            cache: &[],
            metric: &m,
            scope: None,
            resource: None,
        };
        let holds = |c: &str| {
            Condition::<MetricContext>::new(c)
                .unwrap()
                .eval(item)
                .unwrap()
        };
        assert!(holds(r#"HasAttrKeyOnDatapoint("http.method")"#));
        assert!(!holds(r#"HasAttrKeyOnDatapoint("b")"#));
        assert!(holds(r#"HasAttrOnDatapoint("http.method", "GET")"#));
        assert!(!holds(r#"HasAttrOnDatapoint("http.method", "POST")"#));
        assert!(Condition::<MetricContext>::new(r#"HasAttrKeyOnDatapoint(name)"#).is_err());
    }
}
