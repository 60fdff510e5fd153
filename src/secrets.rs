//! Passwords and key passphrases in the OS keyring, never in a file.
//!
//! The freedesktop Secret Service (GNOME Keyring, KWallet) is preferred whenever a session
//! bus offers one: it keeps secrets on disk. Where none runs (headless Linux, CI) the
//! kernel's keyutils store is used instead, so the same code path stores and reads real
//! secrets everywhere; its secrets live in memory only and are gone after a reboot or the
//! user's last logout, which is said wherever a secret is stored ([`Backend::caveat`]).
//! We use the user keyring (`@u`) directly: shared by the app and the CLI of the same
//! user, and unlike the keyutils keyring-store crate it needs no link to the persistent
//! keyring, which containers deny.
//!
//! Errors never carry a store's payload: a keyring error may hold the secret's bytes (e.g.
//! `BadEncoding`), so only a description of what failed is kept ([`describe`]).

use std::sync::Arc;

use keyring_core::CredentialStore;

use crate::redact::Secret;
use crate::ssh::auth::SecretFuture;
use crate::ssh::{SecretKind, SecretRequest, SecretSource};

const SERVICE: &str = "swarmdeck";

/// Which store holds the secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    SecretService,
    KernelKeyutils,
}

impl Backend {
    /// What the user must know about where the secret now lives, if anything.
    pub fn caveat(self) -> Option<&'static str> {
        match self {
            Backend::SecretService => None,
            Backend::KernelKeyutils => Some(
                "the kernel keyutils store keeps it in memory only: it is lost at reboot or \
                 when your last session ends. Run a Secret Service (e.g. gnome-keyring) to \
                 keep secrets, then store it again",
            ),
        }
    }

    /// "stored in the … keyring", with the caveat when there is one.
    pub fn stored_note(self) -> String {
        match self.caveat() {
            None => format!("stored in the {self} keyring"),
            Some(c) => format!("stored in the {self} keyring; note: {c}"),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::SecretService => "Secret Service",
            Backend::KernelKeyutils => "kernel keyutils",
        })
    }
}

/// What a secret belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretKey {
    /// Login password of `user@address:port`.
    Password {
        user: String,
        address: String,
        port: u16,
    },
    /// Passphrase of an encrypted private key file.
    KeyPassphrase { path: std::path::PathBuf },
    /// The unlock key of the autolocked swarm in a backup archive (by its file name).
    BackupUnlockKey { archive: String },
}

impl SecretKey {
    fn account(&self) -> String {
        match self {
            SecretKey::Password {
                user,
                address,
                port,
            } => format!("password:{user}@{address}:{port}"),
            SecretKey::KeyPassphrase { path } => format!("passphrase:{}", path.display()),
            SecretKey::BackupUnlockKey { archive } => crate::backup::keyring_account(archive),
        }
    }

    fn from_request(r: &SecretRequest<'_>) -> Self {
        match &r.kind {
            SecretKind::Password => SecretKey::Password {
                user: r.user.to_string(),
                address: r.address.to_string(),
                port: r.port,
            },
            SecretKind::KeyPassphrase { path } => SecretKey::KeyPassphrase { path: path.clone() },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "no OS keyring is available ({0}); swarmdeck stores passwords only in a keyring. \
         Start a Secret Service (e.g. gnome-keyring) or use key or agent authentication"
    )]
    Unavailable(String),
    #[error("the {backend} keyring refused to {action} the secret for {account}: {message}")]
    Store {
        backend: Backend,
        action: &'static str,
        account: String,
        message: String,
    },
}

/// The keyring swarmdeck reads and writes. Cheap to clone.
#[derive(Clone)]
pub struct Keyring {
    store: Store,
}

