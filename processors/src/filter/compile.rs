//! From config to what the processor evaluates: per signal, a list of groups run in order, each
//! with its conditions per context (resource, scope, item, sub-item) and, for the deprecated
//! include / exclude, its matchers.

use super::config::{
    groups, match_type, ConditionsEntry, ContextConditions, FilterConfig, LogMatchProperties,
    MetricMatchProperties,
};
use crate::matching::{MatchProperties, Matcher, SeverityNumberConfig};
use ferrotel_config::{Findings, Validator};
use ferrotel_core::Signal;
use ferrotel_ottl::infer::{self, Candidate, Hints};
use ferrotel_ottl::{
    Conditions, Context, DataPointContext, ErrorMode, LogContext, MetricContext, ProfileContext,
    ResourceContext, ScopeContext, SpanContext, SpanEventContext,
};
use std::collections::BTreeMap;

/// Conditions of one context, or none.
pub type Level<C> = Option<Conditions<C>>;

/// include / exclude: an item is skipped when outside `include` or inside `exclude`.
#[derive(Debug, Default)]
pub struct Skip {
    pub include: Option<Matcher>,
    pub exclude: Option<Matcher>,
}

impl Skip {
    pub fn skips(&self, matches: impl Fn(&Matcher) -> bool) -> bool {
        self.include.as_ref().is_some_and(|m| !matches(m))
            || self.exclude.as_ref().is_some_and(matches)
    }
}

#[derive(Default)]
pub struct TraceGroup {
    pub resource: Level<ResourceContext>,
    pub scope: Level<ScopeContext>,
    pub span: Level<SpanContext>,
    pub spanevent: Level<SpanEventContext>,
    /// `spans.include` / `spans.exclude`.
    pub legacy: Option<Skip>,
}

#[derive(Default)]
pub struct MetricGroup {
    pub resource: Level<ResourceContext>,
    pub scope: Level<ScopeContext>,
    pub metric: Level<MetricContext>,
    pub datapoint: Level<DataPointContext>,
    /// `metrics.include` / `metrics.exclude`: by resource attributes, then by name.
    pub legacy_resource: Option<Skip>,
    pub legacy_name: Option<Skip>,
}

#[derive(Default)]
pub struct LogGroup {
    pub resource: Level<ResourceContext>,
    pub scope: Level<ScopeContext>,
    pub log: Level<LogContext>,
    /// `logs.include` / `logs.exclude`.
    pub legacy: Option<Skip>,
}

#[derive(Default)]
pub struct ProfileGroup {
    pub resource: Level<ResourceContext>,
    pub scope: Level<ScopeContext>,
    pub profile: Level<ProfileContext>,
}

/// Everything the processor evaluates, per signal.
#[derive(Default)]
pub struct Filters {
    pub traces: Vec<TraceGroup>,
    pub metrics: Vec<MetricGroup>,
    pub logs: Vec<LogGroup>,
    pub profiles: Vec<ProfileGroup>,
}

/// Conditions by context name, in the order written.
type Buckets = BTreeMap<&'static str, Vec<String>>;

/// Compiles `texts` in context `C`; `None` for no conditions, the error messages otherwise.
fn level<C: Context>(texts: Option<&Vec<String>>, mode: ErrorMode) -> Result<Level<C>, String> {
    match texts {
        None => Ok(None),
        Some(t) if t.is_empty() => Ok(None),
        Some(t) => Conditions::new(t, mode).map(Some).map_err(|errs| {
            let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
            msgs.join("; ")
        }),
    }
}

/// The contexts otelcol's `context:` key knows (any case).
const CONTEXT_IDS: &[&str] = &[
    "resource",
    "scope",
    "span",
    "spanevent",
    "metric",
    "datapoint",
    "log",
    "profile",
];

