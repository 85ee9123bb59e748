//! The expressions of stanza's `if`, `router`, `filter` and `recombine`: the subset of
//! expr-lang their docs use, compiled once when the configuration loads.
//!
//! ```text
//! body matches "^\\{"            attributes.level == "debug"      attributes["k.8s"] != nil
//! body.msg startsWith "GET" and not (attributes.x in ["a", "b"])    body.n >= 3 || $.ok
//! resource.host contains env("HOST")                               body.tag endsWith 'F'
//! ```
//!
//! Names: `body` (also `$`), `attributes`, `resource`, `env("NAME")`; member access `.key` and
//! `["key"]`; literals (strings in double or single quotes, numbers, `true`, `false`, `nil`,
//! arrays); `+` (numbers, and strings joined) and `-` (numbers); `==`, `!=`, `<`, `<=`, `>`,
//! `>=`, `in`, `matches`, `contains`, `startsWith`, `endsWith` (each also after `not`); `and` /
//! `&&`, `or` / `||`, `not` / `!`. Anything else is a configuration error naming the
//! expression. Conditions must be boolean; [`Expr::compile_value`] takes any value (`add`'s
//! `EXPR(...)`).

use super::entry::Entry;
use super::kind;
use super::parser::go_regex;
use serde_json::Value;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug)]
enum Node {
    Lit(Value),
    Body,
    Attributes,
    Resource,
    Env(String),
    Member(Box<Node>, String),
    Array(Vec<Node>),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cmp(Op, Box<Node>, Box<Node>),
    Matches(Box<Node>, regex::Regex),
    /// `+` (true) or `-` (false).
    Sum(bool, Box<Node>, Box<Node>),
}

/// A compiled boolean expression.
#[derive(Debug)]
pub struct Expr {
    source: String,
    root: Node,
}

impl Expr {
    /// Compiles a condition; the error names the expression.
    pub fn compile(source: &str) -> Result<Expr, String> {
        let e = Expr::compile_value(source)?;
        if matches!(&e.root, Node::Lit(v) if !v.is_boolean())
            || matches!(e.root, Node::Array(_) | Node::Sum(..))
        {
            return Err(format!("expression {source:?}: expected bool"));
        }
        Ok(e)
    }

    /// Compiles an expression of any value; the error names the expression.
    pub fn compile_value(source: &str) -> Result<Expr, String> {
        let tokens = lex(source).map_err(|e| format!("expression {source:?}: {e}"))?;
        let mut p = ParserState {
            tokens,
            pos: 0,
            depth: 0,
        };
        let root = p
            .or()
            .and_then(|n| match p.peek() {
                None => Ok(n),
                Some(t) => Err(format!("unexpected {t:?}")),
            })
            .map_err(|e| format!("expression {source:?}: {e}"))?;
        Ok(Expr {
            source: source.to_string(),
            root,
        })
    }

    /// The expression's value for the entry.
    pub fn value(&self, e: &Entry) -> Result<Value, String> {
        eval(&self.root, e).map(Cow::into_owned)
    }

    /// True or false for the entry; an error when the expression fails or is not boolean.
    pub fn eval(&self, e: &Entry) -> Result<bool, String> {
        match eval(&self.root, e)?.as_ref() {
            Value::Bool(b) => Ok(*b),
            other => Err(format!(
                "expression {:?}: expected bool, but got {}",
                self.source,
                kind(other)
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Num(serde_json::Number),
    Ident(String),
    Sym(&'static str),
}

const SYMBOLS: &[&str] = &[
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ".", ",", "$", "+", "-",
];

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = vec![];
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else if c == '"' || c == '\'' {
            let (text, after) = string(&rest[1..], c)?;
            out.push(Tok::Str(text));
            rest = after;
        } else if c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
                .unwrap_or(rest.len());
            let text = rest[..end].replace('_', "");
            let n = text
                .parse::<i64>()
                .map(serde_json::Number::from)
                .ok()
                .or_else(|| {
                    text.parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                })
                .ok_or_else(|| format!("invalid number {text:?}"))?;
            out.push(Tok::Num(n));
            rest = &rest[end..];
        } else if c.is_alphabetic() || c == '_' {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push(Tok::Ident(rest[..end].to_string()));
            rest = &rest[end..];
        } else {
            let sym = SYMBOLS
                .iter()
                .find(|sym| rest.starts_with(**sym))
                .ok_or_else(|| format!("unsupported character {c:?}"))?;
            out.push(Tok::Sym(sym));
            rest = &rest[sym.len()..];
        }
    }
    Ok(out)
}

/// A quoted string's text (expr-lang escapes; an unknown escape keeps its backslash, so
/// regexes such as `"^[^\s]"` read as written), and what follows the closing quote.
fn string(s: &str, quote: char) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, &s[i + 1..]));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next().map(|(_, c)| c) {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(c @ ('\\' | '"' | '\'')) => out.push(c),
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
            None => break,
        }
    }
    Err("unterminated string".into())
}

