//! An editable XML tree, read with the XML converters' parser and written back as otelcol's
//! xmlquery writes one (`OutputXML(false)`): no self-closing tags, text trimmed (unless inside
//! `xml:space="preserve"`) and escaped as Go's `html.EscapeString` does, CDATA sections kept,
//! attributes in double quotes, the `<?xml ...?>` declaration only when the input began with
//! one. As xmlquery, a document may hold several root elements (or none).

use crate::converters::xml;
use crate::error::EvalError;
use roxmltree::{Node as RoNode, NodeType};

/// A node's index in its [`Tree`]; nodes are numbered in document order as parsed.
pub(super) type Id = usize;

/// The document node.
pub(super) const DOCUMENT: Id = 0;

/// An attribute (or namespace declaration): qualified name and value.
pub(super) type Attr = (String, String);

#[derive(Clone, Debug)]
pub(super) enum Kind {
    Document,
    /// A qualified name and attributes.
    Element(String, Vec<Attr>),
    /// Character data; `true` for a CDATA section.
    Text(String, bool),
    Comment(String),
    /// A processing instruction (the `xml` declaration too): target and pseudo-attributes.
    Instruction(String, Vec<Attr>),
}

#[derive(Clone, Debug)]
pub(super) struct Node {
    pub kind: Kind,
    pub parent: Option<Id>,
    pub children: Vec<Id>,
}

#[derive(Clone, Debug)]
pub(super) struct Tree {
    pub nodes: Vec<Node>,
}

/// Wraps a document's content so that several roots parse.
const WRAPPER: &str = "ferrotel-xml-document";

