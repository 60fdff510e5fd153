//! Service jobs for files the user keeps: the audit log (read, export as a script) and
//! snapshot bundles (save, open).

use super::{Event, Notice};
use crate::swarm::audit::{AuditLog, export_script};

pub(super) async fn load() -> Vec<Event> {
    let read = tokio::task::spawn_blocking(|| {
        let log = AuditLog::default_location().map_err(|e| e.to_string())?;
        let entries = log.read().map_err(|e| e.to_string())?;
        Ok::<_, String>((log.path().to_path_buf(), entries))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match read {
        Ok((path, entries)) => vec![Event::Audit { path, entries }],
        Err(e) => vec![Event::Notice(Notice::error(format!("audit log: {e}")))],
    }
}

pub(super) async fn export() -> Vec<Event> {
    save_as(
        "Export the audit log as a shell script",
        "swarmdeck-replay.sh",
        0o755,
        || {
            let log = AuditLog::default_location().map_err(|e| e.to_string())?;
            let entries = log.read().map_err(|e| e.to_string())?;
            Ok(export_script(&entries).into_bytes())
        },
    )
    .await
}

/// Asks where to save (native dialog), then writes what `contents` produces atomically.
async fn save_as<F>(title: &str, file_name: &str, mode: u32, contents: F) -> Vec<Event>
where
    F: FnOnce() -> Result<Vec<u8>, String> + Send + 'static,
{
    let Some(file) = rfd::AsyncFileDialog::new()
        .set_title(title)
        .set_file_name(file_name)
        .save_file()
        .await
    else {
        return Vec::new();
    };
    let path = file.path().to_path_buf();
    let target = path.clone();
    let written = tokio::task::spawn_blocking(move || {
        let bytes = contents()?;
        crate::fsutil::write_atomic(&target, &bytes, mode).map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match written {
        Ok(()) => vec![Event::Notice(Notice::info(format!(
            "saved {}",
            path.display()
        )))],
        Err(e) => vec![Event::Notice(Notice::error(format!(
            "cannot save {}: {e}",
            path.display()
        )))],
    }
}

pub(super) async fn open_bundle(path: Option<std::path::PathBuf>) -> Vec<Event> {
    let path = match path {
        Some(p) => p,
        None => match rfd::AsyncFileDialog::new()
            .set_title("Open a swarmdeck bundle")
            .add_filter("swarmdeck bundle", &["json"])
            .pick_file()
            .await
        {
            Some(f) => f.path().to_path_buf(),
            None => return Vec::new(),
        },
    };
    let p = path.clone();
    let read = tokio::task::spawn_blocking(move || {
        let text = std::fs::read_to_string(&p).map_err(|e| e.to_string())?;
        crate::snapshot::Bundle::from_json(&text).map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match read {
        Ok(bundle) => vec![Event::Bundle {
            path,
            bundle: Box::new(bundle),
        }],
        Err(e) => vec![Event::Notice(Notice::error(format!(
            "cannot open {}: {e}",
            path.display()
        )))],
    }
}

pub(super) async fn save_bundle(bundle: crate::snapshot::Bundle) -> Vec<Event> {
    // 0600: a bundle names hosts, addresses and firewall rules.
    save_as(
        "Save a swarmdeck bundle",
        "swarmdeck-bundle.json",
        0o600,
        move || Ok(bundle.to_json().into_bytes()),
    )
    .await
}
