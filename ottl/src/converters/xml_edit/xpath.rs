//! XPath 1.0 expressions over a [`Tree`], for the XML editing converters: location paths
//! (abbreviated and with the axes `child`, `descendant`, `descendant-or-self`, `parent`,
//! `ancestor`, `ancestor-or-self`, `following-sibling`, `preceding-sibling`, `self`,
//! `attribute`), node tests (`name`, `prefix:name`, `*`, `text()`, `node()`, `comment()`,
//! `processing-instruction()`), predicates, unions, comparisons, `and` / `or`, arithmetic
//! and the core functions (`not`, `count`, `position`, `last`, `local-name`, `name`,
//! `string`, `concat`, `contains`, `starts-with`, `ends-with`, `substring`,
//! `substring-before`, `substring-after`, `string-length`, `normalize-space`,
//! `lower-case`, `upper-case`, `number`, `sum`, `boolean`, `true`, `false`). Variables and
//! other functions are refused when the statement compiles, as an invalid xpath.

use super::tree::{Id, Tree, DOCUMENT};

/// A selected node: a tree node, or attribute `usize` of an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Sel {
    Node(Id),
    Attr(Id, usize),
}

impl Sel {
    /// The position in document order (an element's attributes follow it).
    fn order(self) -> (Id, usize) {
        match self {
            Sel::Node(id) => (id, 0),
            Sel::Attr(id, i) => (id, i + 1),
        }
    }
}

