//! Splitting a file's bytes into entries: on newlines (a `\r` before the `\n` is dropped), or
//! where `multiline.line_start_pattern` / `line_end_pattern` match. An entry longer than
//! `max_log_size` is cut into pieces of that size, as otelcol does, so a buffer never holds
//! more than `max_log_size` bytes of one entry. Leading and trailing whitespace is trimmed
//! unless preserved. Patterns are multi-line (`^` matches at each line start), as otelcol
//! compiles them.

use super::config::FileLogConfig;
use regex::bytes::Regex;

#[derive(Debug, Clone)]
enum Mode {
    Newline,
    Start(Regex, bool),
    End(Regex, bool),
}

/// A configured splitter.
#[derive(Debug, Clone)]
pub struct Splitter {
    mode: Mode,
    max: usize,
    trim_leading: bool,
    trim_trailing: bool,
}

/// One entry found in a buffer: `advance` bytes are consumed, `token` is the entry's range.
#[derive(Debug, PartialEq, Eq)]
pub struct Split {
    pub advance: usize,
    pub token: std::ops::Range<usize>,
}

impl Splitter {
    pub fn new(c: &FileLogConfig) -> Result<Splitter, String> {
        let mode = match &c.multiline {
            None => Mode::Newline,
            Some(m) => {
                m.check()?;
                if m.line_start_pattern.is_empty() {
                    let re = Regex::new(&format!("(?m){}", m.line_end_pattern))
                        .map_err(|e| e.to_string())?;
                    Mode::End(re, m.omit_pattern)
                } else {
                    let re = Regex::new(&format!("(?m){}", m.line_start_pattern))
                        .map_err(|e| e.to_string())?;
                    Mode::Start(re, m.omit_pattern)
                }
            }
        };
        Ok(Splitter {
            mode,
            max: usize::try_from(c.max_log_size.0).unwrap_or(1 << 20).max(1),
            trim_leading: !c.preserve_leading_whitespaces,
            trim_trailing: !c.preserve_trailing_whitespaces,
        })
    }

    /// The next entry in `buf`; with `eof`, what remains is an entry too. None: need more data.
    pub fn next(&self, buf: &[u8], eof: bool) -> Option<Split> {
        if buf.is_empty() {
            return None;
        }
        let found = match &self.mode {
            Mode::Newline => memchr::memchr(b'\n', buf).map(|i| {
                let end = if i > 0 && buf[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                (i + 1, 0..end)
            }),
            Mode::Start(re, omit) => start_split(re, *omit, buf),
            Mode::End(re, omit) => re.find(buf).filter(|m| m.end() > 0).map(|m| {
                let end = if *omit { m.start() } else { m.end() };
                (m.end(), 0..end)
            }),
        };
        let (advance, token) = match found {
            Some((adv, tok)) if tok.end <= self.max => (adv, tok),
            _ if buf.len() >= self.max => (self.max, 0..self.max),
            Some(f) => f,
            None if eof => (buf.len(), 0..buf.len()),
            None => return None,
        };
        Some(Split {
            advance,
            token: self.trim(buf, token),
        })
    }

    fn trim(&self, buf: &[u8], mut r: std::ops::Range<usize>) -> std::ops::Range<usize> {
        if self.trim_leading {
            while r.start < r.end && buf[r.start].is_ascii_whitespace() {
                r.start += 1;
            }
        }
        if self.trim_trailing {
            while r.end > r.start && buf[r.end - 1].is_ascii_whitespace() {
                r.end -= 1;
            }
        }
        r
    }
}

/// An entry runs from one start match to the next; text before the first match is its own
/// entry.
fn start_split(re: &Regex, omit: bool, buf: &[u8]) -> Option<(usize, std::ops::Range<usize>)> {
    let first = re.find(buf)?;
    if first.start() > 0 {
        return Some((first.start(), 0..first.start()));
    }
    let from = first.end().max(1);
    let next = re.find_at(buf, from)?;
    let begin = if omit { first.end() } else { 0 };
    Some((next.start(), begin..next.start()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::file_log::config::MultilineConfig;
    use crate::file_log::size::StanzaSize;

    fn all(s: &Splitter, mut buf: &[u8], eof: bool) -> Vec<String> {
        let mut out = vec![];
        while let Some(sp) = s.next(buf, eof) {
            out.push(String::from_utf8_lossy(&buf[sp.token]).into_owned());
            buf = &buf[sp.advance..];
        }
        out
    }

    fn cfg(f: impl FnOnce(&mut FileLogConfig)) -> Splitter {
        let mut c = FileLogConfig::default();
        f(&mut c);
        Splitter::new(&c).unwrap()
    }

    #[test]
    fn newline_keeps_partial_until_eof() {
        let s = cfg(|_| {});
        assert_eq!(all(&s, b"a\r\n  b  \nc", false), ["a", "b"]);
        assert_eq!(all(&s, b"a\nc", true), ["a", "c"]);
    }

    #[test]
    fn long_lines_are_cut_at_max_log_size() {
        let s = cfg(|c| c.max_log_size = StanzaSize(4));
        assert_eq!(
            all(&s, b"abcdefghij\nxy\n", false),
            ["abcd", "efgh", "ij", "xy"]
        );
    }

    #[test]
    fn line_start_and_end_patterns() {
        let s = cfg(|c| {
            c.multiline = Some(MultilineConfig {
                line_start_pattern: "^Exception".into(),
                ..Default::default()
            })
        });
        let text = b"Exception a\n  at x\nException b\n  at y\n";
        assert_eq!(all(&s, text, false), ["Exception a\n  at x"]);
        assert_eq!(all(&s, text, true).len(), 2);
        let s = cfg(|c| {
            c.multiline = Some(MultilineConfig {
                line_end_pattern: "END\n".into(),
                omit_pattern: true,
                ..Default::default()
            })
        });
        assert_eq!(all(&s, b"a\nbEND\ncEND\nd", false), ["a\nb", "c"]);
    }
}
