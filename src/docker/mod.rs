//! The Docker Engine API over the shared SSH session, in process (bollard).
//!
//! Every HTTP request opens its own SSH channel on the host's [`SshSession`]:
//! - normally a `direct-streamlocal@openssh.com` channel to `/var/run/docker.sock`;
//! - if sshd refuses that (no permission on the socket for a non-root user, or
//!   `AllowStreamLocalForwarding no`), an exec channel running `docker system dial-stdio`
//!   (with `sudo -n` when the host is configured for sudo).
//!
//! hyper's HTTP/1 client speaks over the channel; the request gets a `Host` header (Docker
//! answers `400 missing required Host header` otherwise) and an origin-form target.
//!
//! The API version is taken from the unversioned `GET /_ping`'s `Api-Version` header
//! (engines reject a versioned path newer than they support, so bollard's default 1.53
//! cannot be sent to a 20.10 engine first): the lower of the engine's and bollard's.

pub mod guard;
pub mod lenient;

use std::sync::Arc;
use std::time::Duration;

use bollard::{BollardRequest, ClientVersion, Docker};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use russh::ChannelOpenFailure;
use tokio::sync::Semaphore;

use crate::ssh::{RemoteCommand, SshError, SshSession, exec::quote};

/// Where dockerd listens on Linux hosts.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The `Host` header sent with every request.
const HOST_HEADER: &str = "docker";

/// sshd's default `MaxSessions` is 10 session channels per connection; dial-stdio uses
/// session channels, so keep some headroom for exec.
const DIAL_STDIO_PARALLEL: usize = 6;

/// How the API is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// `direct-streamlocal` channel to the socket.
    Socket(String),
    /// `docker system dial-stdio` on an exec channel.
    DialStdio { sudo: bool },
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::Socket(p) => write!(f, "SSH stream to {p}"),
            Via::DialStdio { sudo: false } => f.write_str("docker system dial-stdio"),
            Via::DialStdio { sudo: true } => f.write_str("sudo -n docker system dial-stdio"),
        }
    }
}

/// Docker failures, each naming the host and the fix.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(
        "{host}: Docker is not installed (no `docker` command and no {socket}). Install \
         Docker Engine on the host"
    )]
    NotInstalled { host: String, socket: String },
    #[error(
        "{host}: the Docker daemon is not running ({detail}). Start it on the host, e.g. \
         `sudo systemctl start docker`, and check `journalctl -u docker` if it won't start"
    )]
    DaemonNotRunning { host: String, detail: String },
    #[error(
        "{host}: user {user} may not use the Docker socket {socket}{detail}. Add the user to the \
         docker group (`sudo usermod -aG docker {user}`, then reconnect) or enable sudo for \
         this host in the inventory (it needs passwordless `sudo -n docker`)",
        detail = if .detail.is_empty() { String::new() } else { format!(" ({})", .detail) }
    )]
    PermissionDenied {
        host: String,
        user: String,
        socket: String,
        detail: String,
    },
    #[error(
        "{host}: `sudo -n docker` did not run ({detail}). Make sure sudo is installed and \
         {user} may run docker through it without a password (a sudoers rule with NOPASSWD), \
         or add {user} to the docker group and turn sudo off for this host"
    )]
    SudoFailed {
        host: String,
        user: String,
        detail: String,
    },
    #[error(
        "{host}: sshd refuses to forward to the Docker socket ({failure:?}) and there is no \
         `docker` command for the dial-stdio fallback. Set `AllowStreamLocalForwarding yes` in \
         the host's sshd_config, or install the docker CLI there"
    )]
    ForwardingRefused {
        host: String,
        failure: ChannelOpenFailure,
    },
    #[error("{host}: the Docker API answered unexpectedly via {via}: {message}")]
    Protocol {
        host: String,
        via: Via,
        message: String,
    },
    #[error(
        "{host}: SSH works, but the Docker engine gave no answer to {request} within {}. \
         It is hung or overloaded: check `systemctl status docker` and `journalctl -u docker` \
         on the host (a stopped or deadlocked dockerd still accepts connections)",
        crate::limits::human(*.after)
    )]
    EngineTimeout {
        host: String,
        request: String,
        after: Duration,
    },
    #[error(
        "{host}: the Docker engine answers, but {request} got no answer within {}: its swarm \
         is stuck, most often because the swarm lost its quorum (too few managers reachable). \
         Bring managers back, or see `swarmdeck recover`",
        crate::limits::human(*.after)
    )]
    SwarmStuck {
        host: String,
        request: String,
        after: Duration,
    },
    #[error(
        "{host}: the Docker engine's answer to {request} is larger than {}; swarmdeck stopped \
         reading it. Check what the engine holds (thousands of containers or huge labels?)",
        crate::limits::human_bytes(*.limit)
    )]
    AnswerTooLarge {
        host: String,
        request: String,
        limit: u64,
    },
    #[error("{host}: Docker API error: {source}")]
    Api {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },
}

