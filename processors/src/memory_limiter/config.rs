//! The `memory_limiter` processor's configuration, with otelcol's keys, defaults and
//! validation messages, and the limits it gives in bytes.

use ferrotel_config::{GoDuration, Validate, Validator};
use serde::{Deserialize, Serialize};

const MIB: u64 = 1024 * 1024;

/// `processors.memory_limiter`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryLimiterConfig {
    /// Time between two measurements of the process's memory. Required (1s is a good value).
    pub check_interval: GoDuration,
    /// Hard limit in MiB of the process's resident memory. Takes precedence over
    /// `limit_percentage`.
    pub limit_mib: u32,
    /// Headroom in MiB below the hard limit: data is refused above `limit_mib -
    /// spike_limit_mib` (the soft limit). Default: 20% of `limit_mib`. Must be smaller than
    /// `limit_mib`.
    pub spike_limit_mib: u32,
    /// Hard limit as a percentage of the total memory (the cgroup's memory limit, or the
    /// host's memory when there is none). Used when `limit_mib` is 0.
    pub limit_percentage: u32,
    /// Headroom as a percentage of the total memory. Default: 20% of the hard limit. Must be
    /// smaller than `limit_percentage`.
    pub spike_limit_percentage: u32,
    /// Least time between two attempts to give freed memory back to the OS while above the
    /// soft limit.
    pub min_gc_interval_when_soft_limited: GoDuration,
    /// Least time between two attempts to give freed memory back to the OS while above the
    /// hard limit.
    pub min_gc_interval_when_hard_limited: GoDuration,
    /// Accepted for compatibility (otelcol's back-off cap for ineffective garbage collections).
    pub max_gc_interval_when_soft_limited: GoDuration,
    /// Accepted for compatibility (otelcol's back-off cap for ineffective garbage collections).
    pub max_gc_interval_when_hard_limited: GoDuration,
}

impl Default for MemoryLimiterConfig {
    fn default() -> Self {
        MemoryLimiterConfig {
            check_interval: GoDuration::default(),
            limit_mib: 0,
            spike_limit_mib: 0,
            limit_percentage: 0,
            spike_limit_percentage: 0,
            min_gc_interval_when_soft_limited: GoDuration::from_secs(10),
            min_gc_interval_when_hard_limited: GoDuration::default(),
            max_gc_interval_when_soft_limited: GoDuration::from_secs(30),
            max_gc_interval_when_hard_limited: GoDuration::from_secs(30),
        }
    }
}

/// Memory limits in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Above it, freed memory is actively given back to the OS.
    pub hard: u64,
    /// Above it (`hard - spike`), data is refused.
    pub soft: u64,
}

impl Validate for MemoryLimiterConfig {
    /// Checks what serde cannot.
    fn validate(&self, v: &mut Validator<'_>) {
        let mut err = |key: &str, msg: &str| v.report_at(key, msg);
        if self.check_interval.is_zero() {
            err(
                "check_interval",
                "'check_interval' must be greater than zero",
            );
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            err(
                "limit_mib",
                "'limit_mib' or 'limit_percentage' must be greater than zero",
            );
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            err(
                "limit_percentage",
                "'limit_percentage' and 'spike_limit_percentage' must be greater than zero and less than or equal to hundred",
            );
        }
        if self.limit_mib > 0 && self.spike_limit_mib >= self.limit_mib {
            err(
                "spike_limit_mib",
                "'spike_limit_mib' must be smaller than 'limit_mib'",
            );
        }
        if self.limit_percentage > 0 && self.spike_limit_percentage >= self.limit_percentage {
            err(
                "spike_limit_percentage",
                "'spike_limit_percentage' must be smaller than 'limit_percentage'",
            );
        }
        if self.min_gc_interval_when_soft_limited < self.min_gc_interval_when_hard_limited {
            err(
                "min_gc_interval_when_soft_limited",
                "'min_gc_interval_when_soft_limited' should be larger than 'min_gc_interval_when_hard_limited'",
            );
        }
        self.validate_max_gc_intervals(v);
    }
}