struct ParserState {
    tokens: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// Deepest nesting of parentheses, arrays and `not`s (the parser recurses).
const MAX_DEPTH: usize = 64;

impl ParserState {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    /// Consumes the symbol or keyword if it comes next.
    fn eat(&mut self, words: &[&str]) -> bool {
        let hit = match self.peek() {
            Some(Tok::Sym(s)) => words.contains(s),
            Some(Tok::Ident(s)) => words.contains(&s.as_str()),
            _ => false,
        };
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, sym: &str) -> Result<(), String> {
        if self.eat(&[sym]) {
            Ok(())
        } else {
            Err(format!("expected '{sym}'"))
        }
    }

    fn or(&mut self) -> Result<Node, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        let mut left = self.and()?;
        while self.eat(&["or", "||"]) {
            left = Node::Or(Box::new(left), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, String> {
        let mut left = self.comparison()?;
        while self.eat(&["and", "&&"]) {
            left = Node::And(Box::new(left), Box::new(self.comparison()?));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Node, String> {
        let left = self.sum()?;
        let save = self.pos;
        let negated = self.eat(&["not"]);
        let Some(op) = self.operator() else {
            self.pos = save;
            return Ok(left);
        };
        let right = self.sum()?;
        let node = match op {
            None => Node::Matches(Box::new(left), literal_regex(&right)?),
            Some(op) => Node::Cmp(op, Box::new(left), Box::new(right)),
        };
        Ok(if negated {
            Node::Not(Box::new(node))
        } else {
            node
        })
    }

    fn sum(&mut self) -> Result<Node, String> {
        let mut left = self.unary()?;
        loop {
            let plus = if self.eat(&["+"]) {
                true
            } else if self.eat(&["-"]) {
                false
            } else {
                return Ok(left);
            };
            left = Node::Sum(plus, Box::new(left), Box::new(self.unary()?));
        }
    }

    /// The next binary operator: `Some(None)` for `matches`.
    fn operator(&mut self) -> Option<Option<Op>> {
        let op = match self.peek()? {
            Tok::Sym("==") => Some(Op::Eq),
            Tok::Sym("!=") => Some(Op::Ne),
            Tok::Sym("<") => Some(Op::Lt),
            Tok::Sym("<=") => Some(Op::Le),
            Tok::Sym(">") => Some(Op::Gt),
            Tok::Sym(">=") => Some(Op::Ge),
            Tok::Ident(w) => match w.as_str() {
                "in" => Some(Op::In),
                "contains" => Some(Op::Contains),
                "startsWith" => Some(Op::StartsWith),
                "endsWith" => Some(Op::EndsWith),
                "matches" => None,
                _ => return None,
            },
            _ => return None,
        };
        self.pos += 1;
        Some(op)
    }

    fn unary(&mut self) -> Result<Node, String> {
        if self.eat(&["not", "!"]) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(format!("nested deeper than {MAX_DEPTH}"));
            }
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        let mut node = self.primary()?;
        loop {
            if self.eat(&["."]) {
                match self.next() {
                    Some(Tok::Ident(k)) => node = Node::Member(Box::new(node), k),
                    _ => return Err("expected a name after '.'".into()),
                }
            } else if self.eat(&["["]) {
                let key = match self.next() {
                    Some(Tok::Str(k)) => k,
                    _ => return Err("only [\"key\"] with a quoted key is supported".into()),
                };
                self.expect("]")?;
                node = Node::Member(Box::new(node), key);
            } else {
                return Ok(node);
            }
        }
    }

    fn primary(&mut self) -> Result<Node, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Node::Lit(Value::String(s))),
            Some(Tok::Num(n)) => Ok(Node::Lit(Value::Number(n))),
            Some(Tok::Sym("$")) => Ok(Node::Body),
            Some(Tok::Sym("(")) => {
                let n = self.or()?;
                self.expect(")")?;
                Ok(n)
            }
            Some(Tok::Sym("[")) => self.array(),
            Some(Tok::Ident(name)) => self.name(&name),
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("unexpected end of expression".into()),
        }
    }

    fn array(&mut self) -> Result<Node, String> {
        let mut items = vec![];
        if self.eat(&["]"]) {
            return Ok(Node::Array(items));
        }
        loop {
            items.push(self.or()?);
            if self.eat(&["]"]) {
                return Ok(Node::Array(items));
            }
            self.expect(",")?;
        }
    }

