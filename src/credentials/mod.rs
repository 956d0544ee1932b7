//! Provider credentials that must be fetched and kept fresh off the request path.

pub mod aws;
pub mod azure;
pub mod google;
pub mod http;
pub mod vertex_tokens;

use pingora::server::ShutdownWatch;
use std::future::Future;
use std::time::Duration;

/// Tokens are fetched again this long before they expire.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);
/// A failed fetch is tried again after this long.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// With nothing due, the deployments are looked at again this often (a reload may add some).
pub const IDLE_CHECK: Duration = Duration::from_secs(60);

/// The loop every refresher runs: refresh what is due, sleep until the next is, stop on
/// shutdown.
pub async fn refresh_until_shutdown<F, Fut>(mut shutdown: ShutdownWatch, mut refresh_due: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Duration>,
{
    loop {
        let wait = refresh_due().await;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}
