//! Waiting on a condition instead of sleeping: a test that needs something to have happened
//! (a server started, a batch arrived, a counter moved) polls for it with a deadline, so it
//! neither flakes on a slow machine nor waits longer than it has to.

use std::time::Duration;

/// How often the condition is checked.
const POLL: Duration = Duration::from_millis(10);

/// Polls `condition` until it holds or `timeout` passes; whether it held. Uses tokio's clock,
/// so it also works under `tokio::time::pause`. Assert on the result with a message that shows
/// the state: `assert!(wait_for(|| x.len() == 3, SECS_5).await, "{x:?}")`.
pub async fn wait_for(mut condition: impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// [`wait_for`] for a condition that is itself async (an HTTP request, a lock).
pub async fn wait_for_async<F, Fut>(mut condition: F, timeout: Duration) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// [`wait_for`] for synchronous tests and threads: blocks the calling thread between checks.
pub fn wait_for_blocking(mut condition: impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}