impl DockerError {
    pub fn host(&self) -> &str {
        match self {
            DockerError::Ssh(e) => e.host(),
            DockerError::NotInstalled { host, .. }
            | DockerError::DaemonNotRunning { host, .. }
            | DockerError::PermissionDenied { host, .. }
            | DockerError::SudoFailed { host, .. }
            | DockerError::ForwardingRefused { host, .. }
            | DockerError::Protocol { host, .. }
            | DockerError::EngineTimeout { host, .. }
            | DockerError::SwarmStuck { host, .. }
            | DockerError::AnswerTooLarge { host, .. }
            | DockerError::Api { host, .. } => host,
        }
    }

    /// Where the failure is: below the engine (network, SSH) or the engine itself.
    pub fn layer(&self) -> crate::snapshot::Layer {
        match self {
            DockerError::Ssh(e) => e.layer(),
            DockerError::SwarmStuck { .. } => crate::snapshot::Layer::Swarm,
            _ => crate::snapshot::Layer::Engine,
        }
    }

    /// Like [`DockerError::api`], asking the engine `GET /_ping` when a request timed out:
    /// an engine that answers at once while a swarm request hangs is alive, and its swarm
    /// is stuck (a manager without quorum keeps such requests waiting).
    pub async fn explain(host: &str, docker: &Docker, source: bollard::errors::Error) -> Self {
        match Self::api(host, source) {
            DockerError::EngineTimeout {
                host,
                request,
                after,
            } if alive(docker).await => DockerError::SwarmStuck {
                host,
                request,
                after,
            },
            other => other,
        }
    }

    /// A failed Engine API call, told apart: the guard's deadline or size limit, a channel
    /// that SSH could not open, or the engine's own answer.
    pub fn api(host: &str, source: bollard::errors::Error) -> DockerError {
        let host = host.to_string();
        if let Some(x) = guard::exceeded(&source) {
            return match x.clone() {
                guard::Exceeded::Deadline { request, after } => DockerError::EngineTimeout {
                    host,
                    request,
                    after,
                },
                guard::Exceeded::Size { request, limit } => DockerError::AnswerTooLarge {
                    host,
                    request,
                    limit,
                },
            };
        }
        match guard::ssh_failure(&source) {
            // The socket channel opened before: a refusal now means nothing listens on it.
            Some(SshError::ChannelRefused { .. }) => DockerError::DaemonNotRunning {
                host,
                detail: "its socket stopped accepting connections".into(),
            },
            Some(e) => DockerError::Ssh(e.clone()),
            None => DockerError::Api { host, source },
        }
    }
}

/// Whether the engine answers `GET /_ping` at once: an engine that is alive does, whatever
/// its swarm is doing; a hung one would cost a whole deadline more.
async fn alive(docker: &Docker) -> bool {
    const PROMPT: Duration = Duration::from_secs(2);
    matches!(tokio::time::timeout(PROMPT, docker.ping()).await, Ok(Ok(_)))
}

/// Options for [`DockerHost::connect_with`].
#[derive(Debug, Clone)]
pub struct DockerOptions {
    pub socket_path: String,
    /// Use `sudo -n` for the dial-stdio fallback. `None`: the host spec's `sudo` flag.
    pub sudo: Option<bool>,
    /// bollard's per-request timeout, in seconds.
    pub request_timeout_secs: u64,
    /// Skip the socket and go straight to dial-stdio (mostly for tests).
    pub force_dial_stdio: bool,
}

impl Default for DockerOptions {
    fn default() -> Self {
        Self {
            socket_path: DEFAULT_SOCKET.to_string(),
            sudo: None,
            request_timeout_secs: 120,
            force_dial_stdio: false,
        }
    }
}

