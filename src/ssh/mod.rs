//! The SSH connection layer: one multiplexed [`SshSession`] per host (russh), host-key
//! checking against OpenSSH known_hosts files, agent/key/password authentication, remote
//! exec, and a pool that connects to a whole inventory in parallel.
//!
//! Errors ([`SshError`]) name the host and say what to do; they never contain secrets.

pub mod auth;
pub mod exec;
pub mod known_hosts;
pub mod pool;
pub mod stream;
pub mod tcp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, DisconnectReason, Handle, Msg};
use russh::keys::{PublicKey, PublicKeyOrCertificate};
use russh::{Channel, ChannelOpenFailure};

pub use auth::{NoSecrets, Secret, SecretKind, SecretRequest, SecretSource};
pub use exec::{ExecOutput, RemoteCommand};
pub use known_hosts::{KnownHosts, KnownKey, Verdict};
pub use pool::SshPool;

use crate::inventory::{HostSpec, Inventory};
use crate::limits::Deadlines;
use crate::snapshot::Layer;

/// What to do with a host key that no known_hosts file lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Refuse unknown keys with [`SshError::HostKeyUnknown`] (carries the fingerprint and
    /// whose key it is, so a UI can ask the user and retry with
    /// [`HostKeyPolicy::TrustFingerprint`]).
    #[default]
    Strict,
    /// OpenSSH `accept-new`: record keys of hosts no known_hosts file lists in the app's
    /// file. A host listed with keys of other types is not new: refused.
    AcceptNew,
    /// Record an unknown key only if it is this host's (`known_as`, the known_hosts name
    /// [`SshError::HostKeyUnknown`] reported, e.g. a jump host's) and its SHA256 fingerprint
    /// is exactly this one (the one the user just approved); any other unknown key is
    /// refused as under `Strict`.
    TrustFingerprint {
        known_as: String,
        fingerprint: String,
    },
}

/// Connection settings shared by all hosts.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Connect, login, channel-open and request deadlines for every host.
    pub deadlines: Deadlines,
    /// Send a keepalive when nothing was received for this long.
    pub keepalive_interval: Option<Duration>,
    /// Drop the connection after this many unanswered keepalives.
    pub keepalive_max: usize,
    /// Close the session after this long without any traffic (None: never).
    pub inactivity_timeout: Option<Duration>,
    pub host_key_policy: HostKeyPolicy,
    pub known_hosts: KnownHosts,
    /// ssh-agent socket for agent auth; `None`: `$SSH_AUTH_SOCK`.
    pub agent_socket: Option<PathBuf>,
}

impl Default for SshOptions {
    fn default() -> Self {
        Self {
            deadlines: Deadlines::default(),
            // A silent connection is declared dead after about 15 s (3 unanswered).
            keepalive_interval: Some(Duration::from_secs(5)),
            keepalive_max: 3,
            inactivity_timeout: None,
            host_key_policy: HostKeyPolicy::Strict,
            known_hosts: KnownHosts::standard(Vec::new()),
            agent_socket: None,
        }
    }
}

impl SshOptions {
    /// Defaults plus the inventory's extra known_hosts files and timeouts.
    pub fn for_inventory(inventory: &Inventory, policy: HostKeyPolicy) -> Self {
        Self {
            deadlines: Deadlines::resolve(&inventory.timeouts, None),
            host_key_policy: policy,
            known_hosts: KnownHosts::standard(inventory.known_hosts.clone())
                .with_ssh_files(crate::import::configured_known_hosts()),
            ..Self::default()
        }
    }

    fn russh_config(&self) -> client::Config {
        client::Config {
            keepalive_interval: self.keepalive_interval,
            keepalive_max: self.keepalive_max,
            inactivity_timeout: self.inactivity_timeout,
            nodelay: true,
            ..Default::default()
        }
    }
}

fn join(v: &[String]) -> String {
    if v.is_empty() {
        "nothing".to_string()
    } else {
        v.join(", ")
    }
}

