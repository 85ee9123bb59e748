//! Glob patterns as otelcol's file matcher reads them (doublestar): `*` and `?` within one
//! path component, `**` across components, `[abc]` / `[!a-z]` classes and `{a,b}`
//! alternatives; and the directory walk that finds the files they match.

use regex::Regex;
use std::path::{Path, PathBuf};

/// A compiled glob.
#[derive(Debug, Clone)]
pub struct Glob {
    regex: Regex,
    /// The longest leading directory without wildcards: where the walk starts.
    base: PathBuf,
    /// Components after `base` (None: `**`, any depth).
    depth: Option<usize>,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let regex = Regex::new(&to_regex(pattern)?).map_err(|e| e.to_string())?;
        let comps: Vec<&str> = pattern.split('/').collect();
        let fixed = comps
            .iter()
            .take_while(|c| !c.contains(['*', '?', '[', '{']))
            .count()
            .min(comps.len().saturating_sub(1));
        let base = match comps[..fixed].join("/") {
            s if s.is_empty() && pattern.starts_with('/') => PathBuf::from("/"),
            s if s.is_empty() => PathBuf::from("."),
            s => PathBuf::from(s),
        };
        let rest = &comps[fixed..];
        let depth = (!rest.contains(&"**")).then_some(rest.len());
        Ok(Glob { regex, base, depth })
    }

    pub fn matches(&self, path: &str) -> bool {
        self.regex.is_match(path)
    }

    /// Regular files under the base directory that match, in lexical order.
    pub fn find(&self) -> Vec<PathBuf> {
        let mut out = vec![];
        walk(&self.base, self.depth.unwrap_or(usize::MAX), &mut |p| {
            if p.to_str().is_some_and(|s| self.matches(s)) {
                out.push(p.to_path_buf());
            }
        });
        out.sort();
        out
    }
}

fn walk(dir: &Path, depth: usize, f: &mut dyn FnMut(&Path)) {
    if depth == 0 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for ent in rd.flatten() {
        let path = if dir == Path::new(".") {
            PathBuf::from(ent.file_name())
        } else {
            ent.path()
        };
        // Follows symlinks, as otelcol does for files.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => f(&path),
            Ok(m) if m.is_dir() => walk(&path, depth - 1, f),
            _ => {}
        }
    }
}

fn to_regex(pattern: &str) -> Result<String, String> {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut in_alt = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    i += 1;
                    re.push_str("(?:[^/]*/)*");
                } else {
                    re.push_str(".*");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|c| *c == ']')
                    .ok_or_else(|| format!("syntax error in pattern {pattern:?}"))?;
                let class: String = chars[i + 1..i + 1 + end].iter().collect();
                let class = class
                    .strip_prefix(['!', '^'])
                    .map_or(class.clone(), |c| format!("^{c}"));
                re.push_str(&format!("[{class}]"));
                i += end + 1;
            }
            '{' => {
                in_alt += 1;
                re.push_str("(?:");
            }
            '}' if in_alt > 0 => {
                in_alt -= 1;
                re.push(')');
            }
            ',' if in_alt > 0 => re.push('|'),
            '\\' if i + 1 < chars.len() => {
                i += 1;
                re.push_str(&regex::escape(&chars[i].to_string()));
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    if in_alt > 0 {
        return Err(format!("syntax error in pattern {pattern:?}"));
    }
    re.push('$');
    Ok(re)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn matches_as_doublestar() {
        let g = Glob::new("/var/log/*.log").unwrap();
        assert!(g.matches("/var/log/a.log"));
        assert!(!g.matches("/var/log/x/a.log"));
        let g = Glob::new("/var/**/app{1,2}.log").unwrap();
        assert!(g.matches("/var/log/x/app2.log"));
        assert!(g.matches("/var/app1.log"));
        let g = Glob::new("/l/combined[0-9].log").unwrap();
        assert!(g.matches("/l/combined3.log") && !g.matches("/l/combined.log"));
        assert!(Glob::new("/l/[abc").is_err());
    }

    #[test]
    fn finds_files_under_the_base() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for f in ["a.log", "b.txt", "sub/c.log"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let base = dir.path().to_str().unwrap();
        let found = Glob::new(&format!("{base}/*.log")).unwrap().find();
        assert_eq!(found, vec![dir.path().join("a.log")]);
        let found = Glob::new(&format!("{base}/**/*.log")).unwrap().find();
        assert_eq!(found.len(), 2);
    }
}
