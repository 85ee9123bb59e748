//! Evaluation of compiled XPath expressions: node sets in document order, XPath 1.0's
//! conversions and comparisons (a node set compares true when one of its nodes does).

use super::{Axis, Ctx, Eval, Expr, Sel, Step, Test, Val};
use crate::converters::xml_edit::tree::{local_name, Id, Kind, DOCUMENT};

/// Document order, without duplicates.
fn sorted(mut nodes: Vec<Sel>) -> Vec<Sel> {
    nodes.sort_by_key(|n| n.order());
    nodes.dedup();
    nodes
}

fn format_number(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        if n > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if n == n.trunc() && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

impl Eval<'_> {
    pub(super) fn eval(&self, e: &Expr, ctx: Ctx) -> Val {
        match e {
            Expr::Literal(s) => Val::Str(s.clone()),
            Expr::Number(n) => Val::Num(*n),
            Expr::Negate(e) => Val::Num(-self.number(&self.eval(e, ctx))),
            Expr::Union(a, b) => {
                let mut n = self.nodes(a, ctx);
                n.extend(self.nodes(b, ctx));
                Val::Nodes(sorted(n))
            }
            Expr::Binary(op, a, b) => self.binary(op, a, b, ctx),
            Expr::Path(start, absolute, steps) => {
                let from = match start {
                    Some(e) => self.nodes(e, ctx),
                    None if *absolute => vec![Sel::Node(DOCUMENT)],
                    None => vec![ctx.node],
                };
                Val::Nodes(self.walk(from, steps))
            }
            Expr::Filter(e, predicates) => Val::Nodes(self.filter(self.nodes(e, ctx), predicates)),
            Expr::Call(name, args) => self.call(name, args, ctx),
        }
    }

    fn nodes(&self, e: &Expr, ctx: Ctx) -> Vec<Sel> {
        match self.eval(e, ctx) {
            Val::Nodes(n) => sorted(n),
            _ => Vec::new(),
        }
    }

    fn walk(&self, mut set: Vec<Sel>, steps: &[Step]) -> Vec<Sel> {
        for step in steps {
            let mut next = Vec::new();
            for &n in &set {
                let matching = self
                    .axis(n, step.axis)
                    .into_iter()
                    .filter(|&c| self.test(c, step))
                    .collect();
                next.extend(self.filter(matching, &step.predicates));
            }
            set = sorted(next);
        }
        set
    }

    /// Keeps the nodes each predicate holds for (a number: the node at that position).
    fn filter(&self, mut set: Vec<Sel>, predicates: &[Expr]) -> Vec<Sel> {
        for p in predicates {
            let size = set.len();
            let keep: Vec<bool> = (0..size)
                .map(|i| {
                    let ctx = Ctx {
                        node: set[i],
                        pos: i + 1,
                        size,
                    };
                    match self.eval(p, ctx) {
                        Val::Num(x) => x == (i + 1) as f64,
                        v => self.boolean(&v),
                    }
                })
                .collect();
            let mut keep = keep.into_iter();
            set.retain(|_| keep.next().unwrap_or(false));
        }
        set
    }

    fn children(&self, id: Id) -> Vec<Sel> {
        self.tree.nodes[id]
            .children
            .iter()
            .map(|&c| Sel::Node(c))
            .collect()
    }

    fn descendants(&self, id: Id, out: &mut Vec<Sel>) {
        for &c in &self.tree.nodes[id].children {
            out.push(Sel::Node(c));
            self.descendants(c, out);
        }
    }

    fn parent(&self, n: Sel) -> Option<Sel> {
        match n {
            Sel::Node(id) => self.tree.nodes[id].parent.map(Sel::Node),
            Sel::Attr(id, _) => Some(Sel::Node(id)),
        }
    }

    /// The nodes on `axis` from `n`, nearest first.
    fn axis(&self, n: Sel, axis: Axis) -> Vec<Sel> {
        let mut out = Vec::new();
        match (axis, n) {
            (Axis::Itself, _) => out.push(n),
            (Axis::Parent, _) => out.extend(self.parent(n)),
            (Axis::Ancestor | Axis::AncestorOrSelf, _) => {
                if axis == Axis::AncestorOrSelf {
                    out.push(n);
                }
                let mut at = self.parent(n);
                while let Some(p) = at {
                    out.push(p);
                    at = self.parent(p);
                }
            }
            (Axis::DescendantOrSelf, _) => {
                out.push(n);
                if let Sel::Node(id) = n {
                    self.descendants(id, &mut out);
                }
            }
            (_, Sel::Attr(..)) => {}
            (Axis::Child, Sel::Node(id)) => out = self.children(id),
            (Axis::Descendant, Sel::Node(id)) => self.descendants(id, &mut out),
            (Axis::Attribute, Sel::Node(id)) => {
                if let Kind::Element(_, attrs) = &self.tree.nodes[id].kind {
                    out.extend((0..attrs.len()).map(|i| Sel::Attr(id, i)));
                }
            }
            (Axis::FollowingSibling | Axis::PrecedingSibling, Sel::Node(id)) => {
                let Some(p) = self.tree.nodes[id].parent else {
                    return out;
                };
                let siblings = &self.tree.nodes[p].children;
                let at = siblings.iter().position(|&c| c == id).unwrap_or(0);
                if axis == Axis::FollowingSibling {
                    out.extend(siblings[at + 1..].iter().map(|&c| Sel::Node(c)));
                } else {
                    out.extend(siblings[..at].iter().rev().map(|&c| Sel::Node(c)));
                }
            }
        }
        out
    }

    fn test(&self, n: Sel, step: &Step) -> bool {
        let name_matches = |name: &str, test: &str| {
            if test.contains(':') {
                name == test
            } else {
                local_name(name) == test
            }
        };
        match n {
            Sel::Attr(id, i) => match &step.test {
                Test::Node => true,
                _ if step.axis != Axis::Attribute => false,
                Test::Any => true,
                Test::Name(t) => self.attr(id, i).is_some_and(|(k, _)| name_matches(k, t)),
                _ => false,
            },
            Sel::Node(id) => match (&step.test, &self.tree.nodes[id].kind) {
                (_, _) if step.axis == Axis::Attribute => false,
                (Test::Node, _) => true,
                (Test::Any, Kind::Element(..)) => true,
                (Test::Name(t), Kind::Element(name, _)) => name_matches(name, t),
                (Test::Text, Kind::Text(..)) => true,
                (Test::Comment, Kind::Comment(_)) => true,
                (Test::Instruction, Kind::Instruction(..)) => true,
                _ => false,
            },
        }
    }

    fn attr(&self, id: Id, i: usize) -> Option<&(String, String)> {
        match &self.tree.nodes[id].kind {
            Kind::Element(_, attrs) => attrs.get(i),
            _ => None,
        }
    }

    /// The string value of a node.
    pub(super) fn string_of(&self, n: Sel) -> String {
        match n {
            Sel::Node(id) => self.tree.text_of(id),
            Sel::Attr(id, i) => self.attr(id, i).map(|(_, v)| v.clone()).unwrap_or_default(),
        }
    }

    /// A node's qualified name: an element's or attribute's, an instruction's target.
    fn name_of(&self, n: Sel) -> String {
        match n {
            Sel::Attr(id, i) => self.attr(id, i).map(|(k, _)| k.clone()).unwrap_or_default(),
            Sel::Node(id) => match &self.tree.nodes[id].kind {
                Kind::Element(name, _) | Kind::Instruction(name, _) => name.clone(),
                _ => String::new(),
            },
        }
    }

    fn string(&self, v: &Val) -> String {
        match v {
            Val::Nodes(n) => n.first().map(|&n| self.string_of(n)).unwrap_or_default(),
            Val::Str(s) => s.clone(),
            Val::Num(n) => format_number(*n),
            Val::Bool(b) => b.to_string(),
        }
    }

    fn number(&self, v: &Val) -> f64 {
        match v {
            Val::Num(n) => *n,
            Val::Bool(b) => f64::from(u8::from(*b)),
            _ => self.string(v).trim().parse().unwrap_or(f64::NAN),
        }
    }

    fn boolean(&self, v: &Val) -> bool {
        match v {
            Val::Nodes(n) => !n.is_empty(),
            Val::Str(s) => !s.is_empty(),
            Val::Num(n) => *n != 0.0 && !n.is_nan(),
            Val::Bool(b) => *b,
        }
    }

    fn binary(&self, op: &str, a: &Expr, b: &Expr, ctx: Ctx) -> Val {
        match op {
            "or" => Val::Bool(self.boolean(&self.eval(a, ctx)) || self.boolean(&self.eval(b, ctx))),
            "and" => {
                Val::Bool(self.boolean(&self.eval(a, ctx)) && self.boolean(&self.eval(b, ctx)))
            }
            "=" | "!=" | "<" | "<=" | ">" | ">=" => {
                Val::Bool(self.compare(op, &self.eval(a, ctx), &self.eval(b, ctx)))
            }
            _ => {
                let (x, y) = (
                    self.number(&self.eval(a, ctx)),
                    self.number(&self.eval(b, ctx)),
                );
                Val::Num(match op {
                    "+" => x + y,
                    "-" => x - y,
                    "*" => x * y,
                    "div" => x / y,
                    _ => x % y,
                })
            }
        }
    }

    fn compare(&self, op: &str, a: &Val, b: &Val) -> bool {
        let each =
            |n: &[Sel], f: &dyn Fn(Val) -> bool| n.iter().any(|&m| f(Val::Str(self.string_of(m))));
        match (a, b) {
            (Val::Nodes(x), Val::Bool(_)) => self.atoms(op, &Val::Bool(!x.is_empty()), b),
            (Val::Bool(_), Val::Nodes(y)) => self.atoms(op, a, &Val::Bool(!y.is_empty())),
            (Val::Nodes(x), _) => each(x, &|s| self.atoms(op, &s, b)),
            (_, Val::Nodes(y)) => each(y, &|s| self.atoms(op, a, &s)),
            _ => self.atoms(op, a, b),
        }
    }

    fn atoms(&self, op: &str, a: &Val, b: &Val) -> bool {
        if let Val::Nodes(y) = b {
            let y = y.clone();
            return y
                .iter()
                .any(|&n| self.atoms(op, a, &Val::Str(self.string_of(n))));
        }
        let either = |f: fn(&Val) -> bool| f(a) || f(b);
        if op == "=" || op == "!=" {
            let equal = if either(|v| matches!(v, Val::Bool(_))) {
                self.boolean(a) == self.boolean(b)
            } else if either(|v| matches!(v, Val::Num(_))) {
                self.number(a) == self.number(b)
            } else {
                self.string(a) == self.string(b)
            };
            return equal == (op == "=");
        }
        let (x, y) = (self.number(a), self.number(b));
        match op {
            "<" => x < y,
            "<=" => x <= y,
            ">" => x > y,
            _ => x >= y,
        }
    }
}

mod functions;