/// SSH failures. Every message names the host and the fix; none contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    #[error(
        "{host}: cannot reach {addr}: {reason}. Check the address and port in the inventory, \
         that the machine is up, that sshd listens there and no firewall blocks it"
    )]
    Unreachable {
        host: String,
        addr: String,
        reason: String,
    },
    #[error(
        "{host}: the SSH host key of {addr} is not known yet ({key_type} {fingerprint}). Verify \
         it on the machine (`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub`) and accept it if it \
         matches (in the app, or with --accept-new-host-keys on the command line)"
    )]
    HostKeyUnknown {
        /// Whose key: the host, or its jump host (`ADDR (jump host of HOST)`).
        host: String,
        addr: String,
        /// The host as known_hosts names it (`addr` or `[addr]:port`).
        known_as: String,
        key_type: String,
        fingerprint: String,
    },
    #[error(
        "{host}: {addr} presents a {key_type} host key ({fingerprint}), but known_hosts lists \
         it only with keys of other types ({known}), and it did not prove one of those. \
         It may be an impostor without the host's real key. Refused, also with \
         --accept-new-host-keys: check on the machine which host keys sshd offers \
         (`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub`); if this key is genuine, add it to \
         ~/.ssh/known_hosts yourself (`ssh-keyscan -t {key_type} -p PORT ADDRESS`, compare the \
         fingerprint) or restore the known key on the server",
        known = .known.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    HostKeyOtherType {
        host: String,
        addr: String,
        key_type: String,
        fingerprint: String,
        known: Vec<KnownKey>,
    },
    #[error(
        "{host}: THE SSH HOST KEY OF {addr} HAS CHANGED: it now presents {key_type} \
         {fingerprint}, but {file}:{line} lists a different key. Someone may be intercepting \
         the connection. If the machine was reinstalled, verify the new fingerprint on it, \
         remove line {line} of {file} (or run `ssh-keygen -R` for the host) and connect again",
        file = .file.display()
    )]
    HostKeyChanged {
        host: String,
        addr: String,
        key_type: String,
        fingerprint: String,
        file: PathBuf,
        line: usize,
    },
    #[error(
        "{host}: the SSH host key {fingerprint} of {addr} is marked @revoked in {file}:{line}; \
         refusing to connect. Give the machine a new host key",
        file = .file.display()
    )]
    HostKeyRevoked {
        host: String,
        addr: String,
        fingerprint: String,
        file: PathBuf,
        line: usize,
    },
    #[error("{host}: cannot check the host key: {message}")]
    KnownHosts { host: String, message: String },
    #[error(
        "{host}: SSH authentication as {user} failed (tried: {tried}; the server accepts: \
         {allows}). {hint}",
        tried = join(.tried),
        allows = join(.server_allows)
    )]
    AuthFailed {
        host: String,
        user: String,
        tried: Vec<String>,
        server_allows: Vec<String>,
        hint: String,
    },
    #[error("{host}: private key {path}: {reason}", path = .path.display())]
    KeyFile {
        host: String,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "{host}: the SSH connection was lost ({reason}). Reconnect; if it keeps happening check \
         the network and the host's sshd"
    )]
    Disconnected { host: String, reason: String },
    #[error("{host}: the SSH server refused to open a channel ({failure:?}): {what}")]
    ChannelRefused {
        host: String,
        what: String,
        failure: ChannelOpenFailure,
    },
    #[error("{host}: no answer within {}: {what}", crate::limits::human(*.after))]
    Timeout {
        host: String,
        what: String,
        after: Duration,
    },
    #[error(
        "{host}: {what} printed more than {}; swarmdeck stopped reading it",
        crate::limits::human_bytes(*.limit)
    )]
    TooMuchOutput {
        host: String,
        what: String,
        limit: u64,
    },
    #[error("{host}: SSH protocol error: {message}")]
    Protocol { host: String, message: String },
    #[error("{host}: refusing to run a remote command: {reason}")]
    InvalidCommand { host: String, reason: String },
}

impl SshError {
    /// The inventory name of the host this error is about.
    pub fn host(&self) -> &str {
        match self {
            SshError::Unreachable { host, .. }
            | SshError::HostKeyUnknown { host, .. }
            | SshError::HostKeyOtherType { host, .. }
            | SshError::HostKeyChanged { host, .. }
            | SshError::HostKeyRevoked { host, .. }
            | SshError::KnownHosts { host, .. }
            | SshError::AuthFailed { host, .. }
            | SshError::KeyFile { host, .. }
            | SshError::Disconnected { host, .. }
            | SshError::ChannelRefused { host, .. }
            | SshError::Timeout { host, .. }
            | SshError::TooMuchOutput { host, .. }
            | SshError::Protocol { host, .. }
            | SshError::InvalidCommand { host, .. } => host,
        }
    }

