//! The XPath core functions [`super::super::FUNCTIONS`] lists.

use super::super::{Ctx, Eval, Expr, Sel, Val};
use crate::converters::xml_edit::tree::local_name;

/// XPath's `round`.
fn round(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// XPath's `substring(s, start, length)`: the characters at positions (from 1) in
/// `[round(start), round(start) + round(length))`.
fn substring(s: &str, start: f64, length: Option<f64>) -> String {
    let first = round(start);
    let end = length.map_or(f64::INFINITY, |l| first + round(l));
    s.chars()
        .enumerate()
        .filter(|(i, _)| {
            let p = (*i + 1) as f64;
            p >= first && p < end
        })
        .map(|(_, c)| c)
        .collect()
}

impl Eval<'_> {
    pub(super) fn call(&self, name: &str, args: &[Expr], ctx: Ctx) -> Val {
        let arg = |i: usize| self.eval(&args[i], ctx);
        let text = |i: usize| self.string(&arg(i));
        // The first node of the argument, or the context node.
        let node = || match args.first() {
            Some(e) => self.nodes(e, ctx).first().copied(),
            None => Some(ctx.node),
        };
        // The argument's string, or the context node's.
        let text_or_context = || match args.first() {
            Some(_) => text(0),
            None => self.string(&Val::Nodes(vec![ctx.node])),
        };
        match name {
            "not" => Val::Bool(!self.boolean(&arg(0))),
            "boolean" => Val::Bool(self.boolean(&arg(0))),
            "true" => Val::Bool(true),
            "false" => Val::Bool(false),
            "count" => Val::Num(self.nodes(&args[0], ctx).len() as f64),
            "position" => Val::Num(ctx.pos as f64),
            "last" => Val::Num(ctx.size as f64),
            "name" => Val::Str(node().map(|n| self.name_of(n)).unwrap_or_default()),
            "local-name" => Val::Str(
                node()
                    .map(|n| local_name(&self.name_of(n)).to_string())
                    .unwrap_or_default(),
            ),
            "string" => Val::Str(text_or_context()),
            "string-length" => Val::Num(text_or_context().chars().count() as f64),
            "normalize-space" => Val::Str(
                text_or_context()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            "number" => Val::Num(self.number(&Val::Str(text_or_context()))),
            "sum" => Val::Num(
                self.nodes(&args[0], ctx)
                    .into_iter()
                    .map(|n: Sel| self.number(&Val::Str(self.string_of(n))))
                    .sum(),
            ),
            "concat" => Val::Str((0..args.len()).map(text).collect()),
            "contains" => Val::Bool(text(0).contains(&text(1))),
            "starts-with" => Val::Bool(text(0).starts_with(&text(1))),
            "ends-with" => Val::Bool(text(0).ends_with(&text(1))),
            "substring-before" => {
                let (s, sep) = (text(0), text(1));
                Val::Str(
                    s.split_once(&sep)
                        .map(|(b, _)| b.to_string())
                        .unwrap_or_default(),
                )
            }
            "substring-after" => {
                let (s, sep) = (text(0), text(1));
                Val::Str(
                    s.split_once(&sep)
                        .map(|(_, a)| a.to_string())
                        .unwrap_or_default(),
                )
            }
            "substring" => {
                let length = (args.len() > 2).then(|| self.number(&arg(2)));
                Val::Str(substring(&text(0), self.number(&arg(1)), length))
            }
            "lower-case" => Val::Str(text(0).to_lowercase()),
            "upper-case" => Val::Str(text(0).to_uppercase()),
            _ => Val::Nodes(Vec::new()),
        }
    }
}