#[derive(Clone, Debug)]
enum Tok {
    Slash,
    DSlash,
    LBr,
    RBr,
    LPar,
    RPar,
    At,
    Comma,
    Pipe,
    Dot,
    DDot,
    Star,
    Axis(String),
    Op(&'static str),
    Lit(String),
    Num(f64),
    Name(String),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let b = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let two = s.get(i..i + 2).unwrap_or("");
        let (tok, len) = match b[i] {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            _ if two == "//" => (Tok::DSlash, 2),
            _ if two == ".." => (Tok::DDot, 2),
            _ if two == "!=" => (Tok::Op("!="), 2),
            _ if two == "<=" => (Tok::Op("<="), 2),
            _ if two == ">=" => (Tok::Op(">="), 2),
            b'/' => (Tok::Slash, 1),
            b'[' => (Tok::LBr, 1),
            b']' => (Tok::RBr, 1),
            b'(' => (Tok::LPar, 1),
            b')' => (Tok::RPar, 1),
            b'@' => (Tok::At, 1),
            b',' => (Tok::Comma, 1),
            b'|' => (Tok::Pipe, 1),
            b'*' => (Tok::Star, 1),
            b'=' => (Tok::Op("="), 1),
            b'<' => (Tok::Op("<"), 1),
            b'>' => (Tok::Op(">"), 1),
            b'+' => (Tok::Op("+"), 1),
            b'-' => (Tok::Op("-"), 1),
            q @ (b'"' | b'\'') => {
                let end = s[i + 1..]
                    .find(q as char)
                    .ok_or("unclosed string literal")?;
                (Tok::Lit(s[i + 1..i + 1 + end].to_string()), end + 2)
            }
            c if c.is_ascii_digit() || c == b'.' => {
                let len = s[i..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(s.len() - i);
                if &s[i..i + len] == "." {
                    (Tok::Dot, 1)
                } else {
                    let n = s[i..i + len]
                        .parse()
                        .map_err(|_| format!("{s} has an invalid number"))?;
                    (Tok::Num(n), len)
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let len = name_len(&s[i..]);
                let name = s[i..i + len].to_string();
                if s[i + len..].trim_start().starts_with("::") {
                    let skip = s[i + len..].find("::").unwrap_or(0) + 2;
                    (Tok::Axis(name), len + skip)
                } else {
                    (Tok::Name(name), len)
                }
            }
            _ => return Err(format!("{s} has an invalid token")),
        };
        toks.push(tok);
        i += len;
    }
    Ok(toks)
}

/// The length of the name at the start of `s` (a single `:` may join prefix and local name).
fn name_len(s: &str) -> usize {
    let mut len = 0;
    for (i, c) in s.char_indices() {
        let ok = c.is_alphanumeric()
            || matches!(c, '_' | '-' | '.')
            || (c == ':' && !s[i..].starts_with("::") && !s[..i].ends_with(':') && i > 0);
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Axis {
    Child,
    Descendant,
    DescendantOrSelf,
    Parent,
    Ancestor,
    AncestorOrSelf,
    FollowingSibling,
    PrecedingSibling,
    Itself,
    Attribute,
}

#[derive(Clone, Debug)]
enum Test {
    Name(String),
    Any,
    Text,
    Node,
    Comment,
    Instruction,
}

#[derive(Clone, Debug)]
struct Step {
    axis: Axis,
    test: Test,
    predicates: Vec<Expr>,
}

#[derive(Clone, Debug)]
enum Expr {
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Negate(Box<Expr>),
    Union(Box<Expr>, Box<Expr>),
    /// A path from the root (`None`), the context node, or a filter expression's nodes.
    Path(Option<Box<Expr>>, bool, Vec<Step>),
    Filter(Box<Expr>, Vec<Expr>),
    Literal(String),
    Number(f64),
    Call(String, Vec<Expr>),
}

/// The functions known, with their least and most argument counts.
const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("not", 1, 1),
    ("count", 1, 1),
    ("position", 0, 0),
    ("last", 0, 0),
    ("local-name", 0, 1),
    ("name", 0, 1),
    ("string", 0, 1),
    ("concat", 2, usize::MAX),
    ("contains", 2, 2),
    ("starts-with", 2, 2),
    ("ends-with", 2, 2),
    ("substring", 2, 3),
    ("substring-before", 2, 2),
    ("substring-after", 2, 2),
    ("string-length", 0, 1),
    ("normalize-space", 0, 1),
    ("lower-case", 1, 1),
    ("upper-case", 1, 1),
    ("number", 0, 1),
    ("sum", 1, 1),
    ("boolean", 1, 1),
    ("true", 0, 0),
    ("false", 0, 0),
];

/// A compiled XPath expression.
#[derive(Debug)]
pub(super) struct XPath(Expr);

impl XPath {
    /// Compiles `s`; the error is otelcol's `invalid xpath: ...`.
    pub(super) fn compile(s: &str) -> Result<XPath, String> {
        let toks = lex(s).map_err(|e| format!("invalid xpath: {e}"))?;
        let mut p = Parser { toks, at: 0 };
        let e = p.or().map_err(|e| format!("invalid xpath: {s}: {e}"))?;
        if p.at < p.toks.len() {
            return Err(format!("invalid xpath: {s} has an invalid token"));
        }
        Ok(XPath(e))
    }

    /// The nodes the expression selects from the document, in document order.
    pub(super) fn select(&self, tree: &Tree) -> Vec<Sel> {
        let ctx = Ctx {
            node: Sel::Node(DOCUMENT),
            pos: 1,
            size: 1,
        };
        let eval = Eval { tree };
        match eval.eval(&self.0, ctx) {
            Val::Nodes(n) => n,
            _ => Vec::new(),
        }
    }
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn eat_op(&mut self, ops: &[&'static str]) -> Option<&'static str> {
        let op = match self.peek()? {
            Tok::Op(o) => ops.iter().find(|x| *x == o).copied(),
            Tok::Star => ops.contains(&"*").then_some("*"),
            Tok::Name(n) => ops.iter().find(|x| *x == n).copied(),
            _ => None,
        }?;
        self.at += 1;
        Some(op)
    }

    /// One level of left-associative binary operators.
    fn binary(
        &mut self,
        ops: &[&'static str],
        next: fn(&mut Parser) -> Result<Expr, String>,
    ) -> Result<Expr, String> {
        let mut e = next(self)?;
        while let Some(op) = self.eat_op(ops) {
            e = Expr::Binary(op, Box::new(e), Box::new(next(self)?));
        }
        Ok(e)
    }

    fn or(&mut self) -> Result<Expr, String> {
        self.binary(&["or"], Parser::and)
    }
    fn and(&mut self) -> Result<Expr, String> {
        self.binary(&["and"], Parser::equality)
    }
    fn equality(&mut self) -> Result<Expr, String> {
        self.binary(&["=", "!="], Parser::relational)
    }
    fn relational(&mut self) -> Result<Expr, String> {
        self.binary(&["<", "<=", ">", ">="], Parser::additive)
    }
    fn additive(&mut self) -> Result<Expr, String> {
        self.binary(&["+", "-"], Parser::multiplicative)
    }
    fn multiplicative(&mut self) -> Result<Expr, String> {
        self.binary(&["*", "div", "mod"], Parser::unary)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if matches!(self.peek(), Some(Tok::Op("-"))) {
            self.at += 1;
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        let mut e = self.path()?;
        while matches!(self.peek(), Some(Tok::Pipe)) {
            self.at += 1;
            e = Expr::Union(Box::new(e), Box::new(self.path()?));
        }
        Ok(e)
    }

    fn path(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some(Tok::Slash) => {
                self.at += 1;
                let steps = if self.step_starts() {
                    self.steps()?
                } else {
                    Vec::new()
                };
                Ok(Expr::Path(None, true, steps))
            }
            Some(Tok::DSlash) => {
                self.at += 1;
                let mut steps = vec![any_descendant()];
                steps.extend(self.steps()?);
                Ok(Expr::Path(None, true, steps))
            }
            Some(Tok::Lit(_) | Tok::Num(_) | Tok::LPar) => self.filter(),
            Some(Tok::Name(n)) if !is_node_type(n) && self.followed_by_paren() => self.filter(),
            _ => Ok(Expr::Path(None, false, self.steps()?)),
        }
    }

    fn followed_by_paren(&self) -> bool {
        matches!(self.toks.get(self.at + 1), Some(Tok::LPar))
    }

    fn step_starts(&self) -> bool {
        matches!(
            self.peek(),
            Some(Tok::Name(_) | Tok::Star | Tok::At | Tok::Dot | Tok::DDot | Tok::Axis(_))
        )
    }

    /// A primary expression, its predicates, and a path from its nodes.
    fn filter(&mut self) -> Result<Expr, String> {
        let primary = match self.next() {
            Some(Tok::Lit(s)) => Expr::Literal(s),
            Some(Tok::Num(n)) => Expr::Number(n),
            Some(Tok::LPar) => {
                let e = self.or()?;
                self.expect_rpar()?;
                e
            }
            Some(Tok::Name(n)) => self.call(n)?,
            _ => return Err("expected an expression".into()),
        };
        let predicates = self.predicates()?;
        let e = if predicates.is_empty() {
            primary
        } else {
            Expr::Filter(Box::new(primary), predicates)
        };
        let mut steps = match self.peek() {
            Some(Tok::Slash) => Vec::new(),
            Some(Tok::DSlash) => vec![any_descendant()],
            _ => return Ok(e),
        };
        self.at += 1;
        steps.extend(self.steps()?);
        Ok(Expr::Path(Some(Box::new(e)), false, steps))
    }

    fn call(&mut self, name: String) -> Result<Expr, String> {
        self.at += 1; // (
        let mut args = Vec::new();
        if !matches!(self.peek(), Some(Tok::RPar)) {
            args.push(self.or()?);
            while matches!(self.peek(), Some(Tok::Comma)) {
                self.at += 1;
                args.push(self.or()?);
            }
        }
        self.expect_rpar()?;
        match FUNCTIONS.iter().find(|(f, _, _)| *f == name) {
            Some((_, min, max)) if (*min..=*max).contains(&args.len()) => {
                Ok(Expr::Call(name, args))
            }
            Some(_) => Err(format!("{name}: wrong number of arguments")),
            None => Err(format!("{name} is not a supported function")),
        }
    }

    fn expect_rpar(&mut self) -> Result<(), String> {
        match self.next() {
            Some(Tok::RPar) => Ok(()),
            _ => Err("expected )".into()),
        }
    }

    fn steps(&mut self) -> Result<Vec<Step>, String> {
        let mut steps = vec![self.step()?];
        loop {
            match self.peek() {
                Some(Tok::Slash) => {}
                Some(Tok::DSlash) => steps.push(any_descendant()),
                _ => return Ok(steps),
            }
            self.at += 1;
            steps.push(self.step()?);
        }
    }

    fn step(&mut self) -> Result<Step, String> {
        let axis = match self.next() {
            Some(Tok::Dot) => return Ok(step(Axis::Itself, Test::Node)),
            Some(Tok::DDot) => return Ok(step(Axis::Parent, Test::Node)),
            Some(Tok::At) => Axis::Attribute,
            Some(Tok::Axis(a)) => axis(&a)?,
            _ => {
                self.at -= 1;
                Axis::Child
            }
        };
        let test = match self.next() {
            Some(Tok::Star) => Test::Any,
            Some(Tok::Name(n)) if is_node_type(&n) && matches!(self.peek(), Some(Tok::LPar)) => {
                self.at += 1;
                if matches!(self.peek(), Some(Tok::Lit(_))) {
                    self.at += 1;
                }
                self.expect_rpar()?;
                match n.as_str() {
                    "text" => Test::Text,
                    "node" => Test::Node,
                    "comment" => Test::Comment,
                    _ => Test::Instruction,
                }
            }
            Some(Tok::Name(n)) => Test::Name(n),
            _ => return Err("expected a node test".into()),
        };
        Ok(Step {
            axis,
            test,
            predicates: self.predicates()?,
        })
    }

    fn predicates(&mut self) -> Result<Vec<Expr>, String> {
        let mut out = Vec::new();
        while matches!(self.peek(), Some(Tok::LBr)) {
            self.at += 1;
            out.push(self.or()?);
            match self.next() {
                Some(Tok::RBr) => {}
                _ => return Err("expected ]".into()),
            }
        }
        Ok(out)
    }
}

fn is_node_type(n: &str) -> bool {
    matches!(n, "text" | "node" | "comment" | "processing-instruction")
}

fn step(axis: Axis, test: Test) -> Step {
    Step {
        axis,
        test,
        predicates: Vec::new(),
    }
}

/// `//`: `/descendant-or-self::node()/`.
fn any_descendant() -> Step {
    step(Axis::DescendantOrSelf, Test::Node)
}

fn axis(name: &str) -> Result<Axis, String> {
    Ok(match name {
        "child" => Axis::Child,
        "descendant" => Axis::Descendant,
        "descendant-or-self" => Axis::DescendantOrSelf,
        "parent" => Axis::Parent,
        "ancestor" => Axis::Ancestor,
        "ancestor-or-self" => Axis::AncestorOrSelf,
        "following-sibling" => Axis::FollowingSibling,
        "preceding-sibling" => Axis::PrecedingSibling,
        "self" => Axis::Itself,
        "attribute" => Axis::Attribute,
        other => return Err(format!("unsupported axis {other}")),
    })
}

#[derive(Clone, Debug)]
enum Val {
    Nodes(Vec<Sel>),
    Str(String),
    Num(f64),
    Bool(bool),
}

#[derive(Clone, Copy)]
struct Ctx {
    node: Sel,
    pos: usize,
    size: usize,
}

struct Eval<'t> {
    tree: &'t Tree,
}

mod eval;
