//! Format(formatString, formatArguments[]): Go's `fmt.Sprintf` for OTTL values: verbs `%v %s
//! %d %f %F %e %E %g %x %X %o %b %q %t %c %%`, flags `- + 0 space #`, width and precision.
//! Go's markers for mistakes are kept: `%!d(MISSING)`, `%!d(string=x)`,
//! `%!(EXTRA int64=1)`. Width and precision are capped so the output stays bounded.

use super::{arg, str_value};
use crate::error::EvalError;
use crate::funcs::string_arg;
use crate::value::{go_float, Value};

/// Widths and precisions above this are cut to it.
const MAX_WIDTH: usize = 1024;

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `Format(formatString, formatArguments[])`
pub fn format<'a>(vals: &[Option<Value<'a>>]) -> Result<Value<'a>, EvalError> {
    let fmt = string_arg(arg(vals, 0))?;
    let list = arg(vals, 1);
    let args: Vec<Value<'_>> = match &list {
        Value::List(l) => l.iter().map(Value::from_any).collect(),
        Value::Nil => Vec::new(),
        other => return Err(super::expected("pcommon.Slice", other)),
    };
    let mut out = String::new();
    let mut next = 0;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        spec.width = number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(v) => out.push_str(&pad(&spec, verb, render(&spec, verb, v))),
        }
        next += 1;
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|v| format!("{}={}", v.type_name(), plain(v)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    Ok(str_value(out))
}

fn number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some((n.unwrap_or(0) * 10 + d as usize).min(MAX_WIDTH));
        chars.next();
    }
    n
}

fn plain(v: &Value<'_>) -> String {
    match v {
        Value::Float(f) => go_g(*f, None),
        other => super::strings::plain(other),
    }
}

/// One argument under one verb; a mismatch reads as Go writes it (`%!d(string=x)`).
fn render(spec: &Spec, verb: char, v: &Value<'_>) -> String {
    let bad = || format!("%!{verb}({}={})", v.type_name(), plain(v));
    let signed = |s: String, neg: bool| match (neg, spec.plus, spec.space) {
        (true, _, _) => format!("-{s}"),
        (false, true, _) => format!("+{s}"),
        (false, false, true) => format!(" {s}"),
        _ => s,
    };
    match (verb, v) {
        ('v', Value::Float(f)) => go_g(*f, spec.prec),
        ('v', other) => plain(other),
        ('s', Value::Str(s)) => match spec.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        },
        ('q', Value::Str(s)) => format!("{s:?}"),
        ('t', Value::Bool(b)) => b.to_string(),
        ('d', Value::Int(i)) => signed(i.unsigned_abs().to_string(), *i < 0),
        ('b', Value::Int(i)) => signed(format!("{:b}", i.unsigned_abs()), *i < 0),
        ('o', Value::Int(i)) => signed(format!("{:o}", i.unsigned_abs()), *i < 0),
        ('x', Value::Int(i)) => signed(format!("{:x}", i.unsigned_abs()), *i < 0),
        ('X', Value::Int(i)) => signed(format!("{:X}", i.unsigned_abs()), *i < 0),
        ('c', Value::Int(i)) => u32::try_from(*i)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{fffd}')
            .to_string(),
        ('x', Value::Str(s)) => hex::encode(s.as_bytes()),
        ('X', Value::Str(s)) => hex::encode_upper(s.as_bytes()),
        ('x', Value::Bytes(b)) => hex::encode(b),
        ('X', Value::Bytes(b)) => hex::encode_upper(b),
        ('f' | 'F', Value::Float(f)) => float(spec, *f, |p, a| format!("{a:.p$}")),
        ('e', Value::Float(f)) => float(spec, *f, |p, a| go_exp(format!("{a:.p$e}"))),
        ('E', Value::Float(f)) => float(spec, *f, |p, a| go_exp(format!("{a:.p$E}"))),
        ('g', Value::Float(f)) => go_g(*f, spec.prec),
        _ => bad(),
    }
}

fn float(spec: &Spec, f: f64, fmt: impl Fn(usize, f64) -> String) -> String {
    if !f.is_finite() {
        return go_float(f);
    }
    let s = fmt(spec.prec.unwrap_or(6), f.abs());
    match (f.is_sign_negative(), spec.plus, spec.space) {
        (true, _, _) => format!("-{s}"),
        (false, true, _) => format!("+{s}"),
        (false, false, true) => format!(" {s}"),
        _ => s,
    }
}

/// Rust writes exponents as `e5`, Go as `e+05`.
fn go_exp(s: String) -> String {
    let Some(at) = s.find(['e', 'E']) else {
        return s;
    };
    let (mantissa, exp) = s.split_at(at);
    let (e, digits) = exp.split_at(1);
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("+", digits),
    };
    format!("{mantissa}{e}{sign}{digits:0>2}")
}

/// Go's `%g` (and `%v`): the shortest form, or `prec` significant digits, trailing zeros
/// dropped; an exponent when it is below -4 or not below the precision (6 for the shortest
/// form, so `1e+08`).
fn go_g(f: f64, prec: Option<usize>) -> String {
    if !f.is_finite() {
        return go_float(f);
    }
    let exp = if f == 0.0 {
        0
    } else {
        f.abs().log10().floor() as i32
    };
    let limit = prec.map_or(6, |p| p.max(1) as i32);
    if exp < -4 || exp >= limit {
        return match prec {
            Some(p) => go_exp(trim_mantissa(format!("{:.*e}", p.max(1) - 1, f))),
            None => go_exp(format!("{f:e}")),
        };
    }
    match prec {
        Some(p) => {
            let decimals = (p.max(1) as i32 - 1 - exp).max(0) as usize;
            trim_fraction(format!("{f:.decimals$}"))
        }
        None => format!("{f}"),
    }
}

/// Drops trailing zeros after a decimal point (and the point).
fn trim_fraction(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Drops trailing zeros from the mantissa of `1.500e3`.
fn trim_mantissa(s: String) -> String {
    match s.split_once(['e', 'E']) {
        Some((m, e)) => format!("{}e{e}", trim_fraction(m.to_string())),
        None => s,
    }
}

/// Pads to the width: spaces on the left, on the right with `-`, zeros after the sign with `0`.
fn pad(spec: &Spec, verb: char, s: String) -> String {
    let Some(width) = spec.width else {
        return s;
    };
    let len = s.chars().count();
    if len >= width {
        return s;
    }
    let fill = width - len;
    if spec.minus {
        return format!("{s}{}", " ".repeat(fill));
    }
    let numeric = matches!(
        verb,
        'd' | 'b' | 'o' | 'x' | 'X' | 'f' | 'F' | 'e' | 'E' | 'g'
    );
    if spec.zero && numeric && !s.starts_with('%') {
        let sign_len = usize::from(s.starts_with(['-', '+', ' ']));
        let (sign, digits) = s.split_at(sign_len);
        return format!("{sign}{}{digits}", "0".repeat(fill));
    }
    format!("{}{s}", " ".repeat(fill))
}