/// A group's conditions by context: all in its `context`, or each in the one it infers to.
fn buckets(g: &ContextConditions, cands: &[Candidate]) -> Result<Buckets, String> {
    let mut out = Buckets::new();
    if let Some(ctx) = &g.context {
        let ctx = ctx.to_lowercase();
        if !CONTEXT_IDS.contains(&ctx.as_str()) {
            return Err(format!("unknown context {ctx}"));
        }
        let cand = cands.iter().find(|c| c.name == ctx).ok_or_else(|| {
            format!(
                "unknown context \"{ctx}\" for conditions: [{}]",
                g.conditions.join(" ")
            )
        })?;
        out.insert(cand.name, g.conditions.clone());
        return Ok(out);
    }
    for text in &g.conditions {
        let name = infer::infer_conditions(std::slice::from_ref(text), cands)?[0];
        let parsed = ferrotel_ottl::parse_condition(text).map_err(|e| e.to_string())?;
        if let Some(cand) = cands.iter().find(|c| c.name == name) {
            infer::check_path_contexts(&Hints::of_condition(&parsed), cand)?;
        }
        out.entry(name).or_default().push(text.clone());
    }
    Ok(out)
}

impl Filters {
    /// Compiles a config whose error mode and key combinations were checked, reporting every
    /// problem through `v` (at the key it is under); `None` when there was one.
    pub fn compile(cfg: &FilterConfig, v: &mut Validator<'_>) -> Option<Filters> {
        let mode = cfg.mode().unwrap_or_default();
        let mut f = Filters::default();
        let mut ok = true;
        let mut report = |key: &str, r: Result<(), String>| {
            if let Err(e) = r {
                v.report_at(key, e);
                ok = false;
            }
        };
        report("traces", f.legacy_traces(cfg, mode));
        report("spans", f.legacy_spans(cfg));
        report("metrics", f.legacy_metrics(cfg, mode));
        report("logs", f.legacy_logs(cfg, mode));
        report("profiles", f.legacy_profiles(cfg, mode));
        for (key, entries, signal) in [
            ("trace_conditions", &cfg.trace_conditions, Signal::Traces),
            ("metric_conditions", &cfg.metric_conditions, Signal::Metrics),
            ("log_conditions", &cfg.log_conditions, Signal::Logs),
            (
                "profile_conditions",
                &cfg.profile_conditions,
                Signal::Profiles,
            ),
        ] {
            if let Some(entries) = entries {
                report(key, f.inferred(entries, signal, mode));
            }
        }
        ok.then_some(f)
    }

    /// Compiles a validated config.
    pub fn new(cfg: &FilterConfig) -> Filters {
        let mut findings = Findings::default();
        Filters::compile(cfg, &mut Validator::new("", &mut findings)).unwrap_or_default()
    }

    /// The `*_conditions` groups of one signal.
    fn inferred(
        &mut self,
        entries: &[Option<ConditionsEntry>],
        signal: Signal,
        mode: ErrorMode,
    ) -> Result<(), String> {
        let cands = match signal {
            Signal::Traces => infer::TRACES,
            Signal::Metrics => infer::METRICS,
            Signal::Logs => infer::LOGS,
            Signal::Profiles => infer::PROFILES,
        };
        for g in groups(entries)? {
            let mode = match &g.error_mode {
                Some(m) => ErrorMode::from_name(m)?,
                None => mode,
            };
            let mut b = buckets(&g, cands)?;
            let mut take = |name: &str| b.remove(name);
            let (resource, scope) = (take("resource"), take("scope"));
            let (resource, scope) = (
                level(resource.as_ref(), mode)?,
                level(scope.as_ref(), mode)?,
            );
            match signal {
                Signal::Traces => self.traces.push(TraceGroup {
                    resource,
                    scope,
                    span: level(take("span").as_ref(), mode)?,
                    spanevent: level(take("spanevent").as_ref(), mode)?,
                    legacy: None,
                }),
                Signal::Metrics => self.metrics.push(MetricGroup {
                    resource,
                    scope,
                    metric: level(take("metric").as_ref(), mode)?,
                    datapoint: level(take("datapoint").as_ref(), mode)?,
                    ..Default::default()
                }),
                Signal::Logs => self.logs.push(LogGroup {
                    resource,
                    scope,
                    log: level(take("log").as_ref(), mode)?,
                    legacy: None,
                }),
                Signal::Profiles => self.profiles.push(ProfileGroup {
                    resource,
                    scope,
                    profile: level(take("profile").as_ref(), mode)?,
                }),
            }
        }
        Ok(())
    }