impl MemoryLimiterConfig {
    /// otelcol's rules for the backoff caps: 0 disables a cap; a set cap is not below its
    /// minimum, and the soft cap is not below the hard one.
    fn validate_max_gc_intervals(&self, v: &mut Validator<'_>) {
        let (max_soft, max_hard) = (
            self.max_gc_interval_when_soft_limited.0,
            self.max_gc_interval_when_hard_limited.0,
        );
        if !max_soft.is_zero() && max_soft < self.min_gc_interval_when_soft_limited.0 {
            v.report_at(
                "max_gc_interval_when_soft_limited",
                "'max_gc_interval_when_soft_limited' must be greater than or equal to 'min_gc_interval_when_soft_limited' (or 0 to disable)",
            );
        }
        if !max_hard.is_zero() && max_hard < self.min_gc_interval_when_hard_limited.0 {
            v.report_at(
                "max_gc_interval_when_hard_limited",
                "'max_gc_interval_when_hard_limited' must be greater than or equal to 'min_gc_interval_when_hard_limited' (or 0 to disable)",
            );
        }
        if !max_soft.is_zero() && !max_hard.is_zero() && max_soft < max_hard {
            v.report_at(
                "max_gc_interval_when_soft_limited",
                "'max_gc_interval_when_soft_limited' should be larger than or equal to 'max_gc_interval_when_hard_limited' (when both are set)",
            );
        }
    }
}

