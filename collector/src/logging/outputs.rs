//! zap's `output_paths`: `stderr`, `stdout` or files (appended to, created if missing).

use std::io::Write;
use std::sync::{Arc, Mutex};

enum Output {
    Stdout,
    Stderr,
    File(Mutex<std::fs::File>),
}

/// Every output of a logger; each record is written to all of them.
#[derive(Clone)]
pub(crate) struct Outputs(Arc<Vec<Output>>);

impl Outputs {
    pub fn open(paths: &[String]) -> Result<Outputs, String> {
        let mut outs = vec![];
        for p in paths {
            outs.push(match p.as_str() {
                "stdout" => Output::Stdout,
                "stderr" => Output::Stderr,
                path => {
                    let path = path.strip_prefix("file://").unwrap_or(path);
                    let f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|e| format!("couldn't open sink {path:?}: {e}"))?;
                    Output::File(Mutex::new(f))
                }
            });
        }
        Ok(Outputs(Arc::new(outs)))
    }

    /// Writes one whole record to every output.
    pub fn write_record(&self, buf: &[u8]) {
        for o in self.0.iter() {
            let _ = match o {
                Output::Stdout => std::io::stdout().lock().write_all(buf),
                Output::Stderr => std::io::stderr().lock().write_all(buf),
                Output::File(f) => f.lock().unwrap_or_else(|e| e.into_inner()).write_all(buf),
            };
        }
    }
}

/// A record being formatted; written out whole when dropped.
pub(crate) struct RecordWriter {
    outputs: Outputs,
    buf: Vec<u8>,
}

impl Write for RecordWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.outputs.write_record(&self.buf);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Outputs {
    type Writer = RecordWriter;
    fn make_writer(&'a self) -> RecordWriter {
        RecordWriter {
            outputs: self.clone(),
            buf: Vec::with_capacity(256),
        }
    }
}
