//! The XML editing converters, each returning the edited document as a string (otelcol's
//! `pkg/ottl/ottlfuncs`):
//!
//! - `GetXML(target, xpath)`: the selected elements and text, attribute values and CDATA
//!   content as text, concatenated;
//! - `InsertXML(target, xpath, sub_document)`: `sub_document` appended to each selected
//!   element (or the document, for `/`); selecting anything else is an error
//!   (`InsertXML XPath selected non-element: "..."`);
//! - `RemoveXML(target, xpath)`: the selected elements, attributes, comments and CDATA
//!   removed, selected text emptied;
//! - `ConvertAttributesToElementsXML(target, Optional[xpath])`: each selected attribute
//!   (default `//@*`, all) made a last child element `<name>value</name>`;
//! - `ConvertTextToElementsXML(target, Optional[xpath], Optional[elementName])`: in the
//!   selected nodes (default `/`) and below, text beside other text or elements wrapped in an
//!   element `elementName` (default `value`).
//!
//! `xpath` is a literal compiled with the statement (an invalid one reads `invalid xpath:
//! ...`); the documents are parsed at each call (`parse xml: ...` when they do not parse).
//!
//! ```yaml
//! log_statements:
//!   - set(log.body, RemoveXML(log.body, "//@password"))
//!   - set(log.attributes["user"], GetXML(log.body, "/event/user/text()"))
//!   - set(log.body, ConvertTextToElementsXML(log.body, elementName = "custom"))
//! ```

mod tree;
mod xpath;

use super::{opt_literal, str_value, Built};
use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::funcs::{bind, bind_optional, literal_string, string_arg};
use crate::value::Value;
use tree::{local_name, Id, Kind, Tree, DOCUMENT};
use xpath::{Sel, XPath};

/// What a converter does with the selected nodes.
enum Edit<C: Context> {
    Get,
    Insert(Expr<C>),
    Remove,
    AttributesToElements,
    TextToElements(String),
}

struct XmlEdit<C: Context> {
    target: Expr<C>,
    xpath: XPath,
    edit: Edit<C>,
}

fn build<C: Context>(target: Option<Expr<C>>, xpath: &str, edit: Edit<C>) -> Built<C> {
    Ok(Box::new(XmlEdit {
        target: target.ok_or("missing target")?,
        xpath: XPath::compile(xpath)?,
        edit,
    }))
}

/// An optional literal argument, with `default` when absent or empty (otelcol's zero value).
fn literal_or<C: Context>(
    e: &Option<Expr<C>>,
    fname: &str,
    param: &str,
    default: &str,
) -> Result<String, String> {
    Ok(opt_literal(e, fname, param)?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| default.to_string()))
}

/// `GetXML(target, xpath)`
pub fn get_xml<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let [target, xpath] = bind::<C, 2>("GetXML", args, &["target", "x_path"])?;
    build(
        Some(target),
        &literal_string(&xpath, "GetXML", "x_path")?,
        Edit::Get,
    )
}

/// `RemoveXML(target, xpath)`
pub fn remove_xml<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let [target, xpath] = bind::<C, 2>("RemoveXML", args, &["target", "x_path"])?;
    build(
        Some(target),
        &literal_string(&xpath, "RemoveXML", "x_path")?,
        Edit::Remove,
    )
}

/// `InsertXML(target, xpath, sub_document)`
pub fn insert_xml<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let params = &["target", "x_path", "sub_document"];
    let [target, xpath, sub] = bind::<C, 3>("InsertXML", args, params)?;
    let xpath = literal_string(&xpath, "InsertXML", "x_path")?;
    build(Some(target), &xpath, Edit::Insert(sub))
}

/// `ConvertAttributesToElementsXML(target, Optional[xpath])`
pub fn convert_attributes_to_elements_xml<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let name = "ConvertAttributesToElementsXML";
    let [target, xpath] = bind_optional::<C, 2>(name, args, &["target", "x_path"], 1)?;
    let xpath = literal_or(&xpath, name, "x_path", "//@*")?;
    build(target, &xpath, Edit::AttributesToElements)
}

/// `ConvertTextToElementsXML(target, Optional[xpath], Optional[elementName])`
pub fn convert_text_to_elements_xml<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let name = "ConvertTextToElementsXML";
    let params = &["target", "x_path", "element_name"];
    let [target, xpath, element] = bind_optional::<C, 3>(name, args, params, 1)?;
    let xpath = literal_or(&xpath, name, "x_path", "/")?;
    let element = literal_or(&element, name, "element_name", "value")?;
    build(target, &xpath, Edit::TextToElements(element))
}

impl<C: Context> Function<C> for XmlEdit<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let mut tree = Tree::parse(&string_arg(self.target.eval(item)?)?)?;
        let selected = self.xpath.select(&tree);
        match &self.edit {
            Edit::Get => return Ok(str_value(get(&tree, &selected))),
            Edit::Insert(sub) => {
                let sub = Tree::parse(&string_arg(sub.eval(item)?)?)?;
                insert(&mut tree, &selected, &sub)?;
            }
            Edit::Remove => remove(&mut tree, &selected),
            Edit::AttributesToElements => attributes_to_elements(&mut tree, &selected),
            Edit::TextToElements(name) => {
                for s in selected {
                    if let Sel::Node(id) = s {
                        text_to_elements(&mut tree, id, name);
                    }
                }
            }
        }
        Ok(str_value(tree.output()))
    }
}

