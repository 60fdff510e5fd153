//! Diagnostic logging on stderr, for the CLI and the app (`SWARMDECK_LOG`, default `warn`).
//!
//! Two guards keep secrets out of it, whatever level is asked for:
//! - every formatted line, from every crate, passes [`redact`] before it is written;
//! - other crates log at most at INFO: bollard logs each decoded response body at DEBUG
//!   (`GET /swarm` carries the join tokens), and a password is not recognisable by the
//!   redactor, so bodies must never be formatted at all.
//!
//! Control characters from hosts' text are shown escaped, never passed to the terminal.

use std::io::{self, IsTerminal, Write};

use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

use crate::redact::redact;
use crate::untrusted::visible;

/// The environment variable holding the filter (`debug`, `swarmdeck::ssh=trace`, …).
pub const LOG_ENV: &str = "SWARMDECK_LOG";

/// The most any other crate may log. DEBUG is where bollard formats bodies.
const OTHER_CRATES_MAX: LevelFilter = LevelFilter::INFO;

/// Installs the global subscriber (and the bridge for crates that use `log`). A second
/// call is a no-op.
pub fn init() {
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("warn"));
    let ansi = io::stderr().is_terminal();
    let _ = subscriber(filter, ansi, io::stderr).try_init();
}

/// The subscriber `init` installs, writing to `make`; separate so tests can capture it.
fn subscriber<M>(filter: EnvFilter, ansi: bool, make: M) -> impl tracing::Subscriber + Send + Sync
where
    M: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(other_crates_capped())
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .with_writer(Redacting { make, ansi }),
        )
}

/// swarmdeck's own events at any level; everyone else's at most at [`OTHER_CRATES_MAX`].
fn other_crates_capped() -> Targets {
    Targets::new()
        .with_target(env!("CARGO_CRATE_NAME"), LevelFilter::TRACE)
        .with_default(OTHER_CRATES_MAX)
}

/// Makes writers that hold one event's text and write it redacted when dropped (the
/// formatter asks for one writer per event, so a secret is never split between writes).
struct Redacting<M> {
    make: M,
    /// Whether the formatter colours the line: its own escape sequences must pass then
    /// (it escapes those in field values itself).
    ansi: bool,
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            text: Vec::new(),
            out: self.make.make_writer(),
            ansi: self.ansi,
        }
    }
}

struct RedactingWriter<W: Write> {
    text: Vec<u8>,
    out: W,
    ansi: bool,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let line = clean_line(&String::from_utf8_lossy(&self.text), self.ansi);
        let _ = self.out.write_all(line.as_bytes());
        let _ = self.out.flush();
    }
}

/// One event's text, redacted, as one line: newlines inside it (a hostname's, an error's)
/// are shown as `\n` so no event can forge another.
fn clean_line(text: &str, ansi: bool) -> String {
    let redacted = redact(text);
    let body = redacted.strip_suffix('\n').unwrap_or(&redacted);
    let mut line = if ansi {
        // Keep the formatter's colours; escape every other control character.
        body.split('\x1b')
            .map(|part| visible(part).into_owned())
            .collect::<Vec<_>>()
            .join("\x1b")
    } else {
        visible(body).into_owned()
    };
    line.push('\n');
    line
}

/// What the real subscriber writes, captured: for tests that check what reaches the log.
#[cfg(test)]
pub(crate) mod capture {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    /// Runs `f` under the subscriber `init` installs, at `filter`; returns what it wrote.
    pub fn logged<T>(filter: &str, f: impl FnOnce() -> T) -> (T, String) {
        let out = Captured::default();
        let sub = subscriber(EnvFilter::new(filter), false, out.clone());
        let value = tracing::subscriber::with_default(sub, f);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        (value, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(filter: &str, f: impl FnOnce()) -> String {
        capture::logged(filter, f).1
    }

    const BODY: &str = r#"{"JoinTokens":{"Worker":"SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx"},"UnlockKey":"SWMKEY-1-8mN+2xQ/vT0kLw9+Zr/AbCdEf"}"#;

    #[test]
    fn other_crates_never_log_below_info_even_at_trace() {
        let text = logged("trace", || {
            tracing::debug!(target: "bollard::docker", "Decoded into string: {BODY}");
            tracing::trace!(target: "russh::client", "password hunter2");
            tracing::info!(target: "bollard::docker", "an info line");
        });
        assert!(
            !text.contains("Decoded") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(text.contains("an info line"), "{text}");
    }

    #[test]
    fn every_line_is_redacted_at_any_level() {
        let text = logged("trace", || {
            tracing::trace!("body {BODY}");
            tracing::warn!(target: "bollard::docker", "failed: {BODY}");
            tracing::error!(token = %BODY, "as a field");
        });
        assert_eq!(text.lines().count(), 3, "{text}");
        for leak in ["SWMTKN", "SWMKEY", "3pu6hsz", "vT0kLw9", "AbCdEf"] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
        assert_eq!(text.matches("<redacted>").count(), 6, "{text}");
    }

    #[test]
    fn hostile_text_cannot_forge_lines_or_control_the_terminal() {
        let text = logged("warn", || {
            let host = "x\nWARN forged";
            tracing::warn!(host = %host, "{}", "red \x1b[31m\x07 done");
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
        assert!(text.contains("\\n"), "{text}");
    }

    #[test]
    fn colours_of_the_formatter_survive_on_a_terminal() {
        assert_eq!(
            clean_line("\x1b[33mWARN\x1b[0m a\r\x07\n", true),
            "\x1b[33mWARN\x1b[0m a\\r\\u{7}\n"
        );
    }
}