    fn name(&mut self, name: &str) -> Result<Node, String> {
        Ok(match name {
            "body" => Node::Body,
            "attributes" => Node::Attributes,
            "resource" => Node::Resource,
            "true" => Node::Lit(Value::Bool(true)),
            "false" => Node::Lit(Value::Bool(false)),
            "nil" => Node::Lit(Value::Null),
            "env" => {
                self.expect("(")?;
                let Some(Tok::Str(var)) = self.next() else {
                    return Err("env() takes one quoted name".into());
                };
                self.expect(")")?;
                Node::Env(var)
            }
            other => {
                return Err(format!(
                    "unknown name '{other}' (supported: body, attributes, resource, env(...))"
                ))
            }
        })
    }
}

fn literal_regex(n: &Node) -> Result<regex::Regex, String> {
    let Node::Lit(Value::String(pattern)) = n else {
        return Err("`matches` takes a quoted pattern".into());
    };
    go_regex(pattern)
}

fn map_value(m: &serde_json::Map<String, Value>) -> Cow<'_, Value> {
    Cow::Owned(Value::Object(m.clone()))
}

fn eval<'e>(n: &Node, e: &'e Entry) -> Result<Cow<'e, Value>, String> {
    Ok(match n {
        Node::Lit(v) => Cow::Owned(v.clone()),
        Node::Body => Cow::Borrowed(&e.body),
        Node::Attributes => map_value(&e.attributes),
        Node::Resource => map_value(&e.resource),
        Node::Env(var) => Cow::Owned(Value::String(std::env::var(var).unwrap_or_default())),
        Node::Member(inner, key) => member(inner, key, e)?,
        Node::Array(items) => Cow::Owned(Value::Array(
            items
                .iter()
                .map(|i| eval(i, e).map(Cow::into_owned))
                .collect::<Result<_, _>>()?,
        )),
        Node::Not(inner) => Cow::Owned(Value::Bool(!boolean(inner, e, "not")?)),
        Node::And(l, r) => Cow::Owned(Value::Bool(boolean(l, e, "and")? && boolean(r, e, "and")?)),
        Node::Or(l, r) => Cow::Owned(Value::Bool(boolean(l, e, "or")? || boolean(r, e, "or")?)),
        Node::Matches(l, re) => match eval(l, e)?.as_ref() {
            Value::String(s) => Cow::Owned(Value::Bool(re.is_match(s))),
            other => return Err(format!("invalid operation: {} matches string", kind(other))),
        },
        Node::Sum(plus, l, r) => {
            Cow::Owned(sum(*plus, eval(l, e)?.as_ref(), eval(r, e)?.as_ref())?)
        }
        Node::Cmp(op, l, r) => Cow::Owned(Value::Bool(compare(
            *op,
            eval(l, e)?.as_ref(),
            eval(r, e)?.as_ref(),
        )?)),
    })
}

/// `x.key`: attributes and resource are read in place, without copying the map.
fn member<'e>(inner: &Node, key: &str, e: &'e Entry) -> Result<Cow<'e, Value>, String> {
    let map = match inner {
        Node::Attributes => Some(&e.attributes),
        Node::Resource => Some(&e.resource),
        _ => None,
    };
    if let Some(m) = map {
        return Ok(m.get(key).map_or(Cow::Owned(Value::Null), Cow::Borrowed));
    }
    match eval(inner, e)? {
        Cow::Borrowed(Value::Object(m)) => {
            Ok(m.get(key).map_or(Cow::Owned(Value::Null), Cow::Borrowed))
        }
        Cow::Owned(Value::Object(mut m)) => Ok(Cow::Owned(m.remove(key).unwrap_or(Value::Null))),
        other => Err(format!("cannot fetch {key} from {}", kind(&other))),
    }
}

fn boolean(n: &Node, e: &Entry, op: &str) -> Result<bool, String> {
    match eval(n, e)?.as_ref() {
        Value::Bool(b) => Ok(*b),
        other => Err(format!("invalid operation: {op} on {}", kind(other))),
    }
}

fn compare(op: Op, l: &Value, r: &Value) -> Result<bool, String> {
    let bad = || format!("invalid operation: {} {op:?} {}", kind(l), kind(r));
    let text = |v: &Value| v.as_str().map(str::to_string);
    Ok(match op {
        Op::Eq => equal(l, r),
        Op::Ne => !equal(l, r),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ord = match (l, r) {
                (Value::Number(a), Value::Number(b)) => a
                    .as_f64()
                    .zip(b.as_f64())
                    .and_then(|(a, b)| a.partial_cmp(&b)),
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                _ => None,
            };
            let ord = ord.ok_or_else(bad)?;
            match op {
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            }
        }
        Op::In => match r {
            Value::Array(items) => items.iter().any(|i| equal(l, i)),
            Value::Object(m) => m.contains_key(l.as_str().ok_or_else(bad)?),
            _ => return Err(bad()),
        },
        Op::Contains | Op::StartsWith | Op::EndsWith => {
            let (Some(a), Some(b)) = (text(l), text(r)) else {
                return Err(bad());
            };
            match op {
                Op::Contains => a.contains(&b),
                Op::StartsWith => a.starts_with(&b),
                _ => a.ends_with(&b),
            }
        }
    })
}