/// A connected Docker client plus how it got there.
#[derive(Debug, Clone)]
pub struct DockerLink {
    pub docker: Docker,
    pub via: Via,
    /// Negotiated API version (e.g. 1.41 for Engine 20.10).
    pub api_version: ClientVersion,
    /// Engine version string reported by the daemon, e.g. "20.10.24+dfsg1".
    pub engine_version: Option<String>,
}

/// The per-request transport: one SSH channel per HTTP exchange.
#[derive(Clone)]
struct SshTransport {
    session: SshSession,
    via: Via,
    limit: Option<Arc<Semaphore>>,
}

type ChannelStream = russh::ChannelStream<russh::client::Msg>;

fn io_error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> bollard::errors::Error {
    bollard::errors::Error::IOError {
        err: std::io::Error::other(e),
    }
}

impl SshTransport {
    fn new(session: SshSession, via: Via) -> Self {
        let limit = match via {
            Via::DialStdio { .. } => Some(Arc::new(Semaphore::new(DIAL_STDIO_PARALLEL))),
            Via::Socket(_) => None,
        };
        Self {
            session,
            via,
            limit,
        }
    }

    fn dial_command(sudo: bool) -> RemoteCommand {
        RemoteCommand::new(["docker", "system", "dial-stdio"]).sudo(sudo)
    }

    async fn open(&self) -> Result<ChannelStream, SshError> {
        match &self.via {
            Via::Socket(path) => Ok(self.session.open_streamlocal(path).await?.into_stream()),
            Via::DialStdio { sudo } => {
                let ch = self.session_channel().await?;
                let line = Self::dial_command(*sudo)
                    .command_line()
                    .expect("static command is valid");
                ch.exec(false, line.as_bytes())
                    .await
                    .map_err(|e| SshError::Disconnected {
                        host: self.session.name().to_string(),
                        reason: e.to_string(),
                    })?;
                Ok(ch.into_stream())
            }
        }
    }

    /// A session channel for dial-stdio. sshd counts a channel against `MaxSessions`
    /// until its close is exchanged, a moment after our side is done with it, so a refusal
    /// right then is tried again shortly (within the request deadline).
    async fn session_channel(&self) -> Result<russh::Channel<russh::client::Msg>, SshError> {
        let give_up = tokio::time::Instant::now() + self.session.deadlines().request;
        let mut pause = Duration::from_millis(20);
        loop {
            match self.session.open_session_channel().await {
                Err(SshError::ChannelRefused { .. })
                    if tokio::time::Instant::now() + pause < give_up =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                other => return other,
            }
        }
    }

    /// One HTTP exchange on a fresh channel, within the request's [`guard::Budget`].
    async fn send(
        &self,
        req: BollardRequest,
    ) -> Result<Response<Incoming>, bollard::errors::Error> {
        let started = tokio::time::Instant::now();
        let request = guard::request_name(req.method(), req.uri().path());
        let budget = guard::budget(req.method(), req.uri().path(), self.session.deadlines());
        let permit = match &self.limit {
            Some(s) => Some(s.clone().acquire_owned().await.map_err(io_error)?),
            None => None,
        };
        let stream = self.open().await.map_err(io_error)?;
        let stream = guard::Guarded::new(stream, request, budget, started);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| bollard::errors::Error::HyperResponseError { err: e })?;
        let host = self.session.name().to_string();
        tokio::spawn(async move {
            // Upgrades: attach/exec hijack the connection after a 101.
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(%host, "docker HTTP connection ended: {e}");
            }
            drop(permit);
        });
        let (mut parts, body) = req.into_parts();
        let target = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        parts.uri = target.parse().map_err(|e: hyper::http::uri::InvalidUri| {
            bollard::errors::Error::InvalidURIError { err: e }
        })?;
        parts.headers.insert(
            hyper::header::HOST,
            hyper::header::HeaderValue::from_static(HOST_HEADER),
        );
        sender
            .send_request(Request::from_parts(parts, body))
            .await
            .map_err(|e| bollard::errors::Error::HyperResponseError { err: e })
    }

    /// Unversioned `GET /_ping`: works whatever API range the engine supports, costs the
    /// daemon next to nothing (`/version` runs `runc --version` on 20.10), and its headers
    /// say the API version (`Api-Version`) and the engine (`Server: Docker/20.10.24 (linux)`).
    async fn ping(&self) -> Result<Ping, DockerError> {
        let host = self.session.name();
        let protocol = |message: String| DockerError::Protocol {
            host: host.to_string(),
            via: self.via.clone(),
            message,
        };
        let req = Request::get("http://docker/_ping")
            .body(bollard::body_full(Bytes::new()))
            .map_err(|e| protocol(e.to_string()))?;
        let resp = self
            .send(req)
            .await
            .map_err(|e| DockerError::api(host, e))?;
        let status = resp.status();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let ping = Ping {
            api_version: header("api-version"),
            server: header("server"),
        };
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| {
                DockerError::api(host, bollard::errors::Error::HyperResponseError { err: e })
            })?
            .to_bytes();
        if !status.is_success() {
            return Err(protocol(format!(
                "GET /_ping answered {status}: {}",
                crate::redact::redact(String::from_utf8_lossy(&body).trim())
            )));
        }
        Ok(ping)
    }
}