/// The local part of a qualified name.
pub(super) fn local_name(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

impl Tree {
    /// An empty document.
    pub(super) fn new() -> Tree {
        Tree {
            nodes: vec![Node {
                kind: Kind::Document,
                parent: None,
                children: Vec::new(),
            }],
        }
    }

    /// Parses `text` (errors read `parse xml: ...`).
    pub(super) fn parse(text: &str) -> Result<Tree, EvalError> {
        let mut tree = Tree::new();
        let mut body = text;
        if let Some(rest) = text.strip_prefix("<?xml") {
            if rest.starts_with(|c: char| c.is_whitespace() || c == '?') {
                let end = rest.find("?>").ok_or_else(|| {
                    EvalError::new("parse xml: unterminated XML declaration".to_string())
                })?;
                let attrs = instruction_attrs(&rest[..end]);
                tree.add(DOCUMENT, Kind::Instruction("xml".into(), attrs));
                body = &rest[end + 2..];
            }
        }
        // A DOCTYPE must come before the root element: such a document is read as it is.
        let as_is = body.contains("<!DOCTYPE");
        let wrapped;
        let source = if as_is {
            body
        } else {
            wrapped = format!("<{WRAPPER}>{body}</{WRAPPER}>");
            &wrapped
        };
        let doc = xml::parse(source, "parse xml")?;
        let top = if as_is {
            doc.root()
        } else {
            doc.root_element()
        };
        tree.read_children(top, DOCUMENT, source);
        Ok(tree)
    }

    /// Appends a node to `parent`'s children.
    pub(super) fn add(&mut self, parent: Id, kind: Kind) -> Id {
        let id = self.nodes.len();
        self.nodes.push(Node {
            kind,
            parent: Some(parent),
            children: Vec::new(),
        });
        self.nodes[parent].children.push(id);
        id
    }

    /// Copies `from`'s subtree `id` under `parent`.
    pub(super) fn graft(&mut self, parent: Id, from: &Tree, id: Id) {
        let copy = self.add(parent, from.nodes[id].kind.clone());
        for &c in &from.nodes[id].children {
            self.graft(copy, from, c);
        }
    }

    /// Takes `id` out of its parent's children.
    pub(super) fn detach(&mut self, id: Id) {
        if let Some(p) = self.nodes[id].parent.take() {
            self.nodes[p].children.retain(|&c| c != id);
        }
    }

    fn read_children(&mut self, from: RoNode<'_, '_>, parent: Id, source: &str) {
        for child in from.children() {
            let kind = match child.node_type() {
                NodeType::Element => Kind::Element(qualified(child), attributes(child)),
                NodeType::Text => {
                    let raw = &source[child.range()];
                    let cdata = raw.starts_with("<![CDATA[")
                        && raw.ends_with("]]>")
                        && raw.matches("<![CDATA[").count() == 1;
                    Kind::Text(child.text().unwrap_or_default().to_string(), cdata)
                }
                NodeType::Comment => Kind::Comment(child.text().unwrap_or_default().to_string()),
                NodeType::PI => match child.pi() {
                    Some(pi) => Kind::Instruction(
                        pi.target.to_string(),
                        instruction_attrs(pi.value.unwrap_or_default()),
                    ),
                    None => continue,
                },
                NodeType::Root => continue,
            };
            let id = self.add(parent, kind);
            self.read_children(child, id, source);
        }
    }

    /// The document written as xmlquery writes it.
    pub(super) fn output(&self) -> String {
        let mut out = String::new();
        self.write(DOCUMENT, false, &mut out);
        out
    }

    /// Writes node `id` (its children too) to `out`; `preserve` keeps text untrimmed.
    pub(super) fn write(&self, id: Id, preserve: bool, out: &mut String) {
        match &self.nodes[id].kind {
            Kind::Document => {
                for &c in &self.nodes[id].children {
                    self.write(c, preserve, out);
                }
            }
            Kind::Text(t, true) => {
                out.push_str("<![CDATA[");
                out.push_str(t);
                out.push_str("]]>");
            }
            Kind::Text(t, false) => escape(if preserve { t } else { t.trim() }, out),
            Kind::Comment(c) => {
                out.push_str("<!--");
                out.push_str(c);
                out.push_str("-->");
            }
            Kind::Instruction(target, attrs) => {
                out.push_str("<?");
                out.push_str(target);
                write_attrs(attrs, out);
                out.push_str("?>");
            }
            Kind::Element(name, attrs) => {
                out.push('<');
                out.push_str(name);
                write_attrs(attrs, out);
                out.push('>');
                let preserve = match attrs.iter().find(|(k, _)| k == "xml:space") {
                    Some((_, v)) => v == "preserve",
                    None => preserve,
                };
                for &c in &self.nodes[id].children {
                    self.write(c, preserve, out);
                }
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }

    /// The XPath string value of node `id`: its text, or its descendants' text joined.
    pub(super) fn text_of(&self, id: Id) -> String {
        match &self.nodes[id].kind {
            Kind::Text(t, _) | Kind::Comment(t) => t.clone(),
            Kind::Instruction(..) => String::new(),
            Kind::Document | Kind::Element(..) => {
                let mut out = String::new();
                for &c in &self.nodes[id].children {
                    if !matches!(self.nodes[c].kind, Kind::Comment(_) | Kind::Instruction(..)) {
                        out.push_str(&self.text_of(c));
                    }
                }
                out
            }
        }
    }
}

/// An element's name with the prefix its namespace has where it is.
fn qualified(node: RoNode<'_, '_>) -> String {
    let tag = node.tag_name();
    match tag.namespace().and_then(|ns| node.lookup_prefix(ns)) {
        Some(prefix) if !prefix.is_empty() => format!("{prefix}:{}", tag.name()),
        _ => tag.name().to_string(),
    }
}

/// An element's namespace declarations (those its parent does not have) and attributes.
fn attributes(node: RoNode<'_, '_>) -> Vec<Attr> {
    let inherited = |name: Option<&str>, uri: &str| {
        node.parent_element()
            .is_some_and(|p| p.namespaces().any(|n| n.name() == name && n.uri() == uri))
    };
    let mut out: Vec<Attr> = node
        .namespaces()
        .filter(|n| n.name() != Some("xml") && !inherited(n.name(), n.uri()))
        .map(|n| match n.name() {
            Some(p) => (format!("xmlns:{p}"), n.uri().to_string()),
            None => ("xmlns".to_string(), n.uri().to_string()),
        })
        .collect();
    out.extend(node.attributes().map(|a| {
        let name = match a.namespace().and_then(|ns| node.lookup_prefix(ns)) {
            Some(p) if !p.is_empty() => format!("{p}:{}", a.name()),
            _ => a.name().to_string(),
        };
        (name, a.value().to_string())
    }));
    out
}

/// xmlquery's reading of an instruction's content: space-separated `name=value` pairs, the
/// value's quotes dropped.
fn instruction_attrs(content: &str) -> Vec<Attr> {
    content
        .split(' ')
        .filter_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (!k.is_empty()).then(|| (k.to_string(), v.trim_matches(['"', '\'']).to_string()))
        })
        .collect()
}

fn write_attrs(attrs: &[Attr], out: &mut String) {
    for (k, v) in attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape(v, out);
        out.push('"');
    }
}

/// Go's `html.EscapeString`, as xmlquery escapes text and attribute values.
fn escape(s: &str, out: &mut String) {
    ferrotel_core::format::html_escape_into(s, out);
}