impl MemoryLimiterConfig {
    /// The limits in bytes; `total_memory` is what percentages are taken of (unused when
    /// `limit_mib` is set).
    pub fn limits(&self, total_memory: Option<u64>) -> Result<Limits, String> {
        let (hard, spike) = if self.limit_mib > 0 {
            (
                u64::from(self.limit_mib) * MIB,
                u64::from(self.spike_limit_mib) * MIB,
            )
        } else {
            let total = total_memory
                .ok_or("failed to get total memory, use fixed memory settings (limit_mib)")?;
            let pct = |p: u32| total / 100 * u64::from(p) + total % 100 * u64::from(p) / 100;
            (pct(self.limit_percentage), pct(self.spike_limit_percentage))
        };
        let spike = if spike == 0 { hard / 5 } else { spike };
        Ok(Limits {
            hard,
            soft: hard.saturating_sub(spike),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_config::{decode_valid, ConfigErrors, Value};
    use std::time::Duration;

    const PATH: &str = "processors.memory_limiter";

    fn load(yaml: &str) -> Result<MemoryLimiterConfig, ConfigErrors> {
        let v: Value = serde_yaml_ng::from_str(yaml).expect("test yaml parses");
        decode_valid::<MemoryLimiterConfig>(PATH, &v).map(|(cfg, _)| cfg)
    }

    fn messages(e: &ConfigErrors) -> Vec<(&str, &str)> {
        e.0.iter()
            .map(|e| (e.path.as_str(), e.message.as_str()))
            .collect()
    }

    #[test]
    fn valid_file() {
        let cfg = load(include_str!("../../testdata/memory_limiter/valid.yaml")).unwrap();
        assert_eq!(cfg.check_interval.0, Duration::from_secs(1));
        assert_eq!(cfg.limit_mib, 4000);
        assert_eq!(cfg.spike_limit_mib, 800);
        assert_eq!(
            cfg.min_gc_interval_when_hard_limited.0,
            Duration::from_secs(1)
        );
        let l = cfg.limits(None).unwrap();
        assert_eq!(l.hard, 4000 * MIB);
        assert_eq!(l.soft, 3200 * MIB);
    }

    #[test]
    fn defaults_match_otelcol_and_need_a_limit() {
        let d = MemoryLimiterConfig::default();
        assert_eq!(
            d.min_gc_interval_when_soft_limited.0,
            Duration::from_secs(10)
        );
        assert!(d.min_gc_interval_when_hard_limited.is_zero());
        let e = load("").unwrap_err();
        assert_eq!(
            messages(&e),
            vec![
                (
                    "processors.memory_limiter.check_interval",
                    "'check_interval' must be greater than zero"
                ),
                (
                    "processors.memory_limiter.limit_mib",
                    "'limit_mib' or 'limit_percentage' must be greater than zero"
                ),
            ]
        );
    }

    #[test]
    fn typo_is_reported_with_its_path() {
        let e = load(include_str!("../../testdata/memory_limiter/typo.yaml")).unwrap_err();
        assert_eq!(e.0[0].path, "processors.memory_limiter.limit_mb");
        assert!(e.0[0].message.contains("unknown field `limit_mb`"), "{e}");
    }

    #[test]
    fn invalid_values_are_reported() {
        let e = load(include_str!("../../testdata/memory_limiter/invalid.yaml")).unwrap_err();
        assert_eq!(
            messages(&e),
            vec![
                (
                    "processors.memory_limiter.check_interval",
                    "'check_interval' must be greater than zero"
                ),
                (
                    "processors.memory_limiter.spike_limit_mib",
                    "'spike_limit_mib' must be smaller than 'limit_mib'"
                ),
            ]
        );
        let e = load("check_interval: 1s\nlimit_percentage: 120").unwrap_err();
        assert_eq!(e.0[0].path, "processors.memory_limiter.limit_percentage");
        assert!(e.0[0].message.contains("less than or equal to hundred"));
        let e = load("check_interval: 1s\nlimit_percentage: 50\nspike_limit_percentage: 50")
            .unwrap_err();
        assert_eq!(
            messages(&e),
            vec![(
                "processors.memory_limiter.spike_limit_percentage",
                "'spike_limit_percentage' must be smaller than 'limit_percentage'"
            )]
        );
        let e = load(
            "check_interval: 1s\nlimit_mib: 10\nmin_gc_interval_when_soft_limited: 1s\nmin_gc_interval_when_hard_limited: 2s",
        )
        .unwrap_err();
        assert_eq!(
            e.0[0].path,
            "processors.memory_limiter.min_gc_interval_when_soft_limited"
        );
        let e = load("check_interval: -1s\nlimit_mib: 10").unwrap_err();
        assert_eq!(e.0[0].path, "processors.memory_limiter.check_interval");
    }

    #[test]
    fn max_gc_intervals_follow_otelcol_rules() {
        let base = "check_interval: 1s\nlimit_mib: 10\n";
        let case = |extra: &str| {
            let e = load(&format!("{base}{extra}")).err()?;
            let owned = messages(&e)
                .into_iter()
                .map(|(p, m)| (p.to_string(), m.to_string()));
            Some(owned.collect::<Vec<_>>())
        };
        let one = |path: &str, msg: &str| Some(vec![(path.to_string(), msg.to_string())]);
        assert_eq!(
            case("max_gc_interval_when_soft_limited: 5s\nmax_gc_interval_when_hard_limited: 5s"),
            one(
                "processors.memory_limiter.max_gc_interval_when_soft_limited",
                "'max_gc_interval_when_soft_limited' must be greater than or equal to 'min_gc_interval_when_soft_limited' (or 0 to disable)"
            )
        );
        assert_eq!(
            case("min_gc_interval_when_hard_limited: 5s\nmax_gc_interval_when_hard_limited: 2s"),
            one(
                "processors.memory_limiter.max_gc_interval_when_hard_limited",
                "'max_gc_interval_when_hard_limited' must be greater than or equal to 'min_gc_interval_when_hard_limited' (or 0 to disable)"
            )
        );
        assert_eq!(
            case("max_gc_interval_when_soft_limited: 20s\nmax_gc_interval_when_hard_limited: 40s"),
            one(
                "processors.memory_limiter.max_gc_interval_when_soft_limited",
                "'max_gc_interval_when_soft_limited' should be larger than or equal to 'max_gc_interval_when_hard_limited' (when both are set)"
            )
        );
        // 0 disables a cap, so none of the rules applies to it.
        assert_eq!(
            case("max_gc_interval_when_soft_limited: 0s\nmax_gc_interval_when_hard_limited: 0s"),
            None
        );
    }

    #[test]
    fn limits_in_mib_default_the_spike_to_a_fifth() {
        let cfg = load("check_interval: 1s\nlimit_mib: 1000").unwrap();
        let l = cfg.limits(None).unwrap();
        assert_eq!(l.hard, 1000 * MIB);
        assert_eq!(l.soft, 800 * MIB);
    }

    #[test]
    fn percentage_limits_are_taken_of_the_total() {
        let total = 8 * 1024 * MIB;
        let cfg =
            load("check_interval: 1s\nlimit_percentage: 75\nspike_limit_percentage: 25").unwrap();
        let l = cfg.limits(Some(total)).unwrap();
        assert_eq!(l.hard, 6 * 1024 * MIB);
        assert_eq!(l.soft, 4 * 1024 * MIB);

        let cfg = load("check_interval: 1s\nlimit_percentage: 50").unwrap();
        let l = cfg.limits(Some(1000)).unwrap();
        assert_eq!(
            l,
            Limits {
                hard: 500,
                soft: 400
            }
        );
        assert!(cfg.limits(None).is_err());

        let cfg = load("check_interval: 1s\nlimit_mib: 100\nlimit_percentage: 50").unwrap();
        assert_eq!(
            cfg.limits(Some(1000)).unwrap().hard,
            100 * MIB,
            "limit_mib wins"
        );
    }
}
