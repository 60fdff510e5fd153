//! Service jobs behind the Hosts panel: inventory files, connection tests, the keyring,
//! imports and the native file dialog. Each returns the events to send, in order.

use std::path::PathBuf;

use super::{Event, FilePurpose, HostTest, ImportSource, Notice, Severity};
use crate::docker::{DockerHost, DockerOptions};
use crate::inventory::{HostEdit, HostSpec, Inventory};
use crate::redact::Secret;
use crate::secrets::{Keyring, SecretKey};
use crate::ssh::{HostKeyPolicy, SshError, SshOptions, SshSession};

pub(super) async fn load_inventory(path: PathBuf) -> Vec<Event> {
    let p = path.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        if p.exists() {
            Inventory::load(&p).map_err(|e| e.to_string())
        } else {
            Ok(Inventory::default())
        }
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match loaded {
        Ok(inventory) => vec![Event::Inventory {
            path,
            inventory: Box::new(inventory),
        }],
        Err(e) => vec![Event::Notice(Notice::error(e))],
    }
}

/// Edits run one at a time, so two quick edits never read the same file and drop each
/// other's change.
static EDITS: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(super) async fn edit_inventory(path: PathBuf, edit: HostEdit) -> Vec<Event> {
    let p = path.clone();
    let saved = tokio::task::spawn_blocking(move || {
        let _one_at_a_time = EDITS.lock().unwrap_or_else(|e| e.into_inner());
        Inventory::edit_file(&p, &edit)
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match saved {
        Ok(inventory) => vec![
            Event::Notice(Notice::info(format!("saved {}", path.display()))),
            Event::Inventory {
                path,
                inventory: Box::new(inventory),
            },
        ],
        Err(e) => {
            let mut events = vec![Event::Notice(Notice::error(format!(
                "not saved ({}): {e}",
                path.display()
            )))];
            // Show the file as it is now, so the user decides on what is there.
            events.extend(load_inventory(path).await);
            events
        }
    }
}

pub(super) async fn test_host(
    host: HostSpec,
    known_hosts: Vec<PathBuf>,
    policy: HostKeyPolicy,
) -> Vec<Event> {
    let inventory = Inventory {
        known_hosts,
        ..Default::default()
    };
    let opts = SshOptions::for_inventory(&inventory, policy);
    let secrets = crate::secrets::ssh_source();
    let outcome = match SshSession::connect(&host, &opts, secrets.as_ref()).await {
        Ok(session) => match DockerHost::connect_with(&session, &DockerOptions::default()).await {
            Ok(link) => HostTest::Ok {
                summary: format!(
                    "Docker {} (API {}) via {}",
                    link.engine_version.as_deref().unwrap_or("?"),
                    link.api_version,
                    link.via
                ),
            },
            Err(e) => HostTest::Failed {
                message: e.to_string(),
            },
        },
        Err(e) => classify(e),
    };
    vec![Event::HostTested {
        name: host.name,
        outcome,
    }]
}

fn classify(e: SshError) -> HostTest {
    match e {
        SshError::HostKeyUnknown {
            host,
            addr,
            known_as,
            key_type,
            fingerprint,
        } => HostTest::UnknownKey {
            key_host: host,
            addr,
            known_as,
            key_type,
            fingerprint,
        },
        e @ (SshError::HostKeyChanged { .. }
        | SshError::HostKeyRevoked { .. }
        | SshError::HostKeyOtherType { .. }) => HostTest::ChangedKey {
            key_host: e.host().to_string(),
            message: e.to_string(),
        },
        e => HostTest::Failed {
            message: e.to_string(),
        },
    }
}

pub(super) async fn store_secret(key: SecretKey, secret: Secret) -> Vec<Event> {
    let stored = tokio::task::spawn_blocking(move || {
        let k = Keyring::open()?;
        k.set(&key, &secret)?;
        Ok::<_, crate::secrets::SecretsError>(k.backend())
    })
    .await;
    match stored {
        // A store that forgets at reboot is said as a warning, not in passing.
        Ok(Ok(backend)) => vec![Event::Notice(Notice {
            severity: match backend.caveat() {
                Some(_) => Severity::Warning,
                None => Severity::Info,
            },
            text: format!("secret {}", backend.stored_note()),
        })],
        Ok(Err(e)) => vec![Event::Notice(Notice::error(e.to_string()))],
        Err(e) => vec![Event::Notice(Notice::error(e.to_string()))],
    }
}

pub(super) async fn import(from: ImportSource) -> Vec<Event> {
    let found = tokio::task::spawn_blocking(move || {
        let home = std::env::home_dir().ok_or("HOME is not set")?;
        let hosts = match from {
            ImportSource::SshConfig => {
                crate::import::from_ssh_config_file(&home.join(".ssh/config"))
            }
            ImportSource::DockerContexts => {
                let dir = std::env::var_os("DOCKER_CONFIG")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| home.join(".docker"));
                crate::import::from_docker_contexts(&dir)
            }
        };
        hosts.map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match found {
        Ok(hosts) => vec![Event::Imported { from, hosts }],
        Err(e) => vec![Event::Notice(Notice::error(format!("import failed: {e}")))],
    }
}

pub(super) async fn pick_file(purpose: FilePurpose) -> Vec<Event> {
    let dialog = rfd::AsyncFileDialog::new();
    let dialog = match purpose {
        FilePurpose::PrivateKey => dialog.set_title("Choose a private key").set_directory(
            std::env::home_dir()
                .map(|h| h.join(".ssh"))
                .unwrap_or_default(),
        ),
        FilePurpose::Stack(crate::stack::StackFile::Compose) => dialog
            .set_title("Choose a Compose file")
            .add_filter("Compose file", &["yml", "yaml"]),
        FilePurpose::Stack(crate::stack::StackFile::Env) => dialog.set_title("Choose an env file"),
        FilePurpose::Object => dialog.set_title("Choose the file holding the data"),
    };
    let picked = dialog.pick_file().await;
    match picked {
        Some(f) => vec![Event::FilePicked {
            purpose,
            path: f.path().to_path_buf(),
        }],
        None => Vec::new(),
    }
}
