fn main() -> std::process::ExitCode {
    match swarmdeck::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of contexts names the host and step; a backtrace would only bury it.
            eprintln!("swarmdeck: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
