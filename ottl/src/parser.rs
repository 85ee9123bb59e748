//! A recursive-descent parser for otelcol's OTTL grammar (pkg/ottl/grammar.go): statements
//! (`editor(args) where condition`), boolean expressions (`or` over `and` over optionally
//! negated comparisons, constants, converter calls and parenthesised expressions), values
//! (literals, paths with keys, converter calls, math with `*`/`/` binding tighter than `+`/`-`,
//! unary signs, lists, maps, enums), named arguments and lambda arguments (`(k, v) => body`, whose
//! parameters are resolved here: a one-segment path naming a parameter of an enclosing lambda
//! reads that parameter, shadowing the path). Where the grammar has alternatives the
//! parser backtracks, reporting the failure that got furthest, as otelcol's parser does.
//! Nesting is bounded, so no input can exhaust the stack.

use crate::ast::{
    Arg, ArgValue, BoolExpr, Call, CmpOp, Field, Key, Lambda, LambdaBody, MathOp, Param, Path,
    Statement, Value,
};
use crate::error::ParseError;
use crate::lexer::{lex, Tok, Token};

/// Deepest nesting of parentheses, calls, lists and maps accepted.
const MAX_DEPTH: usize = 64;

type PResult<T> = Result<T, ParseError>;

/// Parses a condition (a boolean expression, as in `where` clauses and `conditions:` lists).
pub fn parse_condition(src: &str) -> PResult<BoolExpr> {
    let mut p = Parser::new(src)?;
    let e = p.bool_expr()?;
    p.eof()?;
    Ok(e)
}

/// Parses a statement: an editor call with an optional `where` condition.
pub fn parse_statement(src: &str) -> PResult<Statement> {
    let mut p = Parser::new(src)?;
    let s = p.statement()?;
    p.eof()?;
    Ok(s)
}

/// Words that are never paths.
const KEYWORDS: &[&str] = &["nil", "true", "false", "not", "and", "or", "where"];

/// otelcol's Lowercase token: `[a-z][a-z0-9_]*`.
fn is_lower(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_lowercase())
        && w.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// An argument name: a Lowercase token, possibly followed by upper-case letters
/// (`resolveConflicts`, `replacementFormat`), as otelcol's grammar allows.
fn is_argument_name(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_lowercase())
        && w.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// otelcol's Uppercase token: `[A-Z][A-Z0-9_]*` (an enum symbol).
fn is_upper(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_uppercase())
        && w.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

fn starts_upper(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_uppercase())
}