    /// Where the failure is: the network below SSH (no TCP connection), or SSH itself.
    pub fn layer(&self) -> Layer {
        match self {
            // The machine answered with a refusal: the network works, no sshd listens.
            SshError::Unreachable { reason, .. } if reason.starts_with("connection refused") => {
                Layer::Ssh
            }
            SshError::Unreachable { .. } => Layer::Network,
            _ => Layer::Ssh,
        }
    }

    /// Maps a raw russh error on an established session.
    pub(crate) fn from_russh(host: &str, e: russh::Error) -> Self {
        use russh::Error as E;
        let host = host.to_string();
        match e {
            E::ChannelOpenFailure(failure) => SshError::ChannelRefused {
                host,
                what: "channel open".into(),
                failure,
            },
            E::Disconnect | E::HUP | E::SendError | E::RecvError => SshError::Disconnected {
                host,
                reason: "the session is closed".into(),
            },
            E::KeepaliveTimeout => SshError::Disconnected {
                host,
                reason: "the server stopped answering keepalives".into(),
            },
            E::InactivityTimeout => SshError::Disconnected {
                host,
                reason: "closed after the inactivity timeout".into(),
            },
            E::IO(io) => SshError::Disconnected {
                host,
                reason: io.to_string(),
            },
            other => SshError::Protocol {
                host,
                message: other.to_string(),
            },
        }
    }
}

/// What the host-key check decided, reported from inside the russh handler.
#[derive(Debug, Clone)]
enum KeyRefusal {
    Unknown {
        key_type: String,
        fingerprint: String,
    },
    OtherType {
        key_type: String,
        fingerprint: String,
        known: Vec<KnownKey>,
    },
    Changed {
        key_type: String,
        fingerprint: String,
        file: PathBuf,
        line: usize,
    },
    Revoked {
        fingerprint: String,
        file: PathBuf,
        line: usize,
    },
    Error(String),
}

#[derive(Default)]
struct HandlerState {
    refusal: Option<KeyRefusal>,
    fingerprint: Option<String>,
    disconnect: Option<String>,
}

/// russh client handler: host-key verification and disconnect bookkeeping.
pub struct ClientHandler {
    address: String,
    port: u16,
    policy: HostKeyPolicy,
    known_hosts: KnownHosts,
    state: Arc<Mutex<HandlerState>>,
}

impl ClientHandler {
    fn decide(&self, key: &PublicKey) -> Result<bool, KeyRefusal> {
        let fingerprint = known_hosts::fingerprint(key);
        let key_type = key.algorithm().to_string();
        let verdict = self
            .known_hosts
            .check(&self.address, self.port, key)
            .map_err(|e| KeyRefusal::Error(e.to_string()))?;
        match verdict {
            Verdict::Trusted => Ok(true),
            Verdict::Changed { file, line } => Err(KeyRefusal::Changed {
                key_type,
                fingerprint,
                file,
                line,
            }),
            Verdict::Revoked { file, line } => Err(KeyRefusal::Revoked {
                fingerprint,
                file,
                line,
            }),
            Verdict::OtherTypeKnown { known } => Err(KeyRefusal::OtherType {
                key_type,
                fingerprint,
                known,
            }),
            Verdict::Unknown => {
                let accept = match &self.policy {
                    HostKeyPolicy::Strict => false,
                    HostKeyPolicy::AcceptNew => true,
                    HostKeyPolicy::TrustFingerprint {
                        known_as,
                        fingerprint: fp,
                    } => {
                        *known_as == known_hosts::host_port_string(&self.address, self.port)
                            && *fp == fingerprint
                    }
                };
                if !accept {
                    return Err(KeyRefusal::Unknown {
                        key_type,
                        fingerprint,
                    });
                }
                self.known_hosts
                    .accept(&self.address, self.port, key)
                    .map_err(|e| KeyRefusal::Error(e.to_string()))?;
                tracing::info!(
                    host = %self.address, port = self.port, %fingerprint,
                    file = ?self.known_hosts.app_file,
                    "recorded new SSH host key"
                );
                Ok(true)
            }
        }
    }
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // Without @cert-authority support a certificate is checked as its plain key, which
        // is what OpenSSH falls back to when no CA matches.
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => PublicKey::from(cert.public_key().clone()),
        };
        let decision = self.decide(&key);
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.fingerprint = Some(known_hosts::fingerprint(&key));
        match decision {
            Ok(ok) => Ok(ok),
            Err(r) => {
                st.refusal = Some(r);
                Ok(false)
            }
        }
    }

    async fn disconnected(
        &mut self,
        reason: DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match reason {
            DisconnectReason::ReceivedDisconnect(info) => {
                st.disconnect = Some(format!(
                    "the server closed the connection ({:?}: {})",
                    info.reason_code, info.message
                ));
                Ok(())
            }
            DisconnectReason::Error(e) => {
                st.disconnect = Some(e.to_string());
                Err(e)
            }
        }
    }
}

