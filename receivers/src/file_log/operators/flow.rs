//! `router` and `filter`: where an entry goes, or whether it goes on at all.

use super::config::{FilterConfig, Outputs, RouterConfig};
use super::expr::Expr;
use super::graph::Target;
use super::Entry;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};

struct Route {
    expr: Expr,
    attributes: Map<String, Value>,
    targets: Vec<Target>,
}

/// `router`: the first route whose expression is true gets the entry (with the route's
/// attributes added); else `default`; else the entry is dropped.
pub struct Router {
    routes: Vec<Route>,
    default: Vec<Target>,
}

impl Router {
    pub fn new(
        c: &RouterConfig,
        resolve: &dyn Fn(&Outputs) -> Result<Vec<Target>, String>,
    ) -> Result<Router, String> {
        if c.routes.is_empty() {
            return Err("missing required field 'routes'".into());
        }
        let routes = c
            .routes
            .iter()
            .map(|r| {
                Ok(Route {
                    expr: Expr::compile(&r.expr)?,
                    attributes: r.attributes.clone().into_iter().collect(),
                    targets: resolve(&r.output)?,
                })
            })
            .collect::<Result<_, String>>()?;
        let default = c.default.as_ref().map(resolve).transpose()?;
        Ok(Router {
            routes,
            default: default.unwrap_or_default(),
        })
    }

    /// Where the entry goes; None when it is dropped. A route whose expression fails is
    /// skipped (logged), as in stanza.
    pub fn route(&self, e: &mut Entry, id: &str) -> Option<&[Target]> {
        for r in &self.routes {
            match r.expr.eval(e) {
                Ok(true) => {
                    for (k, v) in &r.attributes {
                        e.attributes.insert(k.clone(), v.clone());
                    }
                    return Some(&r.targets);
                }
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(operator = %id, "running expression returned an error: {err}")
                }
            }
        }
        (!self.default.is_empty()).then_some(self.default.as_slice())
    }

    /// Every operator a route or the default may send to.
    pub fn targets(&self) -> impl Iterator<Item = Target> + '_ {
        self.routes
            .iter()
            .flat_map(|r| r.targets.iter().copied())
            .chain(self.default.iter().copied())
    }
}

/// `filter`: drops entries for which the expression is true, each with probability
/// `drop_ratio`.
pub struct Filter {
    expr: Expr,
    drop_ratio: f64,
    /// A SplitMix64 sequence: the sampling needs no cryptographic randomness.
    state: AtomicU64,
}

impl Filter {
    pub fn new(c: &FilterConfig) -> Result<Filter, String> {
        if !(0.0..=1.0).contains(&c.drop_ratio) {
            return Err("drop_ratio must be a number between 0 and 1".into());
        }
        let seed = super::super::emit::now_nanos();
        Ok(Filter {
            expr: Expr::compile(&c.expr)?,
            drop_ratio: c.drop_ratio,
            state: AtomicU64::new(seed),
        })
    }

    /// Whether the entry goes on.
    pub fn keep(&self, e: &Entry) -> Result<bool, String> {
        if !self.expr.eval(e)? {
            return Ok(true);
        }
        if self.drop_ratio >= 1.0 {
            return Ok(false);
        }
        Ok(self.uniform() >= self.drop_ratio)
    }

    /// A number in [0, 1).
    fn uniform(&self) -> f64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}
