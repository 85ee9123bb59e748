//! The operators wired as stanza wires them: each sends to the operators its `output` names,
//! else to the next one in the list; the last sends out of the pipeline. Ids are unique,
//! outputs must exist, and cycles are refused when the configuration loads.

use super::config::{OnError, OperatorConfig, OperatorKind, Outputs};
use super::container::{Container, Format};
use super::expr::Expr;
use super::flow::{Filter, Router};
use super::recombine::Recombine;
use super::{parser, Entry, Operator};
use std::collections::HashMap;

/// Where an entry goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Node(usize),
    Out,
}

/// What a node does.
pub enum Step {
    /// Changes the entry in place.
    Op(Box<dyn Operator>),
    Router(Router),
    Filter(Filter),
    Recombine(Recombine),
    /// Parses; CRI entries go on through its internal `recombine`.
    Container(Box<Container>),
    Noop,
}

struct Node {
    id: String,
    on_error: OnError,
    cond: Option<Expr>,
    step: Step,
    next: Vec<Target>,
}

/// The configured operators.
#[derive(Default)]
pub struct Pipeline {
    nodes: Vec<Node>,
}

type Work = Vec<(Target, Entry)>;

impl Pipeline {
    /// Runs an entry through the operators; what comes out (none if it was dropped or is held
    /// by `recombine`, several if routes fan out or `recombine` flushed) is appended to `out`.
    pub fn run(&self, mut e: Entry, out: &mut Vec<Entry>) {
        let mut at = if self.nodes.is_empty() {
            Target::Out
        } else {
            Target::Node(0)
        };
        // Operators that change the entry and send it to one place run without a work list.
        while let Target::Node(i) = at {
            let n = &self.nodes[i];
            let ([next], Step::Op(op)) = (n.next.as_slice(), &n.step) else {
                break;
            };
            let run = match n.cond.as_ref().map(|c| c.eval(&e)) {
                None | Some(Ok(true)) => op.process(&mut e),
                Some(Ok(false)) => Ok(()),
                Some(Err(err)) => Err(err),
            };
            if let Err(err) = run {
                if !passes_failed(n, &err) {
                    return;
                }
            }
            at = *next;
        }
        match at {
            Target::Out => out.push(e),
            node => self.drain(vec![(node, e)], out),
        }
    }

    /// Flushes what `recombine` operators held longer than their `force_flush_period`, as of
    /// `now` (nanoseconds since the epoch), through the rest of the pipeline.
    pub fn tick(&self, now: u64, out: &mut Vec<Entry>) {
        self.flush_with(out, |r, flushed| r.flush_expired(now, flushed));
    }