/// The error that got further into the source.
fn furthest(a: ParseError, b: ParseError) -> ParseError {
    if (b.line, b.column) > (a.line, a.column) {
        b
    } else {
        a
    }
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    /// The parameters of the lambdas being parsed, innermost last (`None` for `_`).
    scopes: Vec<Vec<Option<String>>>,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str) -> PResult<Self> {
        Ok(Parser {
            src,
            toks: lex(src)?,
            i: 0,
            depth: 0,
            scopes: Vec::new(),
        })
    }

    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let last = self.toks.len() - 1;
        &self.toks[(self.i + n).min(last)].tok
    }

    fn at(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].at
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn unexpected(&self, expected: &str) -> ParseError {
        let tok = self.peek().describe();
        ParseError::at(
            self.src,
            self.at(),
            format!("unexpected token {tok:?} (expected {expected})"),
        )
    }

    fn expect(&mut self, tok: Tok, expected: &str) -> PResult<()> {
        if *self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word(x) if x == w)
    }

    fn eof(&self) -> PResult<()> {
        match self.peek() {
            Tok::Eof => Ok(()),
            _ => Err(self.unexpected("end of input")),
        }
    }

    /// Runs `f` one nesting level deeper, refusing past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::at(
                self.src,
                self.at(),
                format!("expression nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn statement(&mut self) -> PResult<Statement> {
        let Tok::Word(name) = self.peek().clone() else {
            return Err(self.unexpected("an editor call"));
        };
        let call = self.call()?;
        if starts_upper(&name) {
            return Err(ParseError::at(
                self.src,
                call.at,
                format!("editor names must start with a lowercase letter but got '{name}'"),
            ));
        }
        if !call.keys.is_empty() {
            return Err(ParseError::at(
                self.src,
                call.at,
                format!("only paths and converters may be indexed, not editors, but got {name}"),
            ));
        }
        let condition = if self.is_word("where") {
            self.bump();
            Some(self.bool_expr()?)
        } else {
            None
        };
        Ok(Statement {
            editor: call,
            condition,
        })
    }

    fn bool_expr(&mut self) -> PResult<BoolExpr> {
        self.nested(|p| {
            let mut terms = vec![p.term()?];
            while p.is_word("or") {
                p.bump();
                terms.push(p.term()?);
            }
            Ok(if terms.len() == 1 {
                terms.remove(0)
            } else {
                BoolExpr::Or(terms)
            })
        })
    }

    fn term(&mut self) -> PResult<BoolExpr> {
        let mut values = vec![self.bool_value()?];
        while self.is_word("and") {
            self.bump();
            values.push(self.bool_value()?);
        }
        Ok(if values.len() == 1 {
            values.remove(0)
        } else {
            BoolExpr::And(values)
        })
    }

    /// `not? (comparison | true | false | Converter(...) | '(' bool_expr ')')`.
    fn bool_value(&mut self) -> PResult<BoolExpr> {
        let negated = self.is_word("not");
        if negated {
            self.bump();
        }
        let start = self.i;
        let e = match self.comparison() {
            Ok(c) => c,
            Err(e1) => {
                self.i = start;
                self.const_or_sub().map_err(|e2| furthest(e1, e2))?
            }
        };
        Ok(if negated {
            BoolExpr::Not(Box::new(e))
        } else {
            e
        })
    }

    fn comparison(&mut self) -> PResult<BoolExpr> {
        let left = self.value()?;
        let Tok::Cmp(op) = *self.peek() else {
            return Err(self.unexpected("a comparison operator"));
        };
        self.bump();
        let right = self.value()?;
        Ok(BoolExpr::Compare(Box::new(left), op, Box::new(right)))
    }

    fn const_or_sub(&mut self) -> PResult<BoolExpr> {
        match self.peek().clone() {
            Tok::Word(w) if w == "true" || w == "false" => {
                self.bump();
                Ok(BoolExpr::Const(w == "true"))
            }
            Tok::Word(w) if starts_upper(&w) && *self.peek_at(1) == Tok::LParen => {
                Ok(BoolExpr::Converter(self.call()?))
            }
            Tok::LParen => {
                self.bump();
                let e = self.bool_expr()?;
                self.expect(Tok::RParen, "\")\"")?;
                Ok(e)
            }
            _ => Err(self.unexpected("a boolean expression")),
        }
    }

    fn value(&mut self) -> PResult<Value> {
        let v = match self.peek().clone() {
            Tok::Word(w) if w == "nil" => Value::Nil,
            Tok::Word(w) if w == "true" || w == "false" => Value::Bool(w == "true"),
            Tok::Word(w) if is_upper(&w) && *self.peek_at(1) != Tok::LParen => Value::Enum(w),
            Tok::Str(s) => Value::Str(s),
            Tok::Bytes(b) => Value::Bytes(b),
            Tok::LBrace => return self.nested(Self::map),
            Tok::LBracket => return self.nested(Self::list),
            _ => return self.math_expr(),
        };
        self.bump();
        Ok(v)
    }

    fn map(&mut self) -> PResult<Value> {
        self.expect(Tok::LBrace, "\"{\"")?;
        let mut items = Vec::new();
        while *self.peek() != Tok::RBrace {
            let Tok::Str(key) = self.peek().clone() else {
                return Err(self.unexpected("a string map key or \"}\""));
            };
            self.bump();
            self.expect(Tok::Colon, "\":\"")?;
            items.push((key, self.value()?));
            if *self.peek() == Tok::Comma {
                self.bump();
            }
        }
        self.bump();
        Ok(Value::Map(items))
    }

    fn list(&mut self) -> PResult<Value> {
        self.expect(Tok::LBracket, "\"[\"")?;
        let mut items = Vec::new();
        if *self.peek() != Tok::RBracket {
            items.push(self.value()?);
            while *self.peek() == Tok::Comma {
                self.bump();
                items.push(self.value()?);
            }
        }
        self.expect(Tok::RBracket, "\",\" or \"]\"")?;
        Ok(Value::List(items))
    }

    fn math_expr(&mut self) -> PResult<Value> {
        self.nested(|p| {
            let mut left = p.math_term()?;
            while let Tok::Math(op @ (MathOp::Add | MathOp::Sub)) = *p.peek() {
                p.bump();
                let right = p.math_term()?;
                left = Value::Math(Box::new(left), op, Box::new(right));
            }
            Ok(left)
        })
    }

    fn math_term(&mut self) -> PResult<Value> {
        let mut left = self.math_value()?;
        while let Tok::Math(op @ (MathOp::Mul | MathOp::Div)) = *self.peek() {
            self.bump();
            let right = self.math_value()?;
            left = Value::Math(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    /// A signed operand: `-` folds into a number literal, otherwise negates at evaluation.
    fn math_value(&mut self) -> PResult<Value> {
        let sign = match *self.peek() {
            Tok::Math(op @ (MathOp::Add | MathOp::Sub)) => {
                self.bump();
                Some(op)
            }
            _ => None,
        };
        let negative = sign == Some(MathOp::Sub);
        let v = match *self.peek() {
            Tok::LParen => {
                self.bump();
                let e = self.math_expr()?;
                self.expect(Tok::RParen, "\")\"")?;
                e
            }
            Tok::Int(n) => {
                let v = self.int_literal(n, negative)?;
                self.bump();
                return Ok(v);
            }
            _ => self.operand()?,
        };
        Ok(match (negative, v) {
            (true, Value::Float(f)) => Value::Float(-f),
            (true, v) => Value::Neg(Box::new(v)),
            (false, v) => v,
        })
    }

    /// A number, a path or a converter call.
    fn operand(&mut self) -> PResult<Value> {
        match self.peek().clone() {
            Tok::Int(n) => {
                self.bump();
                self.int_literal(n, false)
            }
            Tok::Float(f) => {
                self.bump();
                Ok(Value::Float(f))
            }
            Tok::Word(w) if *self.peek_at(1) == Tok::LParen => {
                let call = self.call()?;
                if !starts_upper(&w) {
                    return Err(ParseError::at(
                        self.src,
                        call.at,
                        format!(
                            "converter names must start with an uppercase letter but got '{w}'"
                        ),
                    ));
                }
                Ok(Value::Converter(call))
            }
            Tok::Word(w) if is_lower(&w) && !KEYWORDS.contains(&w.as_str()) => {
                let path = self.path()?;
                Ok(self.param(&path).unwrap_or(Value::Path(path)))
            }
            _ => Err(self.unexpected("a value")),
        }
    }

    /// An integer literal, `negative` when a minus sign precedes it.
    fn int_literal(&self, n: u64, negative: bool) -> PResult<Value> {
        let v = if negative {
            0i64.checked_sub_unsigned(n)
        } else {
            i64::try_from(n).ok()
        };
        v.map(Value::Int).ok_or_else(|| {
            ParseError::at(self.src, self.at(), format!("integer {n} is out of range"))
        })
    }

    fn path(&mut self) -> PResult<Path> {
        let at = self.at();
        let mut fields = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::Word(name) if is_lower(&name) => {
                    self.bump();
                    let keys = self.keys()?;
                    fields.push(Field { name, keys });
                }
                _ => return Err(self.unexpected("a lower-case path segment")),
            }
            if *self.peek() != Tok::Dot {
                return Ok(Path { fields, at });
            }
            self.bump();
        }
    }

    fn keys(&mut self) -> PResult<Vec<Key>> {
        let mut keys = Vec::new();
        while *self.peek() == Tok::LBracket {
            self.bump();
            let key = match (self.peek().clone(), self.peek_at(1).clone()) {
                (Tok::Str(s), Tok::RBracket) => {
                    self.bump();
                    Key::Str(s)
                }
                (Tok::Int(n), Tok::RBracket) => {
                    self.bump();
                    Key::Int(self.key_int(n, false)?)
                }
                (Tok::Math(MathOp::Sub), Tok::Int(n)) if *self.peek_at(2) == Tok::RBracket => {
                    self.bump();
                    self.bump();
                    Key::Int(self.key_int(n, true)?)
                }
                (Tok::Word(_) | Tok::LParen, _) => {
                    Key::Expr(Box::new(self.nested(Self::math_expr)?))
                }
                _ => return Err(self.unexpected("a string or integer key, a path or a converter")),
            };
            self.expect(Tok::RBracket, "\"]\"")?;
            keys.push(key);
        }
        Ok(keys)
    }

    fn key_int(&self, n: u64, negative: bool) -> PResult<i64> {
        match self.int_literal(n, negative)? {
            Value::Int(i) => Ok(i),
            _ => Err(self.unexpected("an integer key")),
        }
    }

    /// `Name(args) [keys]`, for editors and converters alike.
    fn call(&mut self) -> PResult<Call> {
        let at = self.at();
        let Tok::Word(name) = self.bump() else {
            return Err(self.unexpected("a function name"));
        };
        self.expect(Tok::LParen, "\"(\"")?;
        let args = self.nested(Self::args)?;
        let keys = self.keys()?;
        Ok(Call {
            name,
            args,
            keys,
            at,
        })
    }

    /// Arguments after `(`, through `)`.
    fn args(&mut self) -> PResult<Vec<Arg>> {
        let mut args = Vec::new();
        if *self.peek() == Tok::RParen {
            self.bump();
            return Ok(args);
        }
        loop {
            args.push(self.arg()?);
            match self.bump() {
                Tok::Comma => continue,
                Tok::RParen => return Ok(args),
                _ => {
                    self.i -= 1;
                    return Err(self.unexpected("\",\" or \")\""));
                }
            }
        }
    }

    fn arg(&mut self) -> PResult<Arg> {
        let name = match (self.peek().clone(), self.peek_at(1)) {
            (Tok::Word(w), Tok::Equal) if is_argument_name(&w) => {
                self.bump();
                self.bump();
                Some(w)
            }
            _ => None,
        };
        if self.lambda_ahead() {
            let lambda = self.nested(Self::lambda)?;
            return Ok(Arg {
                name,
                value: ArgValue::Value(Value::Lambda(Box::new(lambda))),
            });
        }
        let value = match self.peek().clone() {
            Tok::Word(w)
                if starts_upper(&w) && !is_upper(&w) && *self.peek_at(1) != Tok::LParen =>
            {
                self.bump();
                ArgValue::Function(w)
            }
            _ => ArgValue::Value(self.value()?),
        };
        Ok(Arg { name, value })
    }
}