/// What `GET /_ping` says in its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ping {
    api_version: Option<String>,
    server: Option<String>,
}

impl Ping {
    /// "Docker/20.10.24+dfsg1 (linux)" → "20.10.24+dfsg1".
    fn engine_version(&self) -> Option<String> {
        let server = self.server.as_deref()?;
        let rest = server.strip_prefix("Docker/")?;
        Some(rest.split_whitespace().next()?.to_string())
    }
}

fn parse_api_version(s: &str) -> Option<ClientVersion> {
    let (maj, min) = s.trim().split_once('.')?;
    Some(ClientVersion {
        major_version: maj.parse().ok()?,
        minor_version: min.parse().ok()?,
    })
}

/// What the host's shell says about Docker (used only when the socket channel failed).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Diagnosis {
    cli: bool,
    socket: bool,
    socket_rw: bool,
    /// The socket accepts connections from a process on the host (None: no python3 or
    /// curl there to try). If it does while our channel to it failed, sshd refuses the
    /// forwarding: OpenSSH answers that with a plain "connect failed".
    live: Option<bool>,
}

async fn diagnose(session: &SshSession, socket: &str) -> Result<Diagnosis, SshError> {
    let s = quote(socket);
    let script = format!(
        "if command -v docker >/dev/null 2>&1; then echo cli=1; else echo cli=0; fi; \
         if [ -S {s} ]; then echo sock=1; else echo sock=0; fi; \
         if [ -r {s} ] && [ -w {s} ]; then echo rw=1; else echo rw=0; fi; \
         if [ -S {s} ]; then \
           if command -v python3 >/dev/null 2>&1; then \
             if python3 -c 'import socket,sys; c=socket.socket(socket.AF_UNIX); c.settimeout(3); c.connect(sys.argv[1])' {s} 2>/dev/null; \
             then echo live=1; else echo live=0; fi; \
           elif command -v curl >/dev/null 2>&1; then \
             if curl -s -m 3 -o /dev/null --unix-socket {s} http://docker/_ping; \
             then echo live=1; else echo live=0; fi; \
           fi; \
         fi"
    );
    let out = session
        .exec(&RemoteCommand::shell(script).timeout(Duration::from_secs(20)))
        .await?;
    let text = out.stdout_lossy();
    let flag = |k: &str| text.lines().any(|l| l.trim() == format!("{k}=1"));
    let said = |k: &str| text.lines().any(|l| l.trim().starts_with(&format!("{k}=")));
    Ok(Diagnosis {
        cli: flag("cli"),
        socket: flag("sock"),
        socket_rw: flag("rw"),
        live: said("live").then(|| flag("live")),
    })
}

/// Runs `docker version` (same sudo as the fallback) and turns its stderr into a precise
/// error. Called only after dial-stdio failed.
async fn classify_cli_failure(session: &SshSession, sudo: bool, socket: &str) -> DockerError {
    let host = session.name().to_string();
    let user = session.host().user.clone();
    let cmd = RemoteCommand::new(["docker", "version", "--format", "{{.Server.APIVersion}}"])
        .sudo(sudo)
        .timeout(Duration::from_secs(30));
    let out = match session.exec(&cmd).await {
        Ok(o) => o,
        Err(e) => return e.into(),
    };
    cli_failure(host, user, sudo, socket, out.status, &out.stderr_lossy())
}