#[derive(Clone)]
enum Store {
    SecretService(Arc<CredentialStore>),
    Keyutils(linux_keyutils::KeyRing),
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Keyring {
    /// The Secret Service when a session bus offers one (it keeps secrets across reboots),
    /// else the kernel keyutils store.
    pub fn open() -> Result<Self, SecretsError> {
        if session_bus_present()
            && let Some(k) = Self::secret_service()
        {
            return Ok(k);
        }
        Self::keyutils()
    }

    fn secret_service() -> Option<Self> {
        let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new().ok()?;
        // A bus without a Secret Service answers the probe with a platform error.
        let probe = store.build(SERVICE, "probe:availability", None).ok()?;
        let k = Self {
            store: Store::SecretService(store),
        };
        match probe.get_password() {
            Ok(_) | Err(keyring_core::Error::NoEntry) => Some(k),
            Err(e) => {
                let error = describe(e.into());
                tracing::info!(%error, "no usable Secret Service; using kernel keyutils");
                None
            }
        }
    }

    /// The kernel keyutils user keyring (Linux), usable without a desktop session.
    pub fn keyutils() -> Result<Self, SecretsError> {
        use linux_keyutils::{KeyRing, KeyRingIdentifier};
        let ring = KeyRing::from_special_id(KeyRingIdentifier::User, true)
            .map_err(|e| SecretsError::Unavailable(format!("kernel keyutils: {e:?}")))?;
        Ok(Self {
            store: Store::Keyutils(ring),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.store {
            Store::SecretService(_) => Backend::SecretService,
            Store::Keyutils(_) => Backend::KernelKeyutils,
        }
    }

    fn fail(
        &self,
        action: &'static str,
        key: &SecretKey,
        e: impl Into<StoreFailure>,
    ) -> SecretsError {
        SecretsError::Store {
            backend: self.backend(),
            action,
            account: key.account(),
            message: describe(e.into()),
        }
    }

    pub fn set(&self, key: &SecretKey, secret: &Secret) -> Result<(), SecretsError> {
        let account = key.account();
        match &self.store {
            Store::SecretService(s) => s
                .build(SERVICE, &account, None)
                .and_then(|e| e.set_password(secret.expose()))
                .map_err(|e| self.fail("store", key, e)),
            Store::Keyutils(ring) => ring
                .add_key(&keyutils_description(&account), secret.expose())
                .map(|_| ())
                .map_err(|e| self.fail("store", key, e)),
        }
    }

    /// The stored secret, or `None` when there is none.
    pub fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretsError> {
        let account = key.account();
        match &self.store {
            Store::SecretService(s) => {
                match s
                    .build(SERVICE, &account, None)
                    .and_then(|e| e.get_password())
                {
                    Ok(v) => Ok(Some(Secret::new(v))),
                    Err(keyring_core::Error::NoEntry) => Ok(None),
                    Err(e) => Err(self.fail("read", key, e)),
                }
            }
            Store::Keyutils(ring) => match ring.search(&keyutils_description(&account)) {
                Ok(k) => {
                    let bytes = k.read_to_vec().map_err(|e| self.fail("read", key, e))?;
                    let text = String::from_utf8(bytes)
                        .map_err(|_| self.fail("read", key, StoreFailure::NotUtf8))?;
                    Ok(Some(Secret::new(text)))
                }
                Err(e) if is_gone(&e) => Ok(None),
                Err(e) => Err(self.fail("read", key, e)),
            },
        }
    }

    /// Removes the secret; removing one that is not there is fine.
    pub fn delete(&self, key: &SecretKey) -> Result<(), SecretsError> {
        let account = key.account();
        match &self.store {
            Store::SecretService(s) => {
                match s
                    .build(SERVICE, &account, None)
                    .and_then(|e| e.delete_credential())
                {
                    Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
                    Err(e) => Err(self.fail("delete", key, e)),
                }
            }
            Store::Keyutils(ring) => match ring.search(&keyutils_description(&account)) {
                // Invalidate rather than unlink: the key is gone at once for every process.
                Ok(k) => k.invalidate().map_err(|e| self.fail("delete", key, e)),
                Err(e) if is_gone(&e) => Ok(()),
                Err(e) => Err(self.fail("delete", key, e)),
            },
        }
    }
}

/// Whether a D-Bus session bus is there to ask for a Secret Service: named in the
/// environment, or at the socket zbus falls back to (`$XDG_RUNTIME_DIR/bus`, which
/// systemd provides also to SSH logins that set no `DBUS_SESSION_BUS_ADDRESS`).
fn session_bus_present() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        return true;
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| format!("/run/user/{}", nix::unistd::geteuid()).into());
    runtime.join("bus").exists()
}

/// A store's error, reduced to what may be shown.
enum StoreFailure {
    Keyring(keyring_core::Error),
    Keyutils(linux_keyutils::KeyError),
    NotUtf8,
}

impl From<keyring_core::Error> for StoreFailure {
    fn from(e: keyring_core::Error) -> Self {
        StoreFailure::Keyring(e)
    }
}

impl From<linux_keyutils::KeyError> for StoreFailure {
    fn from(e: linux_keyutils::KeyError) -> Self {
        StoreFailure::Keyutils(e)
    }
}

/// What failed, without any payload: keyring-core's `BadEncoding` and `BadDataFormat` hold
/// the stored bytes, `Ambiguous` holds entries; their `Debug` would print them.
fn describe(failure: StoreFailure) -> String {
    use keyring_core::Error as E;
    match failure {
        StoreFailure::Keyring(e) => match e {
            E::PlatformFailure(p) => format!("platform failure: {p}"),
            E::NoStorageAccess(p) => format!("the store is not accessible (locked?): {p}"),
            E::NoEntry => "no such entry".into(),
            E::BadEncoding(_) => "the stored secret is not UTF-8".into(),
            E::BadDataFormat(..) => "the stored secret is malformed".into(),
            E::BadStoreFormat(why) => format!("the store is malformed: {why}"),
            E::TooLong(attr, max) => format!("{attr} is longer than the store's limit ({max})"),
            E::Invalid(attr, why) => format!("{attr} is invalid: {why}"),
            E::Ambiguous(found) => format!("{} entries match", found.len()),
            E::NoDefaultStore => "no default store".into(),
            E::NotSupportedByStore(why) => format!("not supported: {why}"),
            _ => "unknown keyring error".into(),
        },
        // Error codes only: nothing of the payload.
        StoreFailure::Keyutils(e) => format!("{e:?}"),
        StoreFailure::NotUtf8 => "the stored secret is not UTF-8".into(),
    }
}

/// An invalidated key can still be found for a moment, reporting itself revoked.
fn is_gone(e: &linux_keyutils::KeyError) -> bool {
    use linux_keyutils::KeyError::*;
    matches!(e, KeyDoesNotExist | KeyRevoked | KeyExpired)
}

fn keyutils_description(account: &str) -> String {
    format!("{SERVICE}:{account}")
}

/// The secret source for SSH: the OS keyring, or none (agent and plain keys still work)
/// when no keyring can be opened; the reason is logged once.
pub fn ssh_source() -> Arc<dyn SecretSource> {
    match Keyring::open() {
        Ok(k) => Arc::new(k),
        Err(e) => {
            tracing::warn!(error = %e, "passwords and key passphrases are unavailable");
            Arc::new(crate::ssh::NoSecrets)
        }
    }
}

/// SSH asks the keyring for passwords and passphrases. Only the first attempt is answered:
/// a stored secret that was rejected is not offered again.
impl SecretSource for Keyring {
    fn lookup<'a>(&'a self, request: &'a SecretRequest<'a>) -> SecretFuture<'a> {
        let key = SecretKey::from_request(request);
        let attempt = request.attempt;
        let keyring = self.clone();
        Box::pin(async move {
            if attempt > 0 {
                return None;
            }
            let found = tokio::task::spawn_blocking(move || keyring.get(&key)).await;
            match found {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "keyring lookup failed");
                    None
                }
                Err(_) => None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_name_user_host_and_key_file() {
        let p = SecretKey::Password {
            user: "ops".into(),
            address: "10.0.0.1".into(),
            port: 22,
        };
        assert_eq!(p.account(), "password:ops@10.0.0.1:22");
        let k = SecretKey::KeyPassphrase {
            path: "/home/a/.ssh/id".into(),
        };
        assert_eq!(k.account(), "passphrase:/home/a/.ssh/id");
    }

    /// keyring-core errors carry the stored bytes in their payloads; none may reach a
    /// message.
    #[test]
    fn store_errors_never_show_the_secret() {
        let secret = b"hunter2-\xff".to_vec();
        let failures = [
            StoreFailure::Keyring(keyring_core::Error::BadEncoding(secret.clone())),
            StoreFailure::Keyring(keyring_core::Error::BadDataFormat(
                secret.clone(),
                "hunter2".into(),
            )),
        ];
        for f in failures {
            let k = Keyring::keyutils().expect("kernel keyutils store");
            let key = SecretKey::KeyPassphrase { path: "/k".into() };
            let msg = k.fail("read", &key, f).to_string();
            assert!(!msg.contains("hunter2") && !msg.contains("104"), "{msg}");
            assert!(msg.contains("passphrase:/k"), "{msg}");
        }
    }

    #[test]
    fn only_the_memory_store_carries_a_caveat() {
        assert!(Backend::SecretService.caveat().is_none());
        let note = Backend::KernelKeyutils.stored_note();
        assert!(note.contains("lost at reboot"), "{note}");
    }

    /// Real storage in the kernel keyring: set, read back, delete.
    #[test]
    fn keyutils_round_trip() {
        let k = Keyring::keyutils().expect("kernel keyutils store");
        let key = SecretKey::Password {
            user: format!("test{}", std::process::id()),
            address: "keyring-test".into(),
            port: 22,
        };
        k.set(&key, &Secret::new("s3cret pass")).unwrap();
        assert_eq!(k.get(&key).unwrap().unwrap().expose(), "s3cret pass");
        k.delete(&key).unwrap();
        assert!(k.get(&key).unwrap().is_none());
    }
}