    fn legacy_traces(&mut self, cfg: &FilterConfig, mode: ErrorMode) -> Result<(), String> {
        let t = &cfg.traces;
        let g = TraceGroup {
            resource: level(t.resource.as_ref(), mode)?,
            span: level(t.span.as_ref(), mode)?,
            spanevent: level(t.spanevent.as_ref(), mode)?,
            ..Default::default()
        };
        if g.resource.is_some() || g.span.is_some() || g.spanevent.is_some() {
            self.traces.push(g);
        }
        Ok(())
    }

    fn legacy_spans(&mut self, cfg: &FilterConfig) -> Result<(), String> {
        let s = &cfg.spans;
        if s.include.is_none() && s.exclude.is_none() {
            return Ok(());
        }
        let skip = Skip {
            include: s.include.as_ref().map(matcher).transpose()?,
            exclude: s.exclude.as_ref().map(matcher).transpose()?,
        };
        self.traces.push(TraceGroup {
            legacy: Some(skip),
            ..Default::default()
        });
        Ok(())
    }

    fn legacy_metrics(&mut self, cfg: &FilterConfig, mode: ErrorMode) -> Result<(), String> {
        let m = &cfg.metrics;
        let mut g = MetricGroup {
            resource: level(m.resource.as_ref(), mode)?,
            metric: level(m.metric.as_ref(), mode)?,
            datapoint: level(m.datapoint.as_ref(), mode)?,
            ..Default::default()
        };
        if m.include.is_some() || m.exclude.is_some() {
            let (inc, exc) = (m.include.as_ref(), m.exclude.as_ref());
            g.legacy_resource = skip(inc, exc, metric_resources)?;
            g.legacy_name = skip(inc, exc, metric_names)?;
        }
        let empty = g.resource.is_none() && g.metric.is_none() && g.datapoint.is_none();
        if !empty || g.legacy_resource.is_some() || g.legacy_name.is_some() {
            self.metrics.push(g);
        }
        Ok(())
    }

    fn legacy_logs(&mut self, cfg: &FilterConfig, mode: ErrorMode) -> Result<(), String> {
        let l = &cfg.logs;
        let mut g = LogGroup {
            resource: level(l.resource.as_ref(), mode)?,
            log: level(l.log_record.as_ref(), mode)?,
            ..Default::default()
        };
        if l.include.is_some() || l.exclude.is_some() {
            g.legacy = skip(l.include.as_ref(), l.exclude.as_ref(), log_properties)?;
        }
        if g.resource.is_some() || g.log.is_some() || g.legacy.is_some() {
            self.logs.push(g);
        }
        Ok(())
    }

    fn legacy_profiles(&mut self, cfg: &FilterConfig, mode: ErrorMode) -> Result<(), String> {
        let p = &cfg.profiles;
        let g = ProfileGroup {
            resource: level(p.resource.as_ref(), mode)?,
            profile: level(p.profile.as_ref(), mode)?,
            scope: None,
        };
        if g.resource.is_some() || g.profile.is_some() {
            self.profiles.push(g);
        }
        Ok(())
    }
}

/// The matcher of properties (otelcol's message for a bad one).
fn matcher(mp: &MatchProperties) -> Result<Matcher, String> {
    let mut findings = Findings::default();
    let m = Matcher::compile(mp, &mut Validator::new("", &mut findings));
    findings.into_result().map_err(|e| e.to_string())?;
    m.ok_or_else(|| "invalid match properties".to_string())
}

