//! Stopping, starting and restarting a host's Docker engine over SSH, for the operations
//! that need the engine down (a backup of the swarm state, maintenance). The Engine API
//! cannot stop its own engine, so this goes through the host's service manager: systemd
//! where it runs (with the socket unit, or the next request on the socket would start the
//! engine again), else the SysV `service` command (also what lab hosts answer).

use std::time::Duration;

use crate::redact::redact;
use crate::snapshot::Layer;
use crate::ssh::SshSession;
use crate::ssh::exec::RemoteCommand;
use crate::untrusted::visible;

/// What to do with a host's engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineOp {
    Stop,
    Start,
    Restart,
}

impl EngineOp {
    pub fn verb(self) -> &'static str {
        match self {
            EngineOp::Stop => "stop",
            EngineOp::Start => "start",
            EngineOp::Restart => "restart",
        }
    }
}

/// The engine could not be stopped or started on `host`.
#[derive(Debug, thiserror::Error)]
pub enum HostEngineError {
    #[error("{host}: could not {verb} the Docker engine: {source}")]
    Ssh {
        host: String,
        verb: &'static str,
        #[source]
        source: crate::ssh::SshError,
    },
    #[error(
        "{host}: `{script}` exited with {status}: {detail}; fix: check the engine's service on the host (`systemctl status docker` or `service docker status`)"
    )]
    Failed {
        host: String,
        script: String,
        status: u32,
        detail: String,
    },
}

impl HostEngineError {
    pub fn host(&self) -> &str {
        match self {
            HostEngineError::Ssh { host, .. } | HostEngineError::Failed { host, .. } => host,
        }
    }

    /// The SSH failure's own layer, else the engine's: its service manager refused.
    pub fn layer(&self) -> Layer {
        match self {
            HostEngineError::Ssh { source, .. } => source.layer(),
            HostEngineError::Failed { .. } => Layer::Engine,
        }
    }
}

/// The shell line that does `op` on a host: the same text plans show as the CLI equivalent.
pub fn script(op: EngineOp) -> String {
    let systemd = match op {
        EngineOp::Stop => "systemctl stop docker.socket docker.service",
        EngineOp::Start => "systemctl start docker.socket docker.service",
        EngineOp::Restart => "systemctl restart docker.service",
    };
    format!(
        "if [ -d /run/systemd/system ]; then {systemd}; else service docker {}; fi",
        op.verb()
    )
}

/// Runs `op` on the session's host (through `sudo -n` when the host says so), waiting at
/// most `deadline` for the service manager to finish.
pub async fn run(
    session: &SshSession,
    op: EngineOp,
    deadline: Duration,
) -> Result<(), HostEngineError> {
    let host = session.name().to_string();
    let cmd = RemoteCommand::shell(script(op))
        .sudo(session.host().sudo)
        .timeout(deadline);
    tracing::info!(host = %host, op = op.verb(), "engine service");
    let out = session
        .exec(&cmd)
        .await
        .map_err(|source| HostEngineError::Ssh {
            host: host.clone(),
            verb: op.verb(),
            source,
        })?;
    if out.success() {
        return Ok(());
    }
    let text = out.stderr_lossy();
    let text = if text.trim().is_empty() {
        out.stdout_lossy()
    } else {
        text
    };
    // The service manager's last words: the reason is at the end, and it is host text.
    let tail: String = text.trim().chars().rev().take(300).collect();
    let tail: String = tail.chars().rev().collect();
    Err(HostEngineError::Failed {
        host,
        script: script(op),
        status: out.status,
        detail: redact(&visible(&tail)).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_stops_the_socket_too_and_sysv_is_the_fallback() {
        let stop = script(EngineOp::Stop);
        assert!(stop.contains("systemctl stop docker.socket docker.service"));
        assert!(stop.ends_with("else service docker stop; fi"));
        assert!(script(EngineOp::Restart).contains("service docker restart"));
    }
}