struct SessionInner {
    host: HostSpec,
    handle: Handle<ClientHandler>,
    state: Arc<Mutex<HandlerState>>,
    host_key_fingerprint: String,
    deadlines: Deadlines,
    /// The jump host's session this one is tunnelled through: kept alive with it.
    _jump: Option<SshSession>,
}

/// What an SSH connection can run over: a TCP stream or a channel of another connection.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

impl Drop for SessionInner {
    fn drop(&mut self) {
        tracing::debug!(host = %self.host.name, "SSH session dropped");
    }
}

/// An authenticated SSH connection to one host. Cheap to clone; every clone multiplexes
/// channels over the same connection.
#[derive(Clone)]
pub struct SshSession {
    inner: Arc<SessionInner>,
}

impl std::fmt::Debug for SshSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshSession")
            .field("host", &self.inner.host.name)
            .field("address", &self.inner.host.address)
            .field("closed", &self.is_closed())
            .finish()
    }
}

async fn tcp_connect(host: &HostSpec, timeout: Duration) -> Result<tcp::QuickAckStream, SshError> {
    let addr_str = format!("{}:{}", host.address, host.port);
    let unreachable = |reason: String| SshError::Unreachable {
        host: host.name.clone(),
        addr: addr_str.clone(),
        reason,
    };
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        timeout,
        tokio::net::lookup_host((host.address.as_str(), host.port)),
    )
    .await
    .map_err(|_| unreachable(format!("name lookup timed out after {timeout:?}")))?
    .map_err(|e| unreachable(format!("cannot resolve the name: {e}")))?
    .collect();
    if addrs.is_empty() {
        return Err(unreachable("the name resolves to no address".into()));
    }
    let mut last = String::new();
    for a in addrs {
        // A torn-down lab's address would leave the machine through the default route.
        if let Some(reason) = crate::lab::unheld_lab_address(a.ip()) {
            last = reason;
            continue;
        }
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(a)).await {
            Ok(Ok(s)) => return Ok(tcp::QuickAckStream::new(s)),
            Ok(Err(e)) => {
                last = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => {
                        format!("connection refused by {a} (nothing listens on that port)")
                    }
                    std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable => {
                        format!("no route to {a}")
                    }
                    _ => format!("{a}: {e}"),
                }
            }
            Err(_) => last = format!("no answer from {a} within {timeout:?}"),
        }
    }
    Err(unreachable(last))
}

/// The host-key algorithms to negotiate: those of key types known for the host first, as
/// OpenSSH orders them, so a host known by ECDSA proves that key even if it prefers another.
fn host_key_algorithms(
    host: &HostSpec,
    known_hosts: &KnownHosts,
) -> Result<Vec<russh::keys::Algorithm>, known_hosts::KnownHostsError> {
    let known = known_hosts.known_algorithms(&host.address, host.port)?;
    Ok(known_hosts::order_host_key_algorithms(
        &known,
        &russh::Preferred::DEFAULT.key,
    ))
}

