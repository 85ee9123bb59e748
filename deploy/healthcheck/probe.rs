//! A tiny static health probe for the distroless image, which has no shell and no curl:
//! `GET http://127.0.0.1:13133/` and exit 0 when the answer is `HTTP/1.x 200`, 1 otherwise.
//! The address may be given as the first argument (`host:port`, optionally with a path:
//! `127.0.0.1:13133/health/status`). Built with plain `rustc` (no dependencies) in the
//! Dockerfile and by the deploy integration test, which runs it against a real ferrotel.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

fn probe(target: &str) -> Result<String, String> {
    let (host, path) = match target.find('/') {
        Some(i) => (&target[..i], &target[i..]),
        None => (target, "/"),
    };
    let addr = host
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}: no address"))?;
    let timeout = Duration::from_secs(3);
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head).map_err(|e| e.to_string())?;
    let line = String::from_utf8_lossy(&head[..n]);
    Ok(line.lines().next().unwrap_or("").to_string())
}

fn main() -> ExitCode {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:13133".to_string());
    match probe(&target) {
        Ok(status) if status.starts_with("HTTP/1.") && status.split(' ').nth(1) == Some("200") => {
            ExitCode::SUCCESS
        }
        Ok(status) => {
            eprintln!("unhealthy: {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}
