//! Service jobs behind the Activity panel: reading and exporting the audit log.

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
    let Some(file) = rfd::AsyncFileDialog::new()
        .set_title("Export the audit log as a shell script")
        .set_file_name("swarmdeck-replay.sh")
        .save_file()
        .await
    else {
        return Vec::new();
    };
    let path = file.path().to_path_buf();
    let target = path.clone();
    let written = tokio::task::spawn_blocking(move || {
        let log = AuditLog::default_location().map_err(|e| e.to_string())?;
        let entries = log.read().map_err(|e| e.to_string())?;
        crate::fsutil::write_atomic(&target, export_script(&entries).as_bytes(), 0o755)
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match written {
        Ok(()) => vec![Event::Notice(Notice::info(format!(
            "wrote {}",
            path.display()
        )))],
        Err(e) => vec![Event::Notice(Notice::error(format!(
            "cannot export to {}: {e}",
            path.display()
        )))],
    }
}
