//! The little HTTP/1.1 the detectors need: one request per connection (`Connection: close`)
//! to a metadata service or the Docker socket, every step bounded by a deadline, the body
//! read whole (chunked or not).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A response: status code and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text, trimmed.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim().to_string()
    }
}

/// Where a request goes.
pub enum Target<'a> {
    /// `host:port` over TCP.
    Tcp(&'a str),
    /// A Unix socket path.
    Unix(&'a str),
}

/// Sends `method path` with `headers` and reads the response, all before `deadline`.
pub fn request(
    target: &Target<'_>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    deadline: Instant,
) -> Result<Response, String> {
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| "timed out".to_string())
    };
    let host = match target {
        Target::Tcp(h) => *h,
        Target::Unix(_) => "localhost",
    };
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "PUT" || method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    let raw = match target {
        Target::Tcp(addr) => {
            let sa = (addr.to_socket_addrs().map_err(|e| format!("{addr}: {e}"))?)
                .next()
                .ok_or_else(|| format!("{addr}: no address"))?;
            let s = TcpStream::connect_timeout(&sa, remaining()?)
                .map_err(|e| format!("connect {addr}: {e}"))?;
            exchange(s, &req, remaining)
        }
        Target::Unix(path) => {
            let s = UnixStream::connect(path).map_err(|e| format!("connect {path}: {e}"))?;
            exchange(s, &req, remaining)
        }
    }?;
    parse(&raw)
}

trait Timeouts {
    fn set(&self, d: Duration) -> std::io::Result<()>;
}
impl Timeouts for TcpStream {
    fn set(&self, d: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(d))?;
        self.set_write_timeout(Some(d))
    }
}
impl Timeouts for UnixStream {
    fn set(&self, d: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(d))?;
        self.set_write_timeout(Some(d))
    }
}

fn exchange<S: Read + Write + Timeouts>(
    mut s: S,
    req: &str,
    remaining: impl Fn() -> Result<Duration, String>,
) -> Result<Vec<u8>, String> {
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timed out".to_string(),
        _ => e.to_string(),
    };
    s.set(remaining()?).map_err(io)?;
    s.write_all(req.as_bytes()).map_err(io)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        s.set(remaining()?).map_err(io)?;
        match s.read(&mut buf).map_err(io)? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
        if out.len() > 4 << 20 {
            return Err("response larger than 4 MiB".into());
        }
    }
}

fn parse(raw: &[u8]) -> Result<Response, String> {
    let split = (raw.windows(4).position(|w| w == b"\r\n\r\n"))
        .ok_or_else(|| "malformed HTTP response".to_string())?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.lines();
    let status = (lines.next().and_then(|l| l.split_whitespace().nth(1)))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "malformed HTTP status line".to_string())?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok(Response { status, body })
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = (b.windows(2).position(|w| w == b"\r\n"))
            .ok_or_else(|| "malformed chunked body".to_string())?;
        let size = String::from_utf8_lossy(&b[..eol]);
        let size = size.split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16).map_err(|_| "malformed chunk size")?;
        b = &b[eol + 2..];
        if n == 0 {
            return Ok(out);
        }
        let chunk = b.get(..n).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        b = b.get(n + 2..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_plain_and_chunked_bodies() {
        let r = super::parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").unwrap();
        assert_eq!((r.status, r.text()), (200, "hi".to_string()));
        let raw = b"HTTP/1.1 404 NF\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = super::parse(raw).unwrap();
        assert_eq!((r.status, r.text()), (404, "abcde".to_string()));
    }
}