/// What `docker version`'s exit status and stderr say went wrong (pure, for tests).
fn cli_failure(
    host: String,
    user: String,
    sudo: bool,
    socket: &str,
    status: u32,
    stderr: &str,
) -> DockerError {
    let err = stderr.trim().to_string();
    let low = err.to_ascii_lowercase();
    let first_line = err.lines().next().unwrap_or("").to_string();
    if sudo && (low.contains("sudo:") || low.contains("a password is required")) {
        return DockerError::SudoFailed {
            host,
            user,
            detail: first_line,
        };
    }
    if low.contains("permission denied") {
        return DockerError::PermissionDenied {
            host,
            user,
            socket: socket.to_string(),
            detail: first_line,
        };
    }
    if low.contains("cannot connect to the docker daemon") || low.contains("connection refused") {
        return DockerError::DaemonNotRunning {
            host,
            detail: first_line,
        };
    }
    if low.contains("not found") && status == 127 {
        return DockerError::NotInstalled {
            host,
            socket: socket.to_string(),
        };
    }
    DockerError::Protocol {
        host,
        via: Via::DialStdio { sudo },
        message: if err.is_empty() {
            format!("`docker version` exited with status {status}")
        } else {
            first_line
        },
    }
}

/// Entry point: a bollard [`Docker`] that talks to a host's engine over its SSH session.
pub struct DockerHost;

impl DockerHost {
    /// Connects with default options and returns the negotiated client.
    pub async fn connect(session: &SshSession) -> Result<Docker, DockerError> {
        Ok(Self::connect_with(session, &DockerOptions::default())
            .await?
            .docker)
    }

    /// Connects, choosing the socket channel or the dial-stdio fallback, and negotiates
    /// the API version.
    pub async fn connect_with(
        session: &SshSession,
        opts: &DockerOptions,
    ) -> Result<DockerLink, DockerError> {
        let host = session.name().to_string();
        let user = session.host().user.clone();
        let sudo = opts.sudo.unwrap_or(session.host().sudo);
        let socket = opts.socket_path.clone();

        if !opts.force_dial_stdio {
            match session.open_streamlocal(&socket).await {
                Ok(ch) => {
                    // Reachable. Close it (a russh Channel is not closed on drop); every
                    // request opens its own.
                    let _ = ch.close().await;
                    let t = SshTransport::new(session.clone(), Via::Socket(socket.clone()));
                    let ping = t.ping().await?;
                    return Self::finish(t, ping, opts).await;
                }
                Err(SshError::ChannelRefused { failure, .. }) => {
                    tracing::debug!(%host, ?failure, "socket channel refused; diagnosing");
                    let d = diagnose(session, &socket).await?;
                    tracing::debug!(%host, ?d, "docker diagnosis");
                    let prohibited = failure == ChannelOpenFailure::AdministrativelyProhibited
                        || d.live == Some(true);
                    if !d.cli && !d.socket {
                        return Err(DockerError::NotInstalled { host, socket });
                    }
                    if !d.cli {
                        if prohibited {
                            return Err(DockerError::ForwardingRefused { host, failure });
                        }
                        if !d.socket_rw {
                            return Err(DockerError::PermissionDenied {
                                host,
                                user,
                                socket,
                                detail: String::new(),
                            });
                        }
                        return Err(DockerError::DaemonNotRunning {
                            host,
                            detail: format!("{socket} exists but refuses connections"),
                        });
                    }
                    if d.socket && d.socket_rw && !prohibited {
                        // The socket is there and usable by this user, yet connecting
                        // failed: nothing accepts on it.
                        return Err(DockerError::DaemonNotRunning {
                            host,
                            detail: format!("{socket} exists but refuses connections"),
                        });
                    }
                    if d.socket && !d.socket_rw && !sudo {
                        return Err(DockerError::PermissionDenied {
                            host,
                            user,
                            socket,
                            detail: String::new(),
                        });
                    }
                    // Fall through: docker CLI present; socket forbidden to forward, not
                    // accessible without sudo, or somewhere else (docker context).
                }
                Err(e) => return Err(e.into()),
            }
        }

        let via = Via::DialStdio { sudo };
        tracing::info!(%host, %via, "using the docker CLI's dial-stdio for the Engine API");
        let t = SshTransport::new(session.clone(), via);
        // The first ping doubles as the probe: each dial-stdio request starts a process.
        match t.ping().await {
            Ok(ping) => Self::finish(t, ping, opts).await,
            // A hung engine is not a CLI problem: say so rather than diagnose the CLI.
            Err(e @ DockerError::EngineTimeout { .. }) => Err(e),
            Err(probe_err) => {
                tracing::debug!(%host, "dial-stdio probe failed: {probe_err}");
                Err(classify_cli_failure(session, sudo, &socket).await)
            }
        }
    }