/// include / exclude from legacy properties, each converted by `props` (`None`: that side does
/// not restrict); `None` when neither restricts.
fn skip<P>(
    include: Option<&P>,
    exclude: Option<&P>,
    props: fn(&P) -> Result<Option<MatchProperties>, String>,
) -> Result<Option<Skip>, String> {
    let side = |p: Option<&P>| -> Result<Option<Matcher>, String> {
        match p.map(props).transpose()?.flatten() {
            Some(mp) => matcher(&mp).map(Some),
            None => Ok(None),
        }
    };
    let s = Skip {
        include: side(include)?,
        exclude: side(exclude)?,
    };
    Ok((s.include.is_some() || s.exclude.is_some()).then_some(s))
}

fn refuse_expr(p: &MetricMatchProperties) -> Result<(), String> {
    if p.match_type == "expr" && !p.expressions.is_empty() {
        return Err(
            "match_type \"expr\" is not supported by ferrotel: write the expressions as \
                    OTTL conditions (metrics.metric / metric_conditions) instead"
                .into(),
        );
    }
    Ok(())
}

/// The resource side of metric properties: their `resource_attributes`, if any.
fn metric_resources(p: &MetricMatchProperties) -> Result<Option<MatchProperties>, String> {
    refuse_expr(p)?;
    Ok(
        (!p.resource_attributes.is_empty()).then(|| MatchProperties {
            match_type: match_type(&p.match_type),
            resources: p.resource_attributes.clone(),
            ..Default::default()
        }),
    )
}

/// The name side of metric properties: their `metric_names`, if any.
fn metric_names(p: &MetricMatchProperties) -> Result<Option<MatchProperties>, String> {
    refuse_expr(p)?;
    Ok(
        (!p.metric_names.is_empty() && p.match_type != "expr").then(|| MatchProperties {
            match_type: match_type(&p.match_type),
            metric_names: p.metric_names.clone(),
            ..Default::default()
        }),
    )
}

/// Log properties as match properties; `None` for empty ones (otelcol ignores them).
fn log_properties(p: &LogMatchProperties) -> Result<Option<MatchProperties>, String> {
    let min = match &p.severity_number {
        Some(s) => Some(severity(&s.min)?),
        None => None,
    };
    let empty = p.resource_attributes.is_empty()
        && p.record_attributes.is_empty()
        && p.severity_texts.is_empty()
        && p.bodies.is_empty()
        && p.severity_number.is_none();
    if empty {
        return Ok(None);
    }
    // Without strings to compare, otelcol builds no string matcher and needs no match_type.
    let needs_type = !p.severity_texts.is_empty() || !p.bodies.is_empty();
    let kind = match p.match_type.as_str() {
        "" if !needs_type => "strict",
        other => other,
    };
    Ok(Some(MatchProperties {
        match_type: match_type(kind),
        resources: p.resource_attributes.clone(),
        attributes: p.record_attributes.clone(),
        log_severity_texts: p.severity_texts.clone(),
        log_bodies: p.bodies.clone(),
        log_severity_number: min.map(|min| SeverityNumberConfig {
            min: Some(serde_yaml_ng::Value::Number(min.into())),
            match_undefined: p
                .severity_number
                .as_ref()
                .is_some_and(|s| s.match_undefined),
        }),
        ..Default::default()
    }))
}

/// A severity name or number (`'x' is not a valid severity: not a valid severity` otherwise).
fn severity(s: &str) -> Result<i64, String> {
    const NAMES: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let up = s.to_ascii_uppercase();
    let n = match up.parse::<i64>() {
        Ok(n) if (1..=24).contains(&n) => Some(n),
        Ok(_) => None,
        Err(_) => NAMES.iter().zip(0i64..).find_map(|(name, i)| {
            let step = match up.strip_prefix(name)? {
                "" => 1,
                "2" => 2,
                "3" => 3,
                "4" => 4,
                _ => return None,
            };
            Some(i * 4 + step)
        }),
    };
    n.ok_or_else(|| format!("'{s}' is not a valid severity: not a valid severity"))
}