/// `+` and `-`: integers stay integers unless they overflow, strings join.
fn sum(plus: bool, l: &Value, r: &Value) -> Result<Value, String> {
    let sign = if plus { '+' } else { '-' };
    let bad = || format!("invalid operation: {} {sign} {}", kind(l), kind(r));
    match (l, r) {
        (Value::String(a), Value::String(b)) if plus => Ok(Value::String(format!("{a}{b}"))),
        (Value::Number(a), Value::Number(b)) => {
            let int = match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) if plus => x.checked_add(y),
                (Some(x), Some(y)) => x.checked_sub(y),
                _ => None,
            };
            if let Some(i) = int {
                return Ok(Value::from(i));
            }
            let (x, y) = a.as_f64().zip(b.as_f64()).ok_or_else(bad)?;
            let f = if plus { x + y } else { x - y };
            serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

/// expr-lang equality: numbers by value (1 == 1.0), everything else structurally.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry() -> Entry {
        let mut e = Entry::new(json!({"msg": "GET /x", "n": 3, "tag": "F"}), 1);
        e.attributes.insert("level".into(), json!("debug"));
        e.attributes.insert("k8s.pod".into(), json!("p1"));
        e
    }

    fn t(src: &str) -> bool {
        Expr::compile(src).unwrap().eval(&entry()).unwrap()
    }

    #[test]
    fn the_forms_of_otelcols_docs() {
        assert!(t(r#"attributes.level == "debug""#));
        assert!(t(r#"attributes["k8s.pod"] != nil"#));
        assert!(t(r#"attributes["missing"] == nil"#));
        assert!(t(r#"body.msg matches "^GET ""#));
        assert!(t("body.tag == 'F'"));
        assert!(t(r#"body.msg startsWith "GET" and body.msg endsWith "/x""#));
        assert!(t(r#"body.msg contains "/" && !(body.n < 3)"#));
        assert!(t(r#"not (attributes.level in ["info", "warn"]) || false"#));
        assert!(t(r#"attributes.level not in ["info"]"#));
        assert!(t(r#""level" in attributes and $.n >= 3.0 and body.n == 3"#));
        assert!(t(r#"body.msg not matches "^POST""#));
        assert!(!t(
            r#"body.n > 3 or body.msg == env("FERROTEL_UNSET_VARIABLE")"#
        ));
    }

    #[test]
    fn values_add_and_join() {
        let v = |src: &str| Expr::compile_value(src).unwrap().value(&entry()).unwrap();
        assert_eq!(v(r#"body.msg + "-" + body.tag"#), json!("GET /x-F"));
        assert_eq!(v("body.n + 2 - 1"), json!(4));
        assert_eq!(v("body.n + 0.5"), json!(3.5));
        assert_eq!(v("body"), entry().body);
        assert!(t("body.n + 1 == 4 and body.tag + \"x\" == \"Fx\""));
        let err = |src: &str| {
            Expr::compile_value(src)
                .unwrap()
                .value(&entry())
                .unwrap_err()
        };
        assert_eq!(err("body.msg + 1"), "invalid operation: string + number");
        assert_eq!(
            err("body.missing + \"x\""),
            "invalid operation: nil + string"
        );
        assert_eq!(
            err("body.tag - \"x\""),
            "invalid operation: string - string"
        );
    }

    #[test]
    fn runtime_errors_are_errors_not_panics() {
        let e = entry();
        let err = |src: &str| Expr::compile(src).unwrap().eval(&e).unwrap_err();
        assert!(err("body.n matches \"x\"").contains("matches"));
        assert!(err("body.msg.x == 1").contains("cannot fetch x from string"));
        assert!(err("body.msg").contains("expected bool"));
        assert!(err("body.n < \"a\"").contains("invalid operation"));
    }

    #[test]
    fn outside_the_subset_is_a_config_error_naming_the_expression() {
        for (src, want) in [
            ("level == 'x'", "unknown name 'level'"),
            ("body.a * 1 == 2", "unsupported character '*'"),
            ("body.a + 1", "expected bool"),
            ("body matches attributes.x", "quoted pattern"),
            ("body matches \"(\"", "compiling regex"),
            ("len(body) > 1", "unknown name 'len'"),
            ("\"text\"", "expected bool"),
            ("body == \"x", "unterminated string"),
            ("(".repeat(100_000).as_str(), "nested deeper than 64"),
            ("!".repeat(100_000).as_str(), "nested deeper than 64"),
        ] {
            let e = Expr::compile(src).unwrap_err();
            assert!(
                e.contains(want) && e.contains(&format!("{src:?}")),
                "{src}: {e}"
            );
        }
    }
}
