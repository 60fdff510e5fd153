//! Deadlines and size limits for everything swarmdeck asks of a host.
//!
//! A host may hang (a stopped dockerd still accepts on its socket), drop packets or answer
//! without end. Every remote operation therefore runs against a deadline and reads at most a
//! bounded number of bytes, so one sick host costs a bounded wait and never blocks the
//! others. The defaults fit a LAN; an inventory's `[timeouts]` table and the CLI's
//! `--timeout` change them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Largest Engine API answer read whole (a node list or `/containers/json` of a big host is
/// a few MiB).
pub const MAX_BODY_BYTES: u64 = 64 << 20;
/// Largest single line of a streamed answer (one event, one log line).
pub const MAX_LINE_BYTES: u64 = 4 << 20;
/// Largest output (stdout plus stderr) kept from one remote command or exec.
pub const MAX_OUTPUT_BYTES: u64 = 16 << 20;

/// How long each kind of remote operation may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// TCP connect to a host (per resolved address).
    pub connect: Duration,
    /// SSH handshake and authentication after the TCP connect.
    pub login: Duration,
    /// One ordinary Engine API request, from opening its channel to the last byte of the
    /// answer; also opening any SSH channel.
    pub request: Duration,
    /// Requests that make the engine work for a while: swarm init/join/leave, image import,
    /// waiting for a container.
    pub long: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            login: Duration::from_secs(8),
            request: Duration::from_secs(5),
            long: Duration::from_secs(90),
        }
    }
}

impl Deadlines {
    /// The defaults with an inventory's overrides, then the command line's `--timeout`.
    pub fn resolve(table: &TimeoutTable, request_override: Option<Duration>) -> Self {
        let mut d = Self::default();
        let secs = |v: Option<u64>, dflt: Duration| v.map(Duration::from_secs).unwrap_or(dflt);
        d.connect = secs(table.connect, d.connect);
        d.login = secs(table.login, d.login);
        d.request = secs(table.request, d.request);
        d.long = secs(table.long, d.long);
        if let Some(r) = request_override {
            d.request = r;
            d.connect = r;
            d.login = d.login.max(r);
        }
        d.sanitised()
    }

    /// No zero deadlines (an immediate failure helps nobody), and a long operation is never
    /// shorter than an ordinary one.
    fn sanitised(mut self) -> Self {
        let floor = Duration::from_millis(500);
        self.connect = self.connect.max(floor);
        self.login = self.login.max(floor);
        self.request = self.request.max(floor);
        self.long = self.long.max(self.request);
        self
    }

    /// Time for a whole host to be read once: connect, log in, a few requests.
    pub fn host_budget(&self) -> Duration {
        self.connect + self.login + self.request * 2
    }
}

/// The inventory's `[timeouts]` table, in seconds; unset keys keep the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long: Option<u64>,
}

impl TimeoutTable {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Whole seconds or milliseconds, whichever reads better in a message.
pub fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Bytes as MiB or KiB for messages.
pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{} KiB", n >> 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_and_command_line_override_the_defaults() {
        let table = TimeoutTable {
            request: Some(3),
            long: Some(1),
            ..Default::default()
        };
        let d = Deadlines::resolve(&table, None);
        assert_eq!(d.request, Duration::from_secs(3));
        // A long operation never gets less time than an ordinary one.
        assert_eq!(d.long, Duration::from_secs(3));
        assert_eq!(d.connect, Deadlines::default().connect);
        let d = Deadlines::resolve(&table, Some(Duration::from_secs(12)));
        assert_eq!(d.request, Duration::from_secs(12));
        assert_eq!(d.connect, Duration::from_secs(12));
        assert_eq!(d.login, Duration::from_secs(12));
        let d = Deadlines::resolve(&TimeoutTable::default(), Some(Duration::ZERO));
        assert_eq!(d.request, Duration::from_millis(500));
    }

    #[test]
    fn readable_sizes_and_durations() {
        assert_eq!(human(Duration::from_secs(5)), "5 s");
        assert_eq!(human(Duration::from_millis(1500)), "1500 ms");
        assert_eq!(human_bytes(MAX_BODY_BYTES), "64 MiB");
        assert_eq!(human_bytes(4096), "4 KiB");
    }
}
