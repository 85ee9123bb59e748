//! Prometheus relabeling (`relabel_configs` on targets, `metric_relabel_configs` on samples):
//! the actions `replace`, `lowercase`, `uppercase`, `keep`, `drop`, `keepequal`, `dropequal`,
//! `hashmod`, `labelmap`, `labeldrop` and `labelkeep`, with Prometheus's defaults (separator
//! `;`, regex `(.*)` anchored at both ends, replacement `$1`) and checks.
//!
//! ```yaml
//! relabel_configs:
//!   - source_labels: [__meta_pod_annotation_scrape]
//!     regex: "true"
//!     action: keep
//!   - source_labels: [__address__]
//!     modulus: 4
//!     target_label: __tmp_hash
//!     action: hashmod
//!   - regex: "__meta_pod_label_(.+)"
//!     action: labelmap
//! ```

use super::parse::valid_label_name;
use md5::{Digest, Md5};
use regex::Regex;
use serde::{Deserialize, Serialize};

/// Labels as name/value pairs, kept sorted by name.
pub type Labels = Vec<(String, String)>;

/// A relabeling action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Replace,
    Lowercase,
    Uppercase,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
        }
    }
}

const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REPLACEMENT: &str = "$1";

/// One relabeling step as configured.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    pub source_labels: Vec<String>,
    pub separator: String,
    pub regex: String,
    pub modulus: u64,
    pub target_label: String,
    pub replacement: String,
    pub action: Action,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: vec![],
            separator: DEFAULT_SEPARATOR.into(),
            regex: DEFAULT_REGEX.into(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.into(),
            action: Action::Replace,
        }
    }
}

/// A checked step, with its regex compiled (anchored, as Prometheus does).
#[derive(Debug, Clone)]
pub struct Relabel {
    cfg: RelabelConfig,
    regex: Regex,
}

impl RelabelConfig {
    /// Prometheus's checks, then the compiled step. The error is Prometheus's message.
    pub fn compile(&self) -> Result<Relabel, String> {
        let a = self.action;
        if a == Action::HashMod && self.modulus == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        let needs_target = matches!(
            a,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && self.target_label.is_empty() {
            return Err(format!(
                "relabel configuration for {} action requires 'target_label' value",
                a.name()
            ));
        }
        let templated = a == Action::Replace && self.target_label.contains('$');
        if needs_target && !templated && !valid_label_name(&self.target_label) {
            return Err(format!(
                "{:?} is invalid 'target_label' for {} action",
                self.target_label,
                a.name()
            ));
        }
        self.only_regex_for_label_actions()?;
        self.nothing_but_labels_for_equal_actions()?;
        let regex = Regex::new(&format!("^(?s:{})$", self.regex))
            .map_err(|e| format!("invalid regex {:?}: {e}", self.regex))?;
        Ok(Relabel {
            cfg: self.clone(),
            regex,
        })
    }

    fn only_regex_for_label_actions(&self) -> Result<(), String> {
        if !matches!(self.action, Action::LabelDrop | Action::LabelKeep) {
            return Ok(());
        }
        if !self.source_labels.is_empty()
            || !self.target_label.is_empty()
            || self.modulus != 0
            || self.separator != DEFAULT_SEPARATOR
            || self.replacement != DEFAULT_REPLACEMENT
        {
            return Err(format!(
                "{} action requires only 'regex', and no other fields",
                self.action.name()
            ));
        }
        Ok(())
    }

    fn nothing_but_labels_for_equal_actions(&self) -> Result<(), String> {
        if !matches!(self.action, Action::KeepEqual | Action::DropEqual) {
            return Ok(());
        }
        if self.regex != DEFAULT_REGEX
            || self.modulus != 0
            || self.separator != DEFAULT_SEPARATOR
            || self.replacement != DEFAULT_REPLACEMENT
        {
            return Err(format!(
                "{} action requires only 'source_labels' and `target_label`, and no other fields",
                self.action.name()
            ));
        }
        Ok(())
    }
}

fn get<'a>(labels: &'a Labels, name: &str) -> &'a str {
    labels
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Sets a label (an empty value deletes it), keeping the list sorted.
pub fn set(labels: &mut Labels, name: &str, value: String) {
    match labels.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => labels[i].1 = value,
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(i, (name.to_string(), value)),
    }
}

/// Applies the steps in order; None when a step drops the target or sample.
pub fn process(mut labels: Labels, steps: &[Relabel]) -> Option<Labels> {
    labels.sort();
    for s in steps {
        if !s.apply(&mut labels) {
            return None;
        }
    }
    Some(labels)
}

impl Relabel {
    /// One step; false: drop.
    fn apply(&self, labels: &mut Labels) -> bool {
        let c = &self.cfg;
        let joined = || {
            c.source_labels
                .iter()
                .map(|n| get(labels, n))
                .collect::<Vec<_>>()
                .join(&c.separator)
        };
        match c.action {
            Action::Keep => return self.regex.is_match(&joined()),
            Action::Drop => return !self.regex.is_match(&joined()),
            Action::KeepEqual => return joined() == get(labels, &c.target_label),
            Action::DropEqual => return joined() != get(labels, &c.target_label),
            Action::Replace => self.replace(labels, &joined()),
            Action::Lowercase => {
                let v = joined().to_lowercase();
                set(labels, &c.target_label, v)
            }
            Action::Uppercase => {
                let v = joined().to_uppercase();
                set(labels, &c.target_label, v)
            }
            Action::HashMod => {
                let v = hashmod(&joined(), c.modulus).to_string();
                set(labels, &c.target_label, v)
            }
            Action::LabelMap => self.labelmap(labels),
            Action::LabelDrop => labels.retain(|(n, _)| !self.regex.is_match(n)),
            Action::LabelKeep => labels.retain(|(n, _)| self.regex.is_match(n)),
        }
        true
    }

