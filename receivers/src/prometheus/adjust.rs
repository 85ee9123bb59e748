//! Start times of cumulative points (counters, histograms, summaries), as otelcol's metrics
//! adjuster sets them: the first point of a series starts at its own timestamp; later points
//! keep that start until the value goes down (a reset), when the series starts again at the
//! reset point. Points with a `_created` time keep it. Series unseen for the GC interval
//! (2 minutes, or the scrape interval plus 1 minute if longer) are forgotten; at most
//! [`MAX_SERIES`] are remembered per target, and series beyond that are counted and start at
//! their own timestamp.
//!
//! ```yaml
//! # With use_start_time_metric, the start is process_start_time_seconds instead:
//! receivers:
//!   prometheus:
//!     use_start_time_metric: true
//!     start_time_metric_regex: '^(.+_)*process_start_time_seconds$'
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Series remembered per target.
pub const MAX_SERIES: usize = 100_000;

/// What identifies a series: metric name and its point attributes.
pub type SeriesKey = (String, Vec<(String, String)>);

/// The last values compared for reset detection (a counter's value; a histogram's or
/// summary's count and sum).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    pub value: f64,
    pub sum: f64,
    /// A summary: a count or sum of 0 on either side is no evidence of a reset.
    pub summary: bool,
}

impl Observed {
    fn is_reset_from(&self, prev: &Observed) -> bool {
        if self.summary {
            let down = |cur: f64, prev: f64| cur != 0.0 && prev != 0.0 && cur < prev;
            return down(self.value, prev.value) || down(self.sum, prev.sum);
        }
        self.value < prev.value || self.sum < prev.sum
    }
}

#[derive(Debug)]
struct Entry {
    start_ns: u64,
    previous: Observed,
    seen: Instant,
}

/// One target's start-time cache.
#[derive(Debug)]
pub struct StartTimes {
    series: HashMap<SeriesKey, Entry>,
    gc_interval: Duration,
    last_gc: Instant,
    /// Series not remembered because the cache was full.
    pub overflow: u64,
}

impl StartTimes {
    pub fn new(scrape_interval: Duration) -> Self {
        let gc_interval = (scrape_interval + Duration::from_secs(60)).max(Duration::from_secs(120));
        StartTimes {
            series: HashMap::new(),
            gc_interval,
            last_gc: Instant::now(),
            overflow: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The start time of a point, as otelcol's initial point adjuster: `initial_ns` is the
    /// point's own start (its `_created`, else its timestamp); a series seen before keeps its
    /// start unless its values went down, when it starts again at `reset_ns`. Stale points
    /// (`observed` None) take the series' start without updating it.
    pub fn start(
        &mut self,
        key: SeriesKey,
        initial_ns: u64,
        reset_ns: u64,
        observed: Option<Observed>,
    ) -> u64 {
        let now = Instant::now();
        if let Some(e) = self.series.get_mut(&key) {
            e.seen = now;
            let Some(cur) = observed else {
                return e.start_ns;
            };
            if cur.is_reset_from(&e.previous) {
                e.start_ns = reset_ns;
            }
            e.previous = cur;
            return e.start_ns;
        }
        if self.series.len() >= MAX_SERIES {
            self.overflow += 1;
            return initial_ns;
        }
        let previous = observed.unwrap_or(Observed {
            value: 0.0,
            sum: 0.0,
            summary: false,
        });
        self.series.insert(
            key,
            Entry {
                start_ns: initial_ns,
                previous,
                seen: now,
            },
        );
        initial_ns
    }

    /// Forgets series unseen for the GC interval (at most once per interval).
    pub fn gc(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.last_gc) < self.gc_interval {
            return;
        }
        let limit = self.gc_interval;
        self.series
            .retain(|_, e| now.duration_since(e.seen) < limit);
        self.last_gc = now;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key() -> SeriesKey {
        ("c".into(), vec![("a".into(), "1".into())])
    }

    fn v(value: f64) -> Option<Observed> {
        Some(Observed {
            value,
            sum: 0.0,
            summary: false,
        })
    }

    #[test]
    fn first_point_starts_at_itself_and_later_points_keep_it_until_a_reset() {
        let mut st = StartTimes::new(Duration::from_secs(10));
        assert_eq!(st.start(key(), 100, 100, v(5.0)), 100);
        assert_eq!(st.start(key(), 200, 200, v(7.0)), 100);
        assert_eq!(st.start(key(), 300, 300, None), 100);
        assert_eq!(st.start(key(), 400, 400, v(2.0)), 400);
        assert_eq!(st.start(key(), 500, 500, v(3.0)), 400);
    }

    #[test]
    fn histograms_reset_when_count_or_sum_goes_down_summaries_guard_zeros() {
        let mut st = StartTimes::new(Duration::from_secs(10));
        let h = |count, sum, summary| {
            Some(Observed {
                value: count,
                sum,
                summary,
            })
        };
        assert_eq!(st.start(key(), 1, 1, h(10.0, 5.0, false)), 1);
        assert_eq!(st.start(key(), 2, 2, h(10.0, 4.0, false)), 2);
        // A summary whose sum drops to 0 has not reset (otelcol's guard).
        let s = ("s".to_string(), vec![]);
        assert_eq!(st.start(s.clone(), 1, 1, h(10.0, 5.0, true)), 1);
        assert_eq!(st.start(s.clone(), 2, 2, h(10.0, 0.0, true)), 1);
        assert_eq!(st.start(s, 3, 3, h(9.0, 1.0, true)), 3);
    }

    #[test]
    fn the_cache_is_bounded_and_counts_overflow() {
        let mut st = StartTimes::new(Duration::from_secs(10));
        for i in 0..MAX_SERIES + 5 {
            st.start((format!("m{i}"), vec![]), 1, 1, v(1.0));
        }
        assert_eq!(st.len(), MAX_SERIES);
        assert_eq!(st.overflow, 5);
        assert_eq!(st.start(("m0".into(), vec![]), 9, 9, v(2.0)), 1);
    }
}
