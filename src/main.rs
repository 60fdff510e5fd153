//! The `swarmdeck` binary: the command line and the window, wired together here so that
//! neither knows the other.

use std::process::ExitCode;
use std::time::Instant;

use swarmdeck::cli::{self, Launch, WindowArgs};
use swarmdeck::ui;

fn main() -> ExitCode {
    let started = Instant::now();
    swarmdeck::logging::init();
    let result = match cli::parse(ui::Panel::NAMES) {
        Launch::Headless(command) => cli::run(command),
        Launch::Window(args) => open_window(args, started),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain of contexts names the host and step; a backtrace would only bury it.
            // Errors quote hosts' own words: shown, never obeyed by the terminal.
            let text = format!("{e:#}");
            eprintln!("swarmdeck: {}", swarmdeck::untrusted::visible_lines(&text));
            ExitCode::FAILURE
        }
    }
}

fn open_window(args: WindowArgs, started: Instant) -> anyhow::Result<()> {
    let panel = args
        .panel
        .as_deref()
        .map(ui::Panel::from_name)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    ui::run(ui::RunOptions {
        demo: args.demo,
        inventory: args.inventory,
        screenshot: args.screenshot,
        open: args.open,
        panel,
        started: Some(started),
        report_startup: args.report_startup,
    })
}
