//! XML converters: ParseXML and ParseSimplifiedXML (parsed with roxmltree).
//!
//! otelcol bounds nesting at 10,000 levels; we convert recursively, so the bound here is
//! [`MAX_DEPTH`], checked before converting, to keep the stack small.

use super::{any_str, kv, put};
use crate::error::EvalError;
use crate::funcs::string_arg;
use crate::value::Value;
use ferrotel_core::proto::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use roxmltree::{Document, Node, ParsingOptions};
use std::borrow::Cow;

/// Deepest element nesting converted.
pub const MAX_DEPTH: usize = 1000;

/// Most nodes a document may have.
const MAX_NODES: u32 = 1 << 20;

/// Parses `text` with the limits above; a parse error reads `{what}: {error}`.
pub(super) fn parse<'a>(text: &'a str, what: &str) -> Result<Document<'a>, EvalError> {
    let options = ParsingOptions {
        allow_dtd: true,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options)
        .map_err(|e| EvalError::new(format!("{what}: {e}")))?;
    // Depth first, with an explicit stack: the conversions below recurse.
    let mut stack = vec![(doc.root(), 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(EvalError::new(format!(
                "XML nesting depth exceeds maximum of {MAX_DEPTH}"
            )));
        }
        stack.extend(
            node.children()
                .filter(Node::is_element)
                .map(|c| (c, depth + 1)),
        );
    }
    Ok(doc)
}

fn map_any(entries: Vec<KeyValue>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: entries,
        })),
    }
}

fn list_any(values: Vec<AnyValue>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
    }
}

/// ParseXML(target): the root element as a map of `tag`, `content` (its own character data,
/// each piece trimmed, joined), `attributes` and `children`, the last three only when present.
/// (otelcol's README describes this form; the code we could read was an older draft with
/// `#tag` / `#chardata` / `@attr` keys. We follow the README, which describes the released
/// behaviour.)
pub fn parse_xml(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let text = string_arg(v)?;
    let doc = parse(&text, "unmarshal xml")?;
    match element_to_map(doc.root_element()).value {
        Some(any_value::Value::KvlistValue(m)) => Ok(Value::Map(Cow::Owned(m.values))),
        _ => Ok(Value::Map(Cow::Owned(Vec::new()))),
    }
}

fn element_to_map(node: Node<'_, '_>) -> AnyValue {
    let mut m = vec![kv("tag", any_str(node.tag_name().name()))];
    let content: String = node
        .children()
        .filter(Node::is_text)
        .filter_map(|t| t.text())
        .map(str::trim)
        .collect();
    if !content.is_empty() {
        m.push(kv("content", any_str(content)));
    }
    let attributes: Vec<KeyValue> = node
        .attributes()
        .map(|a| kv(a.name(), any_str(a.value())))
        .collect();
    if !attributes.is_empty() {
        m.push(kv("attributes", map_any(attributes)));
    }
    let children: Vec<AnyValue> = node
        .children()
        .filter(Node::is_element)
        .map(element_to_map)
        .collect();
    if !children.is_empty() {
        m.push(kv("children", list_any(children)));
    }
    map_any(m)
}

/// ParseSimplifiedXML(target): elements holding text become `tag: text`, elements holding
/// elements nested maps, siblings sharing a tag a list; attributes, comments and text beside
/// elements are dropped, and so are empty elements, though they still make their siblings a
/// list.
pub fn parse_simplified_xml(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let text = string_arg(v)?;
    let doc = parse(&text, "unmarshal xml")?;
    Ok(Value::Map(Cow::Owned(simplified(doc.root()))))
}

fn simplified(parent: Node<'_, '_>) -> Vec<KeyValue> {
    let elements: Vec<Node<'_, '_>> = parent.children().filter(Node::is_element).collect();
    let repeated = |tag: &str| {
        elements
            .iter()
            .filter(|e| e.tag_name().name() == tag)
            .count()
            > 1
    };
    let mut out: Vec<KeyValue> = Vec::new();
    for child in &elements {
        let tag = child.tag_name().name();
        let as_list = repeated(tag);
        if as_list && !out.iter().any(|e| e.key == tag) {
            out.push(kv(tag, list_any(Vec::new())));
        }
        if !child.has_children() {
            continue;
        }
        let value = match leaf_text(*child) {
            Some(text) => any_str(text),
            None => match simplified(*child) {
                m if m.is_empty() => continue,
                m => map_any(m),
            },
        };
        if !as_list {
            put(&mut out, tag, value);
            continue;
        }
        let list = out
            .iter_mut()
            .find(|e| e.key == tag)
            .and_then(|e| e.value.as_mut());
        if let Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(a)),
        }) = list
        {
            a.values.push(value);
        }
    }
    out
}

/// An element's text when it holds no elements and some text.
fn leaf_text<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    if node.children().any(|c| c.is_element()) {
        return None;
    }
    node.children()
        .find(Node::is_text)
        .and_then(|t| t.text())
        .filter(|t| !t.is_empty())
}
