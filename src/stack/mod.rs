//! Stacks from Compose files, as `docker stack deploy` makes them: [`compose`] parses a
//! file (with [`interpolate`]), [`convert`] turns it into Engine API objects with docker's
//! names and labels, [`diff`] compares them with what the swarm reports and plans the
//! steps, [`apply`] runs each step through the Engine API (via `swarm::ops`, audited).
//! A stack deployed by swarmdeck can be updated or removed by the docker CLI and back.

pub mod apply;
pub mod change;
pub mod compose;
pub mod convert;
pub mod diff;
pub mod interpolate;
pub mod units;

use std::path::{Path, PathBuf};

pub use apply::StackStep;
pub use change::{StackChange, StackFile};
pub use convert::{LABEL_IMAGE, LABEL_NAMESPACE, StackSpec};
pub use diff::{Current, StackSummary};

/// Why a Compose file cannot be deployed. Never holds a secret's or config's data.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{file}{}: {message}. Fix: {fix}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        file: String,
        line: Option<usize>,
        message: String,
        fix: String,
    },
    #[error(
        "{path}: cannot read it ({error}). Fix: check the path (relative paths are read from the compose file's directory)"
    )]
    Read { path: String, error: String },
}

/// A file ready to plan: the stack's objects and the warnings to show.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub spec: StackSpec,
    pub warnings: Vec<String>,
}

/// Reads, interpolates and converts `compose` for stack `name`. Variables come from
/// `env_file` (default: `.env` beside the compose file, if there), overridden by
/// `process` (the environment).
pub fn load(
    compose: &Path,
    env_file: Option<&Path>,
    name: &str,
    process: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded, StackError> {
    crate::swarm::validate_name("stack", name).map_err(|e| StackError::Invalid {
        file: compose.display().to_string(),
        line: None,
        message: e.to_string(),
        fix: "name the stack with letters, digits, '_', '.' or '-'".into(),
    })?;
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| StackError::Read {
            path: p.display().to_string(),
            error: e.to_string(),
        })
    };
    let text = read(compose)?;
    let dir = compose.parent().unwrap_or(Path::new("."));
    let dotenv_path: Option<PathBuf> = match env_file {
        Some(p) => Some(p.to_path_buf()),
        None => Some(dir.join(".env")).filter(|p| p.is_file()),
    };
    let dotenv = match &dotenv_path {
        Some(p) => interpolate::parse_dotenv(&read(p)?).map_err(|line| StackError::Invalid {
            file: p.display().to_string(),
            line: Some(line),
            message: "not a NAME=value line".into(),
            fix: "write one NAME=value per line (# starts a comment)".into(),
        })?,
        None => Vec::new(),
    };
    let vars = interpolate::Vars::new(dotenv, process);
    let parsed = compose::parse(compose, &text, &vars)?;
    let spec = convert::convert(&parsed.file, name, &parsed.dir, &vars).map_err(|message| {
        StackError::Invalid {
            file: compose.display().to_string(),
            line: None,
            message,
            fix: "correct the file; `docker stack config -c FILE` shows how docker reads it".into(),
        }
    })?;
    for f in spec.secrets.iter().chain(&spec.configs) {
        if !f.path.is_file() {
            return Err(StackError::Read {
                path: f.path.display().to_string(),
                error: "no such file".into(),
            });
        }
    }
    Ok(Loaded {
        spec,
        warnings: parsed.warnings,
    })
}