/// An attribute's qualified name and value.
fn attribute(tree: &Tree, id: Id, i: usize) -> Option<(String, String)> {
    match &tree.nodes[id].kind {
        Kind::Element(_, attrs) => attrs.get(i).cloned(),
        _ => None,
    }
}

fn remove_attribute(tree: &mut Tree, id: Id, name: &str) {
    if let Kind::Element(_, attrs) = &mut tree.nodes[id].kind {
        if let Some(i) = attrs.iter().position(|(k, _)| k == name) {
            attrs.remove(i);
        }
    }
}

/// The selected elements and text, and attribute values and CDATA content as text.
fn get(tree: &Tree, selected: &[Sel]) -> String {
    let mut out = Tree::new();
    for &s in selected {
        match s {
            Sel::Attr(id, i) => {
                let value = attribute(tree, id, i).map(|(_, v)| v).unwrap_or_default();
                out.add(DOCUMENT, Kind::Text(value, false));
            }
            Sel::Node(id) => match &tree.nodes[id].kind {
                Kind::Element(..) | Kind::Text(_, false) => out.graft(DOCUMENT, tree, id),
                Kind::Text(t, true) => {
                    out.add(DOCUMENT, Kind::Text(t.clone(), false));
                }
                _ => {}
            },
        }
    }
    out.output()
}

fn insert(tree: &mut Tree, selected: &[Sel], sub: &Tree) -> Result<(), EvalError> {
    let mut errors = Vec::new();
    for &s in selected {
        let what = match s {
            Sel::Node(id) if matches!(tree.nodes[id].kind, Kind::Element(..) | Kind::Document) => {
                for &c in &sub.nodes[DOCUMENT].children {
                    tree.graft(id, sub, c);
                }
                continue;
            }
            Sel::Attr(id, i) => attribute(tree, id, i).map(|(k, _)| local_name(&k).to_string()),
            Sel::Node(id) => match &tree.nodes[id].kind {
                Kind::Text(t, _) | Kind::Comment(t) | Kind::Instruction(t, _) => Some(t.clone()),
                _ => None,
            },
        };
        let what = what.unwrap_or_default();
        errors.push(format!("InsertXML XPath selected non-element: {what:?}"));
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(EvalError::new(errors.join("\n"))),
    }
}

fn remove(tree: &mut Tree, selected: &[Sel]) {
    let attributes: Vec<(Id, String)> = selected
        .iter()
        .filter_map(|&s| match s {
            Sel::Attr(id, i) => attribute(tree, id, i).map(|(k, _)| (id, k)),
            Sel::Node(_) => None,
        })
        .collect();
    for &s in selected {
        let Sel::Node(id) = s else { continue };
        match &mut tree.nodes[id].kind {
            Kind::Text(t, false) => t.clear(),
            Kind::Element(..) | Kind::Comment(_) | Kind::Text(_, true) => tree.detach(id),
            Kind::Document | Kind::Instruction(..) => {}
        }
    }
    for (id, name) in attributes {
        remove_attribute(tree, id, &name);
    }
}

fn attributes_to_elements(tree: &mut Tree, selected: &[Sel]) {
    let attributes: Vec<(Id, String, String)> = selected
        .iter()
        .filter_map(|&s| match s {
            Sel::Attr(id, i) => attribute(tree, id, i).map(|(k, v)| (id, k, v)),
            Sel::Node(_) => None,
        })
        .collect();
    for (id, name, value) in attributes {
        let element = tree.add(id, Kind::Element(local_name(&name).to_string(), Vec::new()));
        tree.add(element, Kind::Text(value, false));
        remove_attribute(tree, id, &name);
    }
}

/// Wraps, in `id` and below, each text that has a sibling text or element in an element
/// `name`.
fn text_to_elements(tree: &mut Tree, id: Id, name: &str) {
    if !matches!(tree.nodes[id].kind, Kind::Element(..) | Kind::Document) {
        return;
    }
    let children = tree.nodes[id].children.clone();
    let (mut texts, mut elements) = (0, 0);
    for &c in &children {
        match tree.nodes[c].kind {
            Kind::Element(..) => {
                text_to_elements(tree, c, name);
                elements += 1;
            }
            Kind::Text(_, false) => texts += 1,
            _ => {}
        }
    }
    if texts == 0 || texts + elements <= 1 {
        return;
    }
    for c in children {
        if let Kind::Text(t, false) = &tree.nodes[c].kind {
            let text = Kind::Text(t.clone(), false);
            tree.nodes[c].kind = Kind::Element(name.to_string(), Vec::new());
            tree.add(c, text);
        }
    }
}