impl SshSession {
    /// Connects, verifies the host key per `opts.host_key_policy`, and authenticates with
    /// the host's configured method (secrets from `secrets`).
    pub async fn connect(
        host: &HostSpec,
        opts: &SshOptions,
        secrets: &dyn SecretSource,
    ) -> Result<SshSession, SshError> {
        let addr = format!("{}:{}", host.address, host.port);
        let (stream, jump) = Self::transport(host, opts, secrets).await?;
        let state = Arc::new(Mutex::new(HandlerState::default()));
        let handler = ClientHandler {
            address: host.address.clone(),
            port: host.port,
            policy: opts.host_key_policy.clone(),
            known_hosts: opts.known_hosts.clone(),
            state: state.clone(),
        };
        let mut config = opts.russh_config();
        config.preferred.key = host_key_algorithms(host, &opts.known_hosts)
            .map_err(|e| SshError::KnownHosts {
                host: host.name.clone(),
                message: e.to_string(),
            })?
            .into();
        let config = Arc::new(config);
        let login = async {
            let res = client::connect_stream(config, stream, handler).await;
            let mut handle = match res {
                Ok(h) => h,
                Err(e) => return Err(Self::handshake_error(host, &addr, &state, e)),
            };
            auth::authenticate(&mut handle, host, opts.agent_socket.as_deref(), secrets).await?;
            Ok(handle)
        };
        let login_deadline = opts.deadlines.login;
        let handle = tokio::time::timeout(login_deadline, login)
            .await
            .map_err(|_| Self::login_timeout(host, &addr, &state, login_deadline))??;
        let host_key_fingerprint = state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fingerprint
            .clone()
            .unwrap_or_default();
        tracing::debug!(host = %host.name, %addr, user = %host.user, "SSH session established");
        Ok(SshSession {
            inner: Arc::new(SessionInner {
                host: host.clone(),
                handle,
                state,
                host_key_fingerprint,
                deadlines: opts.deadlines,
                _jump: jump,
            }),
        })
    }

    /// A login that ran out of time: before the host key was seen the SSH server itself
    /// is stuck (a hung sshd still accepts TCP but never sends its banner); after, the
    /// authentication is.
    fn login_timeout(
        host: &HostSpec,
        addr: &str,
        state: &Mutex<HandlerState>,
        after: Duration,
    ) -> SshError {
        let key_seen = state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fingerprint
            .is_some();
        let what = if key_seen {
            format!("SSH authentication at {addr} (the handshake worked, the login did not)")
        } else {
            format!(
                "SSH handshake with {addr}: the port accepts connections but the SSH server \
                 sent nothing (sshd hung or overloaded); check sshd on the host"
            )
        };
        SshError::Timeout {
            host: host.name.clone(),
            what,
            after,
        }
    }

    /// The byte stream the host's SSH connection runs over: TCP, or a `direct-tcpip`
    /// channel through the jump host's own (verified, authenticated) session.
    async fn transport(
        host: &HostSpec,
        opts: &SshOptions,
        secrets: &dyn SecretSource,
    ) -> Result<(Box<dyn Io>, Option<SshSession>), SshError> {
        let Some(jump) = host.jump_host() else {
            let tcp = tcp_connect(host, opts.deadlines.connect).await?;
            return Ok((Box::new(tcp), None));
        };
        let jump = jump.map_err(|reason| SshError::Unreachable {
            host: host.name.clone(),
            addr: host.jump.clone().unwrap_or_default(),
            reason,
        })?;
        let via = Box::pin(SshSession::connect(&jump, opts, secrets)).await?;
        let tunnel = via.inner.handle.channel_open_direct_tcpip(
            host.address.clone(),
            host.port.into(),
            "127.0.0.1",
            0,
        );
        let channel = via
            .bounded(tunnel, "opening the tunnel through the jump host")
            .await?
            .map_err(|e| {
                match via.map_err(e, &format!("tunnel to {}:{}", host.address, host.port)) {
                    SshError::ChannelRefused { failure, .. } => SshError::Unreachable {
                        host: host.name.clone(),
                        addr: format!("{}:{} via {}", host.address, host.port, jump.address),
                        reason: format!(
                            "the jump host could not connect to it ({failure:?}); check the \
                         address from the jump host, and that its sshd allows TCP forwarding"
                        ),
                    },
                    other => other,
                }
            })?;
        tracing::debug!(host = %host.name, jump = %jump.name, "tunnelled through the jump host");
        Ok((Box::new(channel.into_stream()), Some(via)))
    }

