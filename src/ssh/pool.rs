//! One SSH session per host, reused; connect a whole inventory in parallel.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex as AsyncMutex;
use tokio::task::JoinSet;

use super::{SecretSource, SshError, SshOptions, SshSession};
use crate::inventory::HostSpec;

type Slot = Arc<AsyncMutex<Option<SshSession>>>;

struct PoolInner {
    opts: SshOptions,
    secrets: Arc<dyn SecretSource>,
    slots: std::sync::Mutex<HashMap<String, Slot>>,
}

/// Sessions keyed by inventory host name. Cheap to clone (shared).
///
/// A live session is reused while the host's spec is unchanged; a dead one (or one for an
/// edited spec) is replaced on the next request. Concurrent requests for the same host
/// wait for one connect instead of racing.
#[derive(Clone)]
pub struct SshPool {
    inner: Arc<PoolInner>,
}

impl std::fmt::Debug for SshPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.inner.slots.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("SshPool").field("hosts", &n).finish()
    }
}

impl SshPool {
    pub fn new(opts: SshOptions, secrets: Arc<dyn SecretSource>) -> Self {
        Self {
            inner: Arc::new(PoolInner {
                opts,
                secrets,
                slots: std::sync::Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn options(&self) -> &SshOptions {
        &self.inner.opts
    }

    fn slot(&self, name: &str) -> Slot {
        let mut slots = self.inner.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(name.to_string()).or_default().clone()
    }

    /// The host's live session, connecting if needed.
    pub async fn session(&self, host: &HostSpec) -> Result<SshSession, SshError> {
        let slot = self.slot(&host.name);
        let mut guard = slot.lock().await;
        if let Some(s) = guard.as_ref() {
            if !s.is_closed() && s.host() == host {
                return Ok(s.clone());
            }
            tracing::debug!(host = %host.name, "replacing closed or outdated SSH session");
        }
        let s = SshSession::connect(host, &self.inner.opts, self.inner.secrets.as_ref()).await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// A live cached session, without connecting.
    pub fn cached(&self, name: &str) -> Option<SshSession> {
        let slot = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)?
            .clone();
        let guard = slot.try_lock().ok()?;
        guard.as_ref().filter(|s| !s.is_closed()).cloned()
    }

    /// Connects to every host in parallel. Results come back in the order of `hosts`;
    /// partial success is normal.
    pub async fn connect_all(
        &self,
        hosts: &[HostSpec],
    ) -> Vec<(String, Result<SshSession, SshError>)> {
        let mut set = JoinSet::new();
        for (i, h) in hosts.iter().enumerate() {
            let pool = self.clone();
            let h = h.clone();
            set.spawn(async move {
                let r = pool.session(&h).await;
                (i, h.name, r)
            });
        }
        let mut out: Vec<Option<(String, Result<SshSession, SshError>)>> =
            (0..hosts.len()).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, name, r)) => out[i] = Some((name, r)),
                Err(e) => tracing::error!("connect task failed: {e}"),
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| {
                    let name = hosts[i].name.clone();
                    let err = SshError::Protocol {
                        host: name.clone(),
                        message: "the connect task panicked".into(),
                    };
                    (name, Err(err))
                })
            })
            .collect()
    }

    /// Drops (and cleanly disconnects) the host's session.
    pub async fn forget(&self, name: &str) {
        let slot = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        if let Some(slot) = slot
            && let Some(s) = slot.lock().await.take()
        {
            s.close().await;
        }
    }

    /// Disconnects every session.
    pub async fn close_all(&self) {
        let slots: Vec<Slot> = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, v)| v)
            .collect();
        for slot in slots {
            if let Some(s) = slot.lock().await.take() {
                s.close().await;
            }
        }
    }
}
