//! The parsed form of OTTL statements and conditions, as otelcol's grammar defines them, before
//! paths and functions are resolved against a context.

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn reversed(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            op => op,
        }
    }
}

/// A math operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl MathOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MathOp::Add => "+",
            MathOp::Sub => "-",
            MathOp::Mul => "*",
            MathOp::Div => "/",
        }
    }
}

/// An editor statement: `set(attributes["x"], 1) where name == "a"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub editor: Call,
    pub condition: Option<BoolExpr>,
}

/// A boolean expression: `or` of `and` of (possibly negated) comparisons, constants, converter
/// calls and parenthesised sub-expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum BoolExpr {
    Or(Vec<BoolExpr>),
    And(Vec<BoolExpr>),
    Not(Box<BoolExpr>),
    Compare(Box<Value>, CmpOp, Box<Value>),
    Const(bool),
    /// A converter that must return a boolean.
    Converter(Call),
}

/// An editor or converter call, with the keys indexing a converter's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Arg>,
    pub keys: Vec<Key>,
    /// Byte offset of the name in the source.
    pub at: usize,
}

/// One argument, positional or `name = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<String>,
    pub value: ArgValue,
}

/// An argument's value: a value, or the name of a function passed as a reference (`Hex`).
#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    Value(Value),
    Function(String),
}

/// An index: `["key"]`, `[0]`, or an expression read at evaluation (`[attributes["k"]]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Str(String),
    Int(i64),
    Expr(Box<Value>),
}

/// A path: `attributes["http"]["route"]`, `resource.attributes["k"]`, `status.code`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub fields: Vec<Field>,
    /// Byte offset of the path in the source.
    pub at: usize,
}

impl Path {
    /// The path as written, without keys (`status.code`), for messages.
    pub fn dotted(&self) -> String {
        let names: Vec<&str> = self.fields.iter().map(|f| f.name.as_str()).collect();
        names.join(".")
    }
}

/// One segment of a path and its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub keys: Vec<Key>,
}

/// A value: a literal, a path, a converter call, math over them, a list or a map.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// An upper-case symbol such as `SPAN_KIND_SERVER`.
    Enum(String),
    Path(Path),
    Converter(Call),
    Math(Box<Value>, MathOp, Box<Value>),
    /// Unary minus over a non-literal (`-attributes["x"]`); a literal is folded.
    Neg(Box<Value>),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
    /// A lambda parameter read in a lambda's body, resolved when parsed.
    Param(Param),
    /// A lambda expression, `(k, v) => body`: only ever a function argument.
    Lambda(Box<Lambda>),
}

/// A reference to a lambda parameter: `up` lambdas out from the innermost one enclosing it
/// (0 for its own), the parameter's position there, and keys indexing its value (`v["k"]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub up: usize,
    pub index: usize,
    pub keys: Vec<Key>,
}

/// A lambda expression: its parameters (`None` for `_`, which binds nothing) and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Lambda {
    pub params: Vec<Option<String>>,
    pub body: LambdaBody,
    /// Byte offset of the lambda in the source.
    pub at: usize,
}

/// A lambda's body: a value (literal, converter, math, parameter, path) or a boolean
/// expression (a comparison, `and` / `or` / `not`).
#[derive(Debug, Clone, PartialEq)]
pub enum LambdaBody {
    Value(Value),
    Bool(BoolExpr),
}