    /// Flushes everything `recombine` operators hold (at shutdown).
    pub fn flush_all(&self, out: &mut Vec<Entry>) {
        self.flush_with(out, Recombine::flush_all);
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn flush_with(&self, out: &mut Vec<Entry>, f: impl Fn(&Recombine, &mut Vec<Entry>)) {
        for n in &self.nodes {
            let r = match &n.step {
                Step::Recombine(r) => r,
                Step::Container(c) => c.recombine(),
                _ => continue,
            };
            let mut flushed = vec![];
            f(r, &mut flushed);
            let mut work = vec![];
            // The work list is a stack: pushed last, processed first.
            for e in flushed.into_iter().rev() {
                forward(&n.next, e, &mut work);
            }
            self.drain(work, out);
        }
    }

    fn drain(&self, mut work: Work, out: &mut Vec<Entry>) {
        while let Some((target, e)) = work.pop() {
            match target {
                Target::Out => out.push(e),
                Target::Node(i) => self.step(&self.nodes[i], e, &mut work),
            }
        }
    }

    fn step(&self, n: &Node, mut e: Entry, work: &mut Work) {
        let run = match n.cond.as_ref().map(|c| c.eval(&e)) {
            None | Some(Ok(true)) => true,
            Some(Ok(false)) => false,
            Some(Err(err)) => return failed(n, err, e, work),
        };
        if !run {
            return forward(&n.next, e, work);
        }
        match &n.step {
            Step::Op(op) => match op.process(&mut e) {
                Ok(()) => forward(&n.next, e, work),
                Err(err) => failed(n, err, e, work),
            },
            Step::Router(r) => {
                if let Some(targets) = r.route(&mut e, &n.id) {
                    forward(targets, e, work);
                }
            }
            Step::Filter(f) => match f.keep(&e) {
                Ok(true) => forward(&n.next, e, work),
                Ok(false) => {}
                Err(err) => failed(n, err, e, work),
            },
            Step::Recombine(r) => combine(n, r, e, work),
            Step::Container(c) => match c.parse(&mut e) {
                Ok(Format::Docker) => forward(&n.next, e, work),
                Ok(_) => combine(n, c.recombine(), e, work),
                Err(err) => failed(n, err, e, work),
            },
            Step::Noop => forward(&n.next, e, work),
        }
    }
}

/// Hands the entry to a `recombine`; what it completes goes on.
fn combine(n: &Node, r: &Recombine, e: Entry, work: &mut Work) {
    let matches = match r.matches(&e) {
        Ok(m) => m,
        Err(err) => return failed(n, err, e, work),
    };
    let mut flushed = vec![];
    r.add(e, matches, &mut flushed);
    for e in flushed.into_iter().rev() {
        forward(&n.next, e, work);
    }
}

/// Queues the entry for each target (copies for all but the first). The work list is a
/// stack: the first target is pushed last, so it is processed first.
fn forward(targets: &[Target], e: Entry, work: &mut Work) {
    let Some((first, rest)) = targets.split_first() else {
        return;
    };
    for t in rest.iter().rev() {
        work.push((*t, e.clone()));
    }
    work.push((*first, e));
}

/// `on_error`: pass the entry on or drop it, logging unless quiet.
fn failed(n: &Node, err: String, e: Entry, work: &mut Work) {
    if passes_failed(n, &err) {
        forward(&n.next, e, work);
    }
}

/// Logs a failure unless quiet; true if `on_error` sends the entry on.
fn passes_failed(n: &Node, err: &str) -> bool {
    if matches!(n.on_error, OnError::Send | OnError::Drop) {
        tracing::warn!(operator = %n.id, "failed to process entry: {err}");
    }
    matches!(n.on_error, OnError::Send | OnError::SendQuiet)
}

/// Builds the pipeline, with the first configuration error found.
pub fn build(configs: &[OperatorConfig]) -> Result<Pipeline, String> {
    let mut index = HashMap::new();
    for (i, c) in configs.iter().enumerate() {
        let id = c.id();
        if index.insert(id.clone(), i).is_some() {
            return Err(format!("duplicate operator id '{id}'"));
        }
    }
    let resolve = |o: &Outputs| -> Result<Vec<Target>, String> {
        o.0.iter()
            .map(|id| {
                index
                    .get(id)
                    .map(|i| Target::Node(*i))
                    .ok_or_else(|| format!("output '{id}' does not exist"))
            })
            .collect()
    };
    let mut nodes = Vec::with_capacity(configs.len());
    for (i, c) in configs.iter().enumerate() {
        let id = c.id();
        let node =
            node(c, i, configs.len(), &resolve).map_err(|e| format!("operator '{id}': {e}"))?;
        nodes.push(node);
    }
    let p = Pipeline { nodes };
    p.check_acyclic()?;
    Ok(p)
}

type Resolve<'a> = dyn Fn(&Outputs) -> Result<Vec<Target>, String> + 'a;

fn node(c: &OperatorConfig, i: usize, len: usize, resolve: &Resolve<'_>) -> Result<Node, String> {
    let next = match &c.common.output {
        // A router sends only where its routes and `default` say.
        _ if matches!(c.kind, OperatorKind::Router(_)) => vec![],
        Some(o) => resolve(o)?,
        None if i + 1 < len => vec![Target::Node(i + 1)],
        None => vec![Target::Out],
    };
    let cond = c.common.if_expr.as_deref().map(Expr::compile).transpose()?;
    let step = match &c.kind {
        OperatorKind::Router(r) => Step::Router(Router::new(r, resolve)?),
        OperatorKind::Filter(f) => Step::Filter(Filter::new(f)?),
        OperatorKind::Recombine(r) => Step::Recombine(Recombine::new(r)?),
        OperatorKind::Container(c) => Step::Container(Box::new(Container::new(c)?)),
        OperatorKind::Noop(_) => Step::Noop,
        other => Step::Op(operator(other)?),
    };
    Ok(Node {
        id: c.id(),
        on_error: c.common.on_error,
        cond,
        step,
        next,
    })
}

fn operator(k: &OperatorKind) -> Result<Box<dyn Operator>, String> {
    use super::{csv, jsonarray, keyvalue, severity, syslog, text, time, trace, transform, uri};
    use OperatorKind as K;
    let parse = |base: &super::config::ParserBase,
                 how: Box<dyn parser::Parse>|
     -> Result<Box<dyn Operator>, String> {
        Ok(Box::new(parser::Parser::new(base, how)?))
    };
    gate(k, &ferrotel_config::featuregate::is_enabled)?;
    Ok(match k {
        K::JsonParser(b) => parse(b, Box::new(parser::Json))?,
        K::RegexParser(p) => parse(&p.base, Box::new(parser::Regex::new(&p.own)?))?,
        K::KeyValueParser(p) => parse(&p.base, Box::new(keyvalue::KeyValue::new(&p.own)?))?,
        K::CsvParser(p) => parse(&p.base, Box::new(csv::Csv::new(&p.own)?))?,
        K::SyslogParser(p) => parse(&p.base, Box::new(syslog::Syslog::new(&p.own, &p.base)?))?,
        K::TimeParser(t) => Box::new(time::TimeOp::new(t)?),
        K::SeverityParser(s) => Box::new(severity::SeverityOp::new(s)?),
        K::TraceParser(t) => Box::new(trace::TraceOp(trace::TraceFields::new(t))),
        K::ScopeNameParser(s) => Box::new(transform::ScopeName(s.parse_from.clone())),
        K::Move(m) => Box::new(transform::Move(m.clone())),
        K::Copy(c) => Box::new(transform::Copy(c.clone())),
        K::Add(a) => Box::new(transform::Add::new(a)?),
        K::Remove(r) => Box::new(transform::Remove(r.field.clone())),
        K::Flatten(f) => Box::new(transform::Flatten::new(&f.field)?),
        K::Retain(r) => Box::new(transform::Retain::new(&r.fields)),
        K::JsonArrayParser(p) => parse(&p.base, Box::new(jsonarray::JsonArray::new(&p.own)))?,
        K::UriParser(b) => parse(b, Box::new(uri::Uri))?,
        K::Unquote(u) => Box::new(text::Unquote(u.field.clone())),
        K::RegexReplace(r) => Box::new(text::RegexReplace::new(r)?),
        K::SanitizeUtf8(s) => Box::new(text::SanitizeUtf8::new(s)),
        K::AssignKeys(a) => Box::new(transform::AssignKeys::new(a)?),
        K::Router(_) | K::Filter(_) | K::Recombine(_) | K::Container(_) | K::Noop(_) => {
            return Err("not a transforming operator".into())
        }
    })
}

/// Operators behind a feature gate, as in otelcol: refused while it is disabled.
pub(super) fn gate(k: &OperatorKind, is_enabled: &dyn Fn(&str) -> bool) -> Result<(), String> {
    use ferrotel_config::featuregate::{LOGS_ASSIGN_KEYS, LOGS_JSON_PARSER_ARRAY};
    let (ty, id) = match k {
        OperatorKind::JsonArrayParser(_) => ("json_array_parser", LOGS_JSON_PARSER_ARRAY),
        OperatorKind::AssignKeys(_) => ("assign_keys", LOGS_ASSIGN_KEYS),
        _ => return Ok(()),
    };
    if is_enabled(id) {
        Ok(())
    } else {
        Err(format!("{ty} operator disabled (feature gate `{id}`)"))
    }
}

impl Pipeline {
    fn targets(&self, i: usize) -> Vec<usize> {
        let n = &self.nodes[i];
        let mut all = n.next.clone();
        if let Step::Router(r) = &n.step {
            all.extend(r.targets());
        }
        all.into_iter()
            .filter_map(|t| match t {
                Target::Node(j) => Some(j),
                Target::Out => None,
            })
            .collect()
    }

    /// Stanza refuses graphs with cycles; so do we (an entry would loop forever).
    fn check_acyclic(&self) -> Result<(), String> {
        // 0: unvisited, 1: on the current path, 2: done.
        let mut state = vec![0u8; self.nodes.len()];
        for start in 0..self.nodes.len() {
            let mut stack = vec![(start, false)];
            while let Some((i, leaving)) = stack.pop() {
                if leaving {
                    state[i] = 2;
                    continue;
                }
                match state[i] {
                    1 => {
                        return Err(format!(
                            "operators form a cycle through '{}'",
                            self.nodes[i].id
                        ))
                    }
                    2 => continue,
                    _ => {}
                }
                state[i] = 1;
                stack.push((i, true));
                for j in self.targets(i) {
                    if state[j] == 1 {
                        return Err(format!(
                            "operators form a cycle through '{}'",
                            self.nodes[j].id
                        ));
                    }
                    if state[j] == 0 {
                        stack.push((j, false));
                    }
                }
            }
        }
        Ok(())
    }
}
