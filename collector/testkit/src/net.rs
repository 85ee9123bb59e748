//! Loopback ports for tests, without the race of "bind port 0, read the port, close, and let
//! someone else bind it": a component under test binds `127.0.0.1:0` and the test reads the
//! bound address back from it; a test that needs an address where *nothing* listens holds a
//! [`ReservedPort`].

use std::net::SocketAddr;

/// A loopback TCP port where nothing listens, held until dropped: connecting to it is refused,
/// and no other socket can bind it meanwhile (it is bound, without `SO_REUSEADDR`, and never
/// listens). For a destination that is down; drop it right before binding the port yourself
/// when the destination must come back on the same address.
pub struct ReservedPort {
    _socket: socket2::Socket,
    addr: SocketAddr,
}

impl ReservedPort {
    pub fn new() -> ReservedPort {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        socket.bind(&any.into()).expect("bind 127.0.0.1:0");
        let addr = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .expect("the bound address");
        ReservedPort {
            _socket: socket,
            addr,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Default for ReservedPort {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_listens_and_nobody_else_binds_it() {
        let r = ReservedPort::new();
        assert!(std::net::TcpStream::connect(r.addr()).is_err(), "refused");
        assert!(
            std::net::TcpListener::bind(r.addr()).is_err(),
            "held while reserved"
        );
        let addr = r.addr();
        drop(r);
        let l = std::net::TcpListener::bind(addr).expect("free once dropped");
        assert!(std::net::TcpStream::connect(l.local_addr().expect("addr")).is_ok());
    }
}