    /// Builds the client from the engine's `/_ping` answer.
    async fn finish(
        t: SshTransport,
        ping: Ping,
        opts: &DockerOptions,
    ) -> Result<DockerLink, DockerError> {
        let host = t.session.name().to_string();
        let via = t.via.clone();
        let server = ping
            .api_version
            .as_deref()
            .and_then(parse_api_version)
            .ok_or_else(|| DockerError::Protocol {
                host: host.clone(),
                via: via.clone(),
                message: "GET /_ping has no Api-Version header".into(),
            })?;
        let ours = *bollard::API_DEFAULT_VERSION;
        let start = if server < ours { server } else { ours };
        // bollard's CustomTransport trait is not exported; its blanket impl for closures is.
        // bollard's own timeout is only a backstop behind the guard's deadlines: it must
        // never cut a long operation the inventory allows.
        let backstop = opts
            .request_timeout_secs
            .max(t.session.deadlines().long.as_secs() + 10);
        let transport = move |req: BollardRequest| {
            let t = t.clone();
            async move { t.send(req).await }
        };
        let docker = Docker::connect_with_custom_transport(
            transport,
            Some("http://docker"),
            backstop,
            &start,
        )
        .map_err(|source| DockerError::api(&host, source))?;
        let api_version = docker.client_version();
        tracing::debug!(%host, %via, api = %format!("{}.{}", api_version.major_version, api_version.minor_version), "Docker API connected");
        Ok(DockerLink {
            docker,
            via,
            api_version,
            engine_version: ping.engine_version(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_api_versions() {
        let v = parse_api_version("1.41").unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        assert!(parse_api_version("1").is_none());
        assert!(parse_api_version("x.y").is_none());
        assert!(parse_api_version("1.41").unwrap() < *bollard::API_DEFAULT_VERSION);
    }

    #[test]
    fn engine_version_from_the_server_header() {
        let ping = |server: Option<&str>| Ping {
            api_version: Some("1.41".into()),
            server: server.map(str::to_string),
        };
        assert_eq!(
            ping(Some("Docker/20.10.24+dfsg1 (linux)")).engine_version(),
            Some("20.10.24+dfsg1".into())
        );
        assert_eq!(ping(Some("nginx")).engine_version(), None);
        assert_eq!(ping(None).engine_version(), None);
    }

    proptest::proptest! {
        #![proptest_config(crate::prop_config(1000))]

        /// Whatever a host's docker CLI or engine answers, classifying it cannot panic and
        /// the error quotes at most the answer's first line.
        #[test]
        fn docker_error_text_is_classified_in_bounds(
            stderr in "(sudo: |a password is required|permission denied|Cannot connect to the Docker daemon|connection refused|not found|\\PC|\n|\r| ){0,40}",
            status in proptest::prop_oneof![proptest::strategy::Just(127u32), proptest::prelude::any::<u32>()],
            sudo in proptest::prelude::any::<bool>(),
            version in "[0-9.a-z ]{0,12}",
            server in proptest::option::of("(Docker/)?\\PC{0,20}"),
        ) {
            let e = cli_failure("h".into(), "u".into(), sudo, "/run/docker.sock", status, &stderr);
            proptest::prop_assert!(e.to_string().len() <= stderr.len() + 600, "{e}");
            let _ = parse_api_version(&version);
            let ping = Ping { api_version: None, server };
            if let Some(v) = ping.engine_version() {
                proptest::prop_assert!(v.len() <= 20 * 4);
            }
        }
    }

    #[test]
    fn dial_stdio_command_lines() {
        assert_eq!(
            SshTransport::dial_command(false).command_line().unwrap(),
            "docker system dial-stdio"
        );
        assert_eq!(
            SshTransport::dial_command(true).command_line().unwrap(),
            "sudo -n -- docker system dial-stdio"
        );
    }
}
