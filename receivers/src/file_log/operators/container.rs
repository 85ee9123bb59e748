//! `container`: parses Kubernetes container logs in the `docker` (JSON), `cri-o` and
//! `containerd` (`<time> <stream> <P|F> <log>`) formats, detected per entry unless `format`
//! is set, as otelcol does: the time becomes the timestamp, `log` the body, `stream` the
//! attribute `log.iostream`; CRI partial lines (`logtag` `P`) are joined per file up to the
//! final one (`F`), keeping the first line's other fields; and with
//! `add_metadata_from_filepath` (default) the `k8s.namespace.name`, `k8s.pod.name`,
//! `k8s.pod.uid`, `k8s.container.name` and `k8s.container.restart_count` resource attributes
//! come from `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart count>.log`.
//! Every error follows `on_error`; otelcol drops lines whose format is not detected or whose
//! fields fail after parsing, whatever `on_error` says.
//!
//! ```yaml
//! operators:
//!   - type: container
//!     format: containerd   # optional
//! ```

use super::config::{ContainerConfig, ParserOf, RecombineConfig, RegexConfig, TimeConfig};
use super::field::Field;
use super::parser::{go_regex, Json, Parser, Regex};
use super::recombine::Recombine;
use super::text::go_type;
use super::time::TimeParse;
use super::{Entry, Operator};
use serde_json::Value;

/// A container log format, in detection order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Docker = 0,
    Crio = 1,
    Containerd = 2,
}

const DOCKER: &str = r"^\{";
const CRIO: &str = r"^(?P<time>[^ Z]+) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$";
const CONTAINERD: &str =
    r"^(?P<time>[^ ^Z]+Z) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$";
/// The kubelet's log path; rotated files (`0.log.20250219-233547`) included.
const LOG_PATH: &str = r"^.*[/\\](?P<namespace>[^_]+)_(?P<pod_name>[^_]+)_(?P<uid>[a-f0-9\-]+)[/\\](?P<container_name>[^._]+)[/\\](?P<restart_count>\d+)\.log(\.\d{8}-\d{6})?$";
const K8S_METADATA: [(&str, &str); 5] = [
    ("namespace", "k8s.namespace.name"),
    ("pod_name", "k8s.pod.name"),
    ("uid", "k8s.pod.uid"),
    ("container_name", "k8s.container.name"),
    ("restart_count", "k8s.container.restart_count"),
];
const LOG_FILE_PATH: &str = "log.file.path";

pub struct Container {
    format: Option<Format>,
    parse_from: Field,
    detect: [regex::Regex; 3],
    /// By [`Format`]: the JSON parser, then the two CRI regex parsers.
    parsers: [Parser; 3],
    /// Docker and containerd times end in `Z`; CRI-O's carry an offset.
    times: [TimeParse; 2],
    log_path: Option<regex::Regex>,
    recombine: Recombine,
}

impl Container {
    pub fn new(c: &ParserOf<ContainerConfig>) -> Result<Container, String> {
        let format = match c.own.format.as_str() {
            "" => None,
            "docker" => Some(Format::Docker),
            "crio" => Some(Format::Crio),
            "containerd" => Some(Format::Containerd),
            other => return Err(format!("operator config has an invalid `format` field: {other:?}; ensure that the `format` field is set to one of `docker`, `crio`, `containerd`")),
        };
        let regex = |r: &str| Regex::new(&RegexConfig { regex: r.into() });
        let time = |layout: &str, location: &str| {
            TimeParse::new(&TimeConfig {
                parse_from: Some(Field::attribute("time")),
                layout_type: "gotime".into(),
                layout: layout.into(),
                location: location.into(),
            })
        };
        Ok(Container {
            format,
            parse_from: c.base.parse_from.clone(),
            detect: [go_regex(DOCKER)?, go_regex(CRIO)?, go_regex(CONTAINERD)?],
            parsers: [
                Parser::new(&c.base, Box::new(Json))?,
                Parser::new(&c.base, Box::new(regex(CRIO)?))?,
                Parser::new(&c.base, Box::new(regex(CONTAINERD)?))?,
            ],
            times: [
                time("2006-01-02T15:04:05.999Z", "UTC")?,
                time("2006-01-02T15:04:05.999999999Z07:00", "")?,
            ],
            log_path: c
                .own
                .add_metadata_from_filepath
                .then(|| go_regex(LOG_PATH))
                .transpose()?,
            recombine: Recombine::new(&RecombineConfig {
                is_last_entry: Some("attributes.logtag == 'F'".into()),
                combine_field: Some(Field::body()),
                combine_with: String::new(),
                max_log_size: c.own.max_log_size,
                ..RecombineConfig::default()
            })?,
        })
    }

    /// The internal `recombine` of CRI partial lines.
    pub fn recombine(&self) -> &Recombine {
        &self.recombine
    }

    fn detect(&self, e: &Entry) -> Result<Format, String> {
        let v = match self.parse_from.get(e) {
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(format!(
                    "type '{}' cannot be parsed as container logs",
                    go_type(other)
                ))
            }
            None => return Err("entry cannot be parsed as container logs".into()),
        };
        let formats = [Format::Docker, Format::Crio, Format::Containerd];
        formats
            .into_iter()
            .find(|f| self.detect[*f as usize].is_match(v))
            .ok_or_else(|| format!("entry cannot be parsed as container logs: {v}"))
    }

    /// Parses the entry; the format says whether it goes on to [`Container::recombine`].
    pub fn parse(&self, e: &mut Entry) -> Result<Format, String> {
        let format = match self.format {
            Some(f) => f,
            None => self
                .detect(e)
                .map_err(|err| format!("failed to detect a valid container log format: {err}"))?,
        };
        let name = ["docker", "crio", "containerd"][format as usize];
        self.parsers[format as usize]
            .process(e)
            .and_then(|()| self.mappings(format, e))
            .map_err(|err| format!("failed to process the {name} log: {err}"))?;
        Ok(format)
    }

    /// Time, `log`, `stream` and the metadata from the file path, as otelcol's callback.
    fn mappings(&self, format: Format, e: &mut Entry) -> Result<(), String> {
        let time = &self.times[usize::from(format == Format::Crio)];
        time.apply(e)
            .map_err(|err| format!("failed to parse time: {err}"))?;
        e.attributes.remove("time");
        e.body = e
            .attributes
            .remove("log")
            .ok_or("move: field log does not exist")?;
        let stream = e
            .attributes
            .remove("stream")
            .ok_or("move: field stream does not exist")?;
        e.attributes.insert("log.iostream".into(), stream);
        let Some(re) = &self.log_path else {
            return Ok(());
        };
        let path = match e.attributes.get(LOG_FILE_PATH) {
            Some(Value::String(p)) => p,
            other => {
                let t = other.map_or("<nil>", go_type);
                return Err(format!("type '{t}' cannot be parsed as log path field"));
            }
        };
        let caps = re
            .captures(path)
            .ok_or("failed to detect a valid log path")?;
        let values: Vec<(&str, String)> = K8S_METADATA
            .iter()
            .filter_map(|(group, key)| Some((*key, caps.name(group)?.as_str().to_string())))
            .collect();
        for (key, v) in values {
            e.resource.insert(key.into(), Value::String(v));
        }
        Ok(())
    }
}
