//! Errors: a parse error with its position, a compile error (unknown path, function or enum,
//! bad arguments) and an evaluation error; each names the statement or condition it is about
//! when it reaches the user.

use std::fmt;

/// A syntax error at a position of the source (`1:19`, line and column counted from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ParseError {
    /// An error at byte offset `at` of `src`.
    pub fn at(src: &str, at: usize, message: impl Into<String>) -> Self {
        let at = at.min(src.len());
        let before = src.get(..at).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// Why a condition or statement was refused at config time, naming it as otelcol does
/// (`unable to parse OTTL condition "...": 1:19: unexpected token "="`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse OTTL {kind} {text:?}: {message}")]
pub struct Error {
    /// `condition` or `statement`.
    pub kind: &'static str,
    /// The condition or statement as written.
    pub text: String,
    /// What is wrong, with the position for syntax errors.
    pub message: String,
}

/// A failure while evaluating (a type a function cannot take, an index out of range, a division
/// by zero). What happens next is the error mode's choice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

impl EvalError {
    pub fn new(message: impl Into<String>) -> Self {
        EvalError(message.into())
    }
}