    fn handshake_error(
        host: &HostSpec,
        addr: &str,
        state: &Mutex<HandlerState>,
        e: russh::Error,
    ) -> SshError {
        let st = state.lock().unwrap_or_else(|p| p.into_inner());
        let h = host.name.clone();
        let addr = addr.to_string();
        match st.refusal.clone() {
            Some(KeyRefusal::Unknown {
                key_type,
                fingerprint,
            }) => SshError::HostKeyUnknown {
                host: h,
                addr,
                known_as: known_hosts::host_port_string(&host.address, host.port),
                key_type,
                fingerprint,
            },
            Some(KeyRefusal::OtherType {
                key_type,
                fingerprint,
                known,
            }) => SshError::HostKeyOtherType {
                host: h,
                addr,
                key_type,
                fingerprint,
                known,
            },
            Some(KeyRefusal::Changed {
                key_type,
                fingerprint,
                file,
                line,
            }) => SshError::HostKeyChanged {
                host: h,
                addr,
                key_type,
                fingerprint,
                file,
                line,
            },
            Some(KeyRefusal::Revoked {
                fingerprint,
                file,
                line,
            }) => SshError::HostKeyRevoked {
                host: h,
                addr,
                fingerprint,
                file,
                line,
            },
            Some(KeyRefusal::Error(message)) => SshError::KnownHosts { host: h, message },
            None => match e {
                russh::Error::Disconnect | russh::Error::HUP | russh::Error::IO(_) => {
                    SshError::Unreachable {
                        host: h,
                        addr,
                        reason: format!(
                            "the connection closed during the SSH handshake ({}); is this an SSH \
                             server, and does it allow this workstation (MaxStartups, \
                             AllowUsers, tcp wrappers)?",
                            st.disconnect.clone().unwrap_or_else(|| e.to_string())
                        ),
                    }
                }
                russh::Error::Version => SshError::Unreachable {
                    host: h,
                    addr,
                    reason: "the service on that port is not an SSH server".into(),
                },
                other => SshError::Protocol {
                    host: h,
                    message: format!("SSH handshake with {addr} failed: {other}"),
                },
            },
        }
    }

    pub fn host(&self) -> &HostSpec {
        &self.inner.host
    }

    /// Inventory name of the host.
    pub fn name(&self) -> &str {
        &self.inner.host.name
    }

    /// SHA256 fingerprint of the host key this session verified.
    pub fn host_key_fingerprint(&self) -> &str {
        &self.inner.host_key_fingerprint
    }

    /// True if both handles share one SSH connection.
    pub fn same_connection(&self, other: &SshSession) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// True once the connection is gone (server closed it, keepalives failed, …).
    pub fn is_closed(&self) -> bool {
        self.inner.handle.is_closed()
    }

    /// Error for an operation on a session that has died, with the recorded reason.
    fn closed_error(&self) -> SshError {
        let reason = self
            .inner
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .disconnect
            .clone()
            .unwrap_or_else(|| "the session is closed".into());
        SshError::Disconnected {
            host: self.name().to_string(),
            reason,
        }
    }

    fn map_err(&self, e: russh::Error, what: &str) -> SshError {
        match SshError::from_russh(self.name(), e) {
            SshError::Disconnected { .. } => self.closed_error(),
            SshError::ChannelRefused { host, failure, .. } => SshError::ChannelRefused {
                host,
                what: what.to_string(),
                failure,
            },
            other => other,
        }
    }

    /// The deadlines this session was opened with.
    pub fn deadlines(&self) -> &Deadlines {
        &self.inner.deadlines
    }

    /// Runs a step of the SSH protocol (a channel open) within the request deadline: on a
    /// stalled connection (partition, packet loss, stopped sshd) it would wait for ever.
    async fn bounded<T>(
        &self,
        step: impl std::future::Future<Output = T>,
        what: &str,
    ) -> Result<T, SshError> {
        let after = self.inner.deadlines.request;
        tokio::time::timeout(after, step)
            .await
            .map_err(|_| SshError::Timeout {
                host: self.name().to_string(),
                what: format!("{what}: the SSH connection is stalled (network or sshd)"),
                after,
            })
    }

    /// Opens a session channel (for exec).
    pub async fn open_session_channel(&self) -> Result<Channel<Msg>, SshError> {
        let open = self.inner.handle.channel_open_session();
        self.bounded(open, "opening an SSH channel")
            .await?
            .map_err(|e| self.map_err(e, "session channel"))
    }

    /// Opens a channel to a Unix socket on the host (`direct-streamlocal@openssh.com`).
    pub async fn open_streamlocal(&self, socket_path: &str) -> Result<Channel<Msg>, SshError> {
        let open = self
            .inner
            .handle
            .channel_open_direct_streamlocal(socket_path);
        self.bounded(open, "opening an SSH channel")
            .await?
            .map_err(|e| self.map_err(e, &format!("connect to {socket_path} on the host")))
    }

    /// Sends a clean SSH disconnect. Other clones become unusable.
    pub async fn close(&self) {
        let _ = self
            .inner
            .handle
            .disconnect(russh::Disconnect::ByApplication, "bye", "en")
            .await;
    }
}