/// Lambda expressions (otelcol's `LambdaExpression` arguments).
impl Parser<'_> {
    /// Whether a lambda starts here: `(` words separated by commas `)` `=>`, or `() =>`.
    fn lambda_ahead(&self) -> bool {
        if *self.peek() != Tok::LParen {
            return false;
        }
        let mut n = 1;
        if *self.peek_at(n) != Tok::RParen {
            loop {
                if !matches!(self.peek_at(n), Tok::Word(_)) {
                    return false;
                }
                n += 1;
                match self.peek_at(n) {
                    Tok::Comma => n += 1,
                    Tok::RParen => break,
                    _ => return false,
                }
            }
        }
        *self.peek_at(n + 1) == Tok::Arrow
    }

    /// `(p1, p2) => body`: parameters are lower-case names (`_` binds nothing), each name once.
    fn lambda(&mut self) -> PResult<Lambda> {
        let at = self.at();
        self.expect(Tok::LParen, "\"(\"")?;
        let mut params: Vec<Option<String>> = Vec::new();
        while let Tok::Word(w) = self.peek().clone() {
            let p_at = self.at();
            self.bump();
            if w == "_" {
                params.push(None);
            } else if !is_lower(&w) || KEYWORDS.contains(&w.as_str()) {
                let m =
                    format!("invalid lambda parameter {w:?}: parameters are lower-case names or _");
                return Err(ParseError::at(self.src, p_at, m));
            } else if params.iter().flatten().any(|p| *p == w) {
                let m = format!("duplicate lambda parameter {w:?}");
                return Err(ParseError::at(self.src, p_at, m));
            } else {
                params.push(Some(w));
            }
            if *self.peek() == Tok::Comma {
                self.bump();
            }
        }
        self.expect(Tok::RParen, "\")\"")?;
        self.expect(Tok::Arrow, "\"=>\"")?;
        self.scopes.push(params);
        let body = self.lambda_body();
        let params = self.scopes.pop().unwrap_or_default();
        Ok(Lambda {
            params,
            body: body?,
            at,
        })
    }

    /// A lambda's body: a boolean expression when it is one (a comparison, `not`, `and`, `or`),
    /// otherwise a value (a lone converter call or `true` is a value).
    fn lambda_body(&mut self) -> PResult<LambdaBody> {
        let start = self.i;
        let ends = |p: &Self| matches!(p.peek(), Tok::Comma | Tok::RParen);
        let as_bool = match self.bool_expr() {
            Ok(BoolExpr::Converter(_) | BoolExpr::Const(_)) => None,
            Ok(e) if ends(self) => return Ok(LambdaBody::Bool(e)),
            Ok(_) => None,
            Err(e) => Some(e),
        };
        self.i = start;
        match self.value() {
            Ok(v) => Ok(LambdaBody::Value(v)),
            Err(e) => Err(match as_bool {
                Some(b) => furthest(e, b),
                None => e,
            }),
        }
    }

    /// The parameter a one-segment path names, from the innermost lambda out.
    fn param(&self, path: &Path) -> Option<Value> {
        let [field] = path.fields.as_slice() else {
            return None;
        };
        self.scopes
            .iter()
            .rev()
            .enumerate()
            .find_map(|(up, scope)| {
                let index = scope
                    .iter()
                    .position(|p| p.as_deref() == Some(field.name.as_str()))?;
                Some(Value::Param(Param {
                    name: field.name.clone(),
                    up,
                    index,
                    keys: field.keys.clone(),
                }))
            })
    }
}

impl CmpOp {
    /// Whether `op` holds for an [`Ordering`](std::cmp::Ordering).
    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }
}
