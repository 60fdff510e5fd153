//! SSH user authentication: agent, key file, password. Secrets (passwords, key
//! passphrases) come from a caller-provided [`SecretSource`] (the OS keyring, a UI prompt)
//! and are never logged or put in error messages.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use russh::MethodSet;
use russh::client::{AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey};

use super::{ClientHandler, SshError};
use crate::inventory::{AuthMethod, HostSpec};

pub use crate::redact::Secret;

/// What secret is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretKind {
    /// The login password of `user@host`.
    Password,
    /// The passphrase of an encrypted private key file.
    KeyPassphrase { path: PathBuf },
}

/// A request for a secret, with enough context for a keyring lookup or a prompt.
#[derive(Debug, Clone)]
pub struct SecretRequest<'a> {
    /// Inventory name of the host.
    pub host: &'a str,
    pub address: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub kind: SecretKind,
    /// 0 on the first ask; 1 after the first secret was rejected (wrong passphrase), …
    pub attempt: u32,
}

pub type SecretFuture<'a> = Pin<Box<dyn Future<Output = Option<Secret>> + Send + 'a>>;

/// Where passwords and passphrases come from. `None` means "not available" (the connect
/// then fails with an auth error that says which secret was missing).
///
/// Implemented for plain closures `Fn(&SecretRequest) -> Option<Secret>`; implement the
/// trait directly when the lookup is async (e.g. a UI prompt).
pub trait SecretSource: Send + Sync {
    fn lookup<'a>(&'a self, request: &'a SecretRequest<'a>) -> SecretFuture<'a>;
}

impl<F> SecretSource for F
where
    F: Fn(&SecretRequest<'_>) -> Option<Secret> + Send + Sync,
{
    fn lookup<'a>(&'a self, request: &'a SecretRequest<'a>) -> SecretFuture<'a> {
        let s = self(request);
        Box::pin(async move { s })
    }
}

/// A source that has no secrets (agent and unencrypted keys only).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSecrets;

impl SecretSource for NoSecrets {
    fn lookup<'a>(&'a self, _request: &'a SecretRequest<'a>) -> SecretFuture<'a> {
        Box::pin(async { None })
    }
}

/// How many times a wrong key passphrase is re-asked before giving up.
const PASSPHRASE_ATTEMPTS: u32 = 3;