    fn replace(&self, labels: &mut Labels, value: &str) {
        let Some(caps) = self.regex.captures(value) else {
            return;
        };
        let mut target = String::new();
        caps.expand(&self.cfg.target_label, &mut target);
        if !valid_label_name(&target) {
            return;
        }
        let mut res = String::new();
        caps.expand(&self.cfg.replacement, &mut res);
        set(labels, &target, res);
    }

    fn labelmap(&self, labels: &mut Labels) {
        let mut added = vec![];
        for (n, v) in labels.iter() {
            if let Some(caps) = self.regex.captures(n) {
                let mut name = String::new();
                caps.expand(&self.cfg.replacement, &mut name);
                added.push((name, v.clone()));
            }
        }
        for (n, v) in added {
            set(labels, &n, v);
        }
    }
}

/// Prometheus's hashmod: the MD5 of the value, its last 8 bytes big-endian, modulo `m`.
pub fn hashmod(value: &str, m: u64) -> u64 {
    let sum = Md5::digest(value.as_bytes());
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&sum[8..]);
    u64::from_be_bytes(tail) % m
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn steps(yaml: &str) -> Vec<Relabel> {
        let cfgs: Vec<RelabelConfig> = serde_yaml_ng::from_str(yaml).unwrap();
        cfgs.iter().map(|c| c.compile().unwrap()).collect()
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn replace_with_groups_and_templated_target() {
        let s = steps(
            r#"
- source_labels: [a, b]
  regex: "f(.*);(.*)r"
  target_label: d
  replacement: "ch${1}-ch${2}"
- source_labels: [a]
  regex: "(f)(.*)"
  target_label: "${1}x"
  replacement: "$2"
"#,
        );
        let out = process(labels(&[("a", "foo"), ("b", "bar")]), &s).unwrap();
        assert_eq!(
            out,
            labels(&[("a", "foo"), ("b", "bar"), ("d", "choo-chba"), ("fx", "oo")])
        );
    }

    #[test]
    fn regex_is_anchored_and_no_match_changes_nothing() {
        let s = steps("- source_labels: [a]\n  regex: 'o'\n  target_label: b\n  replacement: x\n");
        let out = process(labels(&[("a", "foo")]), &s).unwrap();
        assert_eq!(out, labels(&[("a", "foo")]));
    }

    #[test]
    fn empty_replacement_deletes_the_target() {
        let s = steps("- source_labels: [a]\n  target_label: b\n  replacement: ''\n");
        let out = process(labels(&[("a", "foo"), ("b", "x")]), &s).unwrap();
        assert_eq!(out, labels(&[("a", "foo")]));
    }

    #[test]
    fn keep_drop_and_equal_actions() {
        let keep = steps("- source_labels: [a]\n  regex: 'f.*'\n  action: keep\n");
        assert!(process(labels(&[("a", "foo")]), &keep).is_some());
        assert!(process(labels(&[("a", "boo")]), &keep).is_none());
        let drop = steps("- source_labels: [a]\n  regex: 'f.*'\n  action: drop\n");
        assert!(process(labels(&[("a", "foo")]), &drop).is_none());
        assert!(process(labels(&[]), &drop).is_some());
        let ke = steps("- source_labels: [a]\n  target_label: b\n  action: keepequal\n");
        assert!(process(labels(&[("a", "1"), ("b", "1")]), &ke).is_some());
        assert!(process(labels(&[("a", "1"), ("b", "2")]), &ke).is_none());
        let de = steps("- source_labels: [a]\n  target_label: b\n  action: dropequal\n");
        assert!(process(labels(&[("a", "1"), ("b", "1")]), &de).is_none());
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // Prometheus's relabel_test.go: "baz" modulo 1000 is 976.
        let s =
            steps("- source_labels: [c]\n  modulus: 1000\n  target_label: d\n  action: hashmod\n");
        let out = process(labels(&[("a", "foo"), ("c", "baz")]), &s).unwrap();
        assert_eq!(out[2], ("d".into(), "976".into()));
    }

    #[test]
    fn labelmap_labeldrop_labelkeep_case() {
        let s = steps(
            "- regex: '__meta_(.+)'\n  action: labelmap\n- regex: '__meta_.*'\n  action: labeldrop\n\
             - source_labels: [pod]\n  target_label: up\n  action: uppercase\n",
        );
        let out = process(labels(&[("__meta_pod", "web"), ("x", "1")]), &s).unwrap();
        assert_eq!(out, labels(&[("pod", "web"), ("up", "WEB"), ("x", "1")]));
        let k = steps("- regex: 'x|y'\n  action: labelkeep\n");
        let out = process(labels(&[("x", "1"), ("z", "2")]), &k).unwrap();
        assert_eq!(out, labels(&[("x", "1")]));
    }

    #[test]
    fn checks_give_prometheus_messages() {
        let bad = |y: &str| {
            let c: Vec<RelabelConfig> = serde_yaml_ng::from_str(y).unwrap();
            c[0].compile().unwrap_err()
        };
        assert!(bad("- action: hashmod\n  target_label: a\n").contains("non-zero modulus"));
        assert!(bad("- action: replace\n").contains("requires 'target_label'"));
        assert!(bad("- action: labeldrop\n  source_labels: [a]\n").contains("only 'regex'"));
        assert!(
            bad("- source_labels: [a]\n  regex: '('\n  target_label: b\n")
                .contains("invalid regex")
        );
        assert!(serde_yaml_ng::from_str::<Vec<RelabelConfig>>("- action: bogus\n").is_err());
    }
}
