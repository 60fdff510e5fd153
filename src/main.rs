fn main() -> std::process::ExitCode {
    match swarmdeck::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of contexts names the host and step; a backtrace would only bury it.
            // Errors quote hosts' own words: shown, never obeyed by the terminal.
            let text = format!("{e:#}");
            eprintln!("swarmdeck: {}", swarmdeck::untrusted::visible_lines(&text));
            std::process::ExitCode::FAILURE
        }
    }
}
