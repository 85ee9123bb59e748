//! The TCP listeners of a running collector, kept open across a configuration reload.
//!
//! Every component that listens (receivers, health_check, self-metrics, pull exporters) binds
//! through [`Listeners::bind`], naming the config key it binds for (its owner). Within one
//! service each socket is handed out once. When the
//! collector reloads its configuration, the old service stops accepting and shuts down while
//! the pool keeps its sockets open (the kernel queues new connections in their backlog); the
//! new service asks for the same endpoints and gets the same sockets back, so clients never
//! see a refused connection. Sockets the new service did not ask for are then closed.
//!
//! ```text
//! pool.begin_generation();   // before starting the next service
//! service.start().await;     // components call ctx.listeners.bind(owner, endpoint)
//! pool.release_unclaimed();  // close what the new configuration no longer listens on
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// A shared pool of bound TCP listeners; clones share the pool. A socket is closed once the
/// pool released it (or was dropped) and the server using it stopped.
#[derive(Clone, Default)]
pub struct Listeners(Arc<Mutex<Vec<Entry>>>);

struct Entry {
    /// The config key it was bound for (`receivers.otlp.protocols.grpc.endpoint`).
    owner: String,
    /// The endpoint as configured.
    endpoint: String,
    addr: SocketAddr,
    listener: Arc<TcpListener>,
    /// Taken by the current generation (the service being started or running).
    claimed: bool,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held: Vec<SocketAddr> = self.lock().iter().map(|e| e.addr).collect();
        f.debug_tuple("Listeners").field(&held).finish()
    }
}

impl Listeners {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A listener on `endpoint` (`host:port`) for the config key `owner`: a socket a previous
    /// generation held, not yet taken, if one matches, else a newly bound one. An endpoint with
    /// a fixed port matches the held socket bound to the address it resolves to, whoever bound
    /// it and however it was spelled (the port is taken by it anyway); port 0 matches only the
    /// same owner with the same spelling.
    pub async fn bind(&self, owner: &str, endpoint: &str) -> std::io::Result<Arc<TcpListener>> {
        let resolved: Vec<SocketAddr> = match tokio::net::lookup_host(endpoint).await {
            Ok(addrs) => addrs.filter(|a| a.port() != 0).collect(),
            Err(_) => vec![],
        };
        if let Some(held) = self.claim(owner, endpoint, &resolved) {
            return Ok(held);
        }
        let listener = Arc::new(TcpListener::bind(endpoint).await?);
        let addr = listener.local_addr()?;
        self.lock().push(Entry {
            owner: owner.to_string(),
            endpoint: endpoint.to_string(),
            addr,
            listener: listener.clone(),
            claimed: true,
        });
        Ok(listener)
    }

    fn claim(
        &self,
        owner: &str,
        endpoint: &str,
        resolved: &[SocketAddr],
    ) -> Option<Arc<TcpListener>> {
        let mut entries = self.lock();
        let entry = entries.iter_mut().find(|e| {
            !e.claimed
                && if resolved.is_empty() {
                    e.owner == owner && e.endpoint == endpoint
                } else {
                    resolved.contains(&e.addr)
                }
        })?;
        entry.claimed = true;
        Some(entry.listener.clone())
    }

    /// Starts a new generation: every held socket may be taken again by the next service.
    pub fn begin_generation(&self) {
        for e in self.lock().iter_mut() {
            e.claimed = false;
        }
    }

    /// Closes (once their servers stopped) the sockets the current generation did not take.
    pub fn release_unclaimed(&self) {
        self.lock().retain(|e| e.claimed);
    }

    /// The addresses held, for logs and tests.
    pub fn held(&self) -> Vec<SocketAddr> {
        self.lock().iter().map(|e| e.addr).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_endpoint_is_bound_once_per_generation_and_kept_across() {
        let pool = Listeners::default();
        let a = pool.bind("a", "127.0.0.1:0").await.unwrap();
        let b = pool.bind("b", "127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        assert_ne!(
            a_addr, b_addr,
            "two listeners of one generation get two sockets"
        );
        pool.begin_generation();
        let other = pool.bind("c", "127.0.0.1:0").await.unwrap();
        assert!(
            ![a_addr, b_addr].contains(&other.local_addr().unwrap()),
            "port 0 of another owner is a new socket"
        );
        let again = pool.bind("a", "127.0.0.1:0").await.unwrap();
        assert_eq!(again.local_addr().unwrap(), a_addr);
        let by_port = pool.bind("c", &b_addr.to_string()).await.unwrap();
        assert_eq!(by_port.local_addr().unwrap(), b_addr);
        let by_name = format!("localhost:{}", a_addr.port());
        pool.begin_generation();
        assert_eq!(
            pool.bind("a", &by_name)
                .await
                .unwrap()
                .local_addr()
                .unwrap(),
            a_addr,
            "a fixed port matches the held socket of the address it resolves to"
        );
    }

    #[tokio::test]
    async fn unclaimed_sockets_close_on_release() {
        let pool = Listeners::default();
        let kept = pool
            .bind("a", "127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let dropped = pool
            .bind("b", "127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        pool.begin_generation();
        pool.bind("a", "127.0.0.1:0").await.unwrap();
        pool.release_unclaimed();
        assert_eq!(pool.held(), vec![kept]);
        assert!(tokio::net::TcpStream::connect(kept).await.is_ok());
        let refused = tokio::net::TcpStream::connect(dropped).await;
        assert!(
            refused.is_err(),
            "released socket still accepts: {refused:?}"
        );
    }

    #[tokio::test]
    async fn a_taken_port_is_an_error() {
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = other.local_addr().unwrap().to_string();
        assert!(Listeners::default().bind("a", &addr).await.is_err());
    }
}
