//! `swarmdeck generate`: the man page and shell completions, from the clap definitions,
//! so they never drift from the real options.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    #[command(subcommand)]
    pub what: Generate,
}

#[derive(Debug, clap::Subcommand)]
pub enum Generate {
    /// Write swarmdeck.1 into DIR.
    Man { dir: PathBuf },
    /// Write the completion script for SHELL (bash, zsh, fish, elvish, powershell) into DIR.
    Completions {
        shell: clap_complete::Shell,
        dir: PathBuf,
    },
}

/// `cmd` is the command line's definition, [`super::definition`].
pub fn run(args: GenerateArgs, mut cmd: clap::Command) -> anyhow::Result<()> {
    match args.what {
        Generate::Man { dir } => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            let path = dir.join("swarmdeck.1");
            crate::fsutil::write_atomic(&path, &out, 0o644)?;
            println!("wrote {}", path.display());
        }
        Generate::Completions { shell, dir } => {
            std::fs::create_dir_all(&dir)?;
            let path = clap_complete::generate_to(shell, &mut cmd, "swarmdeck", &dir)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}