fn methods_list(m: &MethodSet) -> Vec<String> {
    m.iter()
        .map(|k| <&'static str>::from(k).to_string())
        .collect()
}

/// `None` when the server accepted, else the methods it still allows.
fn rejected(res: AuthResult) -> Option<Vec<String>> {
    match res {
        AuthResult::Success => None,
        AuthResult::Failure {
            remaining_methods, ..
        } => Some(methods_list(&remaining_methods)),
    }
}

async fn rsa_hash(handle: &Handle<ClientHandler>, key: &PublicKey) -> Option<HashAlg> {
    if !key.algorithm().is_rsa() {
        return None;
    }
    // Servers that don't announce server-sig-algs: rsa-sha2-256 is the safe modern choice.
    match handle.best_supported_rsa_hash().await {
        Ok(Some(h)) => h,
        _ => Some(HashAlg::Sha256),
    }
}

/// Authenticates `host.user` with the host's configured method.
pub(crate) async fn authenticate(
    handle: &mut Handle<ClientHandler>,
    host: &HostSpec,
    agent_socket: Option<&Path>,
    secrets: &dyn SecretSource,
) -> Result<(), SshError> {
    match &host.auth {
        AuthMethod::Agent => by_agent(handle, host, agent_socket).await,
        AuthMethod::Key { path } => by_key_file(handle, host, path, secrets).await,
        AuthMethod::Password => by_password(handle, host, secrets).await,
    }
}

/// A refused login: what was tried, what the server still allows, and the fix.
fn auth_failed(
    host: &HostSpec,
    tried: Vec<String>,
    server_allows: Vec<String>,
    hint: String,
) -> SshError {
    SshError::AuthFailed {
        host: host.name.clone(),
        user: host.user.clone(),
        tried,
        server_allows,
        hint,
    }
}

/// Every key the agent holds, in turn, until one is accepted.
async fn by_agent(
    handle: &mut Handle<ClientHandler>,
    host: &HostSpec,
    agent_socket: Option<&Path>,
) -> Result<(), SshError> {
    let user = host.user.as_str();
    let mut tried = Vec::new();
    let mut server_allows = Vec::new();
    let agent = match agent_socket {
        Some(p) => AgentClient::connect_uds(p).await,
        None => AgentClient::connect_env().await,
    };
    let mut agent = match agent {
        Ok(a) => a,
        Err(e) => {
            tried.push(format!("agent (not usable: {e})"));
            return Err(auth_failed(
                host,
                tried,
                server_allows,
                "start ssh-agent and `ssh-add` your key (SSH_AUTH_SOCK must point to it), \
                 or switch this host to key-file auth"
                    .into(),
            ));
        }
    };
    let identities = agent.request_identities().await.map_err(|e| {
        auth_failed(
            host,
            vec![format!("agent (cannot list keys: {e})")],
            vec![],
            "check that ssh-agent is running and responsive".into(),
        )
    })?;
    let keys: Vec<PublicKey> = identities
        .into_iter()
        .filter_map(|id| match id {
            AgentIdentity::PublicKey { key, .. } => Some(key),
            AgentIdentity::Certificate { .. } => None,
        })
        .collect();
    if keys.is_empty() {
        tried.push("agent (holds no keys)".into());
        return Err(auth_failed(
            host,
            tried,
            server_allows,
            "add a key with `ssh-add`".into(),
        ));
    }
    for key in keys {
        let fp = super::known_hosts::fingerprint(&key);
        let hash = rsa_hash(handle, &key).await;
        match handle
            .authenticate_publickey_with(user, key, hash, &mut agent)
            .await
        {
            Ok(res) => {
                let Some(allows) = rejected(res) else {
                    return Ok(());
                };
                tried.push(format!("agent key {fp}"));
                server_allows = allows;
            }
            Err(e) => tried.push(format!("agent key {fp} (agent did not sign: {e})")),
        }
        if handle.is_closed() {
            break;
        }
    }
    Err(auth_failed(
        host,
        tried,
        server_allows,
        format!(
            "none of the agent's keys is in ~{user}/.ssh/authorized_keys on {}",
            host.address
        ),
    ))
}

/// The private key file (its passphrase from `secrets` when it is encrypted).
async fn by_key_file(
    handle: &mut Handle<ClientHandler>,
    host: &HostSpec,
    path: &Path,
    secrets: &dyn SecretSource,
) -> Result<(), SshError> {
    let key = load_key(host, path, secrets).await?;
    let fp = super::known_hosts::fingerprint(key.public_key());
    let hash = rsa_hash(handle, key.public_key()).await;
    let res = handle
        .authenticate_publickey(&host.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
        .await
        .map_err(|e| SshError::from_russh(&host.name, e))?;
    let Some(allows) = rejected(res) else {
        return Ok(());
    };
    Err(auth_failed(
        host,
        vec![format!("key file {} ({fp})", path.display())],
        allows,
        format!(
            "add the public key ({}.pub) to ~{}/.ssh/authorized_keys on {}",
            path.display(),
            host.user,
            host.address
        ),
    ))
}

/// The login password, from `secrets`.
async fn by_password(
    handle: &mut Handle<ClientHandler>,
    host: &HostSpec,
    secrets: &dyn SecretSource,
) -> Result<(), SshError> {
    let req = SecretRequest {
        host: &host.name,
        address: &host.address,
        port: host.port,
        user: &host.user,
        kind: SecretKind::Password,
        attempt: 0,
    };
    let Some(password) = secrets.lookup(&req).await else {
        return Err(auth_failed(
            host,
            vec!["password (none stored)".into()],
            vec![],
            "store the password for this host in the keyring".into(),
        ));
    };
    let res = handle
        .authenticate_password(&host.user, password.expose())
        .await
        .map_err(|e| SshError::from_russh(&host.name, e))?;
    let Some(allows) = rejected(res) else {
        return Ok(());
    };
    let hint = if allows.iter().any(|m| m == "password") {
        "the stored password was rejected; update it in the keyring".into()
    } else {
        "the server does not accept passwords (PasswordAuthentication no); use key auth".into()
    };
    Err(auth_failed(host, vec!["password".into()], allows, hint))
}

/// Loads a private key, asking the secret source for the passphrase when encrypted.
async fn load_key(
    host: &HostSpec,
    path: &Path,
    secrets: &dyn SecretSource,
) -> Result<russh::keys::PrivateKey, SshError> {
    let key_err = |reason: String| SshError::KeyFile {
        host: host.name.clone(),
        path: path.to_path_buf(),
        reason,
    };
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| key_err(format!("cannot read it: {e}")))?;
    match russh::keys::decode_secret_key(&text, None) {
        Ok(k) => return Ok(k),
        Err(russh::keys::Error::KeyIsEncrypted) => {}
        Err(e) => return Err(key_err(format!("not a usable private key: {e}"))),
    }
    for attempt in 0..PASSPHRASE_ATTEMPTS {
        let req = SecretRequest {
            host: &host.name,
            address: &host.address,
            port: host.port,
            user: &host.user,
            kind: SecretKind::KeyPassphrase {
                path: path.to_path_buf(),
            },
            attempt,
        };
        let Some(pass) = secrets.lookup(&req).await else {
            return Err(key_err(
                "the key is encrypted and no passphrase is available; store it in the keyring \
                 or load the key into ssh-agent"
                    .into(),
            ));
        };
        match russh::keys::decode_secret_key(&text, Some(pass.expose())) {
            Ok(k) => return Ok(k),
            // Wrong passphrases surface as decrypt/padding/corrupt errors; ask again.
            Err(_) => continue,
        }
    }
    Err(key_err(
        "the passphrase was rejected; update it in the keyring".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[tokio::test]
    async fn encrypted_key_uses_secret_source() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("id");
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "correct horse", "-f"])
            .arg(&p)
            .status()
            .unwrap();
        assert!(st.success());
        let host = HostSpec {
            name: "h".into(),
            address: "127.0.0.1".into(),
            port: 22,
            user: "root".into(),
            auth: AuthMethod::Key { path: p.clone() },
            sudo: false,
            labels: Default::default(),
            jump: None,
        };
        // No secret: error says the key is encrypted, without any secret in it.
        let e = load_key(&host, &p, &NoSecrets)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("encrypted"), "{e}");
        // Wrong then right: the source sees attempt numbers.
        let src = |r: &SecretRequest<'_>| {
            Some(Secret::new(if r.attempt == 0 {
                "wrong"
            } else {
                "correct horse"
            }))
        };
        load_key(&host, &p, &src).await.unwrap();
        // Always wrong: a clear error, no passphrase echoed.
        let bad = |_: &SecretRequest<'_>| Some(Secret::new("nope-nope"));
        let e = load_key(&host, &p, &bad).await.unwrap_err().to_string();
        assert!(e.contains("rejected") && !e.contains("nope-nope"), "{e}");
    }
}
