//! The OTTL lexer: otelcol's token classes (bytes `0x..`, floats, ints, quoted strings with Go
//! escapes, comparison and math operators, `=>` of lambdas, punctuation, identifiers and `_`),
//! each with its byte offset.
//! Words are one token (`IsMatch`, `attributes`, `SPAN_KIND_SERVER`); the parser decides what a
//! word may be from its case, as otelcol's Uppercase / Lowercase token classes do.

use crate::ast::{CmpOp, MathOp};
use crate::error::ParseError;

/// A token's kind and value.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Bytes(Vec<u8>),
    Float(f64),
    /// An unsigned integer literal: a sign is a unary operator, folded by the parser.
    Int(u64),
    Str(String),
    Word(String),
    Cmp(CmpOp),
    Math(MathOp),
    Equal,
    /// `=>`, between a lambda's parameters and its body.
    Arrow,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Colon,
    Comma,
    Dot,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Bytes(b) => format!("0x{}", hex::encode(b)),
            Tok::Float(f) => f.to_string(),
            Tok::Int(i) => i.to_string(),
            Tok::Str(s) => format!("{s:?}"),
            Tok::Word(w) => w.clone(),
            Tok::Cmp(op) => op.as_str().into(),
            Tok::Math(op) => op.as_str().into(),
            Tok::Equal => "=".into(),
            Tok::Arrow => "=>".into(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::LBrace => "{".into(),
            Tok::RBrace => "}".into(),
            Tok::LBracket => "[".into(),
            Tok::RBracket => "]".into(),
            Tok::Colon => ":".into(),
            Tok::Comma => ",".into(),
            Tok::Dot => ".".into(),
            Tok::Eof => "<EOF>".into(),
        }
    }
}

/// A token and the byte offset it starts at.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub at: usize,
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = if c == b'0' && b.get(i + 1) == Some(&b'x') && hex_at(b, i + 2) {
            i += 2;
            let from = i;
            while hex_at(b, i) {
                i += 1;
            }
            bytes_literal(&src[from..i]).map_err(|m| ParseError::at(src, start, m))?
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let (tok, end) = number(src, i)?;
            i = end;
            tok
        } else if c == b'"' {
            let (s, end) = string(src, i)?;
            i = end;
            Tok::Str(s)
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            Tok::Word(src[start..i].to_string())
        } else {
            let (tok, len) = punct(b, i).ok_or_else(|| {
                let ch = src[i..].chars().next().unwrap_or(' ');
                ParseError::at(
                    src,
                    start,
                    format!("invalid input text {:?}", ch.to_string()),
                )
            })?;
            i += len;
            tok
        };
        out.push(Token { tok, at: start });
    }
    out.push(Token {
        tok: Tok::Eof,
        at: src.len(),
    });
    Ok(out)
}

fn hex_at(b: &[u8], i: usize) -> bool {
    b.get(i).is_some_and(u8::is_ascii_hexdigit)
}

fn bytes_literal(digits: &str) -> Result<Tok, String> {
    hex::decode(digits)
        .map(Tok::Bytes)
        .map_err(|e| format!("invalid bytes literal 0x{digits}: {e}"))
}

/// `\d*\.\d+([eE][-+]?\d+)?` or `\d+`, from `i`.
fn number(src: &str, mut i: usize) -> Result<(Tok, usize), ParseError> {
    let b = src.as_bytes();
    let start = i;
    let digits = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    let is_float = b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit);
    if !is_float {
        let text = &src[start..i];
        let n = text
            .parse::<u64>()
            .map_err(|_| ParseError::at(src, start, format!("integer {text} is out of range")))?;
        return Ok((Tok::Int(n), i));
    }
    i += 1;
    digits(&mut i);
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            i = j;
            digits(&mut i);
        }
    }
    let text = &src[start..i];
    let f = text
        .parse::<f64>()
        .map_err(|_| ParseError::at(src, start, format!("invalid float {text}")))?;
    Ok((Tok::Float(f), i))
}

/// A double-quoted string from `i` (at the quote), unquoted with Go's escapes.
fn string(src: &str, i: usize) -> Result<(String, usize), ParseError> {
    let mut out = String::new();
    let mut chars = src[i + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1 + off + 1)),
            '\\' => {
                let esc_at = i + 1 + off;
                let e = chars
                    .next()
                    .map(|(_, e)| e)
                    .ok_or_else(|| ParseError::at(src, i, "unterminated string"))?;
                let ch = escape(e, &mut chars)
                    .map_err(|m| ParseError::at(src, esc_at, format!("invalid string: {m}")))?;
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    Err(ParseError::at(src, i, "unterminated string"))
}

/// The character of escape `\e`; reads the digits of `\x`, `\u`, `\U` and octal escapes.
fn escape(e: char, chars: &mut std::str::CharIndices<'_>) -> Result<char, String> {
    let mut take = |n: usize, radix: u32| -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = chars
                .next()
                .and_then(|(_, c)| c.to_digit(radix))
                .ok_or_else(|| format!("incomplete escape \\{e}"))?;
            v = v * radix + d;
        }
        Ok(v)
    };
    let code = match e {
        'a' => 7,
        'b' => 8,
        'f' => 12,
        'n' => 10,
        'r' => 13,
        't' => 9,
        'v' => 11,
        '\\' => 92,
        '"' => 34,
        'x' => take(2, 16)?,
        'u' => take(4, 16)?,
        'U' => take(8, 16)?,
        '0'..='7' => {
            let rest = take(2, 8)?;
            let v = e.to_digit(8).unwrap_or(0) * 64 + rest;
            if v > 255 {
                return Err(format!("octal escape \\{e}.. out of range"));
            }
            v
        }
        other => return Err(format!("unknown escape \\{other}")),
    };
    char::from_u32(code).ok_or_else(|| format!("escape \\{e} is not a valid character"))
}

/// Operators and punctuation at `i`: the token and its length.
fn punct(b: &[u8], i: usize) -> Option<(Tok, usize)> {
    let two = b.get(i..i + 2);
    let cmp2 = match two {
        Some(b"==") => Some(CmpOp::Eq),
        Some(b"!=") => Some(CmpOp::Ne),
        Some(b">=") => Some(CmpOp::Ge),
        Some(b"<=") => Some(CmpOp::Le),
        _ => None,
    };
    if let Some(op) = cmp2 {
        return Some((Tok::Cmp(op), 2));
    }
    if two == Some(b"=>") {
        return Some((Tok::Arrow, 2));
    }
    let tok = match b[i] {
        b'>' => Tok::Cmp(CmpOp::Gt),
        b'<' => Tok::Cmp(CmpOp::Lt),
        b'+' => Tok::Math(MathOp::Add),
        b'-' => Tok::Math(MathOp::Sub),
        b'*' => Tok::Math(MathOp::Mul),
        b'/' => Tok::Math(MathOp::Div),
        b'=' => Tok::Equal,
        b'(' => Tok::LParen,
        b')' => Tok::RParen,
        b'{' => Tok::LBrace,
        b'}' => Tok::RBrace,
        b'[' => Tok::LBracket,
        b']' => Tok::RBracket,
        b':' => Tok::Colon,
        b',' => Tok::Comma,
        b'.' => Tok::Dot,
        _ => return None,
    };
    Some((tok, 1))
}
