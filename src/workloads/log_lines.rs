//! Log lines as engines send them, made comparable across nodes: the RFC 3339 timestamp
//! each line starts with (`timestamps=true`), `--since` values, byte frames cut into
//! lines, and the merge of many nodes' streams into one in time order. Pure logic; the
//! streams themselves are read in [`super::logs`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Which of a container's outputs a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of a task's output, with where and when it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// As the engine wrote it (RFC 3339 with nanoseconds).
    pub time: String,
    /// Nanoseconds since the epoch: what lines are ordered by.
    #[serde(skip)]
    pub at: i128,
    /// The swarm node's hostname.
    pub node: String,
    /// `SERVICE.SLOT` (or `SERVICE.NODEID` for global services).
    pub task: String,
    pub task_id: String,
    pub stream: Stream,
    /// The container's text, not yet made safe to show.
    pub line: String,
}

/// Nanoseconds since the epoch of an RFC 3339 time such as the engine writes
/// (`2026-11-30T22:48:41.123456789Z`, or with an offset such as `+02:00`).
pub fn parse_time(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: i128 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in frac[..digits].bytes().enumerate().take(9) {
            nanos += i128::from(c - b'0') * 10i128.pow(8 - i as u32);
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let (h, m) = (
                rest[1..3].parse::<i64>().ok()?,
                rest[4..6].parse::<i64>().ok()?,
            );
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `--since` as seconds since the epoch: a duration back from `now` (`90s`, `10m`,
/// `1h30m`, `2d`), an RFC 3339 time, or seconds since the epoch.
pub fn parse_since(s: &str, now_secs: u64) -> Option<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return Some(secs);
    }
    if let Some(at) = parse_time(s) {
        return i64::try_from(at.div_euclid(1_000_000_000)).ok();
    }
    let back = parse_duration(s)?;
    Some(i64::try_from(now_secs.saturating_sub(back.as_secs())).unwrap_or(0))
}

/// `90s`, `10m`, `1h30m`, `2d`: a sum of numbers each with its unit.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    (number.is_empty() && !s.is_empty()).then(|| Duration::from_secs(total))
}

/// A line as an engine sends it with `timestamps=true`: its time, and the text after it.
pub fn split_timestamp(line: &str) -> Option<(&str, i128, &str)> {
    let (time, text) = line.split_once(' ').unwrap_or((line, ""));
    parse_time(time).map(|at| (time, at, text))
}

/// Cuts a stream's byte frames into whole lines: a frame may end inside a line.
#[derive(Debug, Default)]
pub struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// The lines `frame` completes (without their line breaks).
    pub fn push(&mut self, frame: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for piece in frame.split_inclusive(|&b| b == b'\n') {
            self.partial.extend_from_slice(piece);
            if self.partial.last() == Some(&b'\n') {
                self.partial.pop();
                out.push(String::from_utf8_lossy(&self.partial).into_owned());
                self.partial.clear();
            }
        }
        out
    }

    /// Takes one message of the engine's (one frame): a line longer than the engine's
    /// 16 KiB message size comes in several, each with a time of its own, and only the
    /// last ends the line; the times of the later parts are dropped, the line keeps its
    /// first.
    pub fn push_message(&mut self, frame: &[u8]) -> Vec<String> {
        if self.partial.is_empty() {
            return self.push(frame);
        }
        let rest = frame
            .iter()
            .position(|&b| b == b' ')
            .filter(|&i| std::str::from_utf8(&frame[..i]).is_ok_and(|t| parse_time(t).is_some()))
            .map_or(frame, |i| &frame[i + 1..]);
        self.push(rest)
    }

    /// What is left when the stream ends: a last line without a line break.
    pub fn finish(&mut self) -> Option<String> {
        (!self.partial.is_empty())
            .then(|| String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned())
    }
}

/// A line waiting in the merge.
#[derive(Debug)]
struct Held {
    at: i128,
    /// Arrival order: equal times keep it.
    seq: u64,
    arrived: Instant,
    line: LogLine,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Lines from many streams put in time order. Each node's stream is in order already;
/// across nodes a line may arrive a little after a later one from elsewhere, so every
/// line waits `window` before it leaves (followed logs), or until the streams end
/// (`window` None). At most `cap` lines and `cap_bytes` bytes wait: beyond that the
/// earliest leaves at once, and order across nodes is best effort.
#[derive(Debug)]
pub struct Merge {
    held: BinaryHeap<Reverse<Held>>,
    window: Option<Duration>,
    cap: usize,
    cap_bytes: usize,
    bytes: usize,
    seq: u64,
}

impl Merge {
    pub fn new(window: Option<Duration>, cap: usize, cap_bytes: usize) -> Self {
        Self {
            held: BinaryHeap::new(),
            window,
            cap: cap.max(1),
            cap_bytes,
            bytes: 0,
            seq: 0,
        }
    }

    /// Takes a line; returns the lines the caps push out.
    pub fn push(&mut self, line: LogLine, now: Instant) -> Vec<LogLine> {
        self.seq += 1;
        self.bytes += line.line.len();
        self.held.push(Reverse(Held {
            at: line.at,
            seq: self.seq,
            arrived: now,
            line,
        }));
        let mut out = Vec::new();
        while self.held.len() > self.cap || (self.bytes > self.cap_bytes && self.held.len() > 1) {
            out.extend(self.pop());
        }
        out
    }

    fn pop(&mut self) -> Option<LogLine> {
        let Reverse(h) = self.held.pop()?;
        self.bytes -= h.line.line.len();
        Some(h.line)
    }

    /// The lines that have waited their window, earliest first.
    pub fn due(&mut self, now: Instant) -> Vec<LogLine> {
        let Some(window) = self.window else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while self
            .held
            .peek()
            .is_some_and(|Reverse(h)| h.arrived + window <= now)
        {
            out.extend(self.pop());
        }
        out
    }

    /// When the earliest line will be due (None: nothing waits, or no window).
    pub fn next_due(&self) -> Option<Instant> {
        let window = self.window?;
        self.held.peek().map(|Reverse(h)| h.arrived + window)
    }

    /// Every line still waiting, earliest first: the streams ended.
    pub fn drain(&mut self) -> Vec<LogLine> {
        std::iter::from_fn(|| self.pop()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(node: &str, time: &str) -> LogLine {
        LogLine {
            time: time.into(),
            at: parse_time(time).unwrap(),
            node: node.into(),
            task: "svc.1".into(),
            task_id: "t".into(),
            stream: Stream::Stdout,
            line: format!("{node} {time}"),
        }
    }

    #[test]
    fn times_parse_as_the_engine_writes_them() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_time("1970-01-01T00:00:01.5Z"),
            Some(1_500_000_000),
            "fraction shorter than nanoseconds"
        );
        assert_eq!(
            parse_time("2026-11-30T22:48:41.123456789Z"),
            Some(1_796_078_921_123_456_789)
        );
        assert_eq!(
            parse_time("2026-11-30T23:48:41.123456789+01:00"),
            parse_time("2026-11-30T22:48:41.123456789Z"),
            "offsets count"
        );
        assert_eq!(
            parse_time("2000-03-01T00:00:00Z"),
            Some(951_868_800_000_000_000)
        );
        for bad in [
            "",
            "hello world",
            "2026-13-01T00:00:00Z",
            "2026-11-30T22:48:41",
            "2026-11-30T22:48:41.Z",
            "2026-11-30T22:48:41.1x",
            "2026-11-30T2a:48:41Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn since_takes_durations_times_and_epoch_seconds() {
        let now = 1_000_000;
        assert_eq!(parse_since("90s", now), Some(1_000_000 - 90));
        assert_eq!(parse_since("1h30m", now), Some(1_000_000 - 5400));
        assert_eq!(parse_since("2d", now), Some(1_000_000 - 172_800));
        assert_eq!(parse_since("1700000000", now), Some(1_700_000_000));
        assert_eq!(parse_since("1970-01-02T00:00:00Z", now), Some(86_400));
        for bad in ["", "m", "10x", "10m5", "-5m"] {
            assert_eq!(parse_since(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn frames_are_cut_into_whole_lines() {
        let mut l = Lines::default();
        assert_eq!(l.push(b"a\nb"), vec!["a"]);
        assert_eq!(l.push(b"c\n\nd\n"), vec!["bc", "", "d"]);
        assert_eq!(l.push(b"tail"), Vec::<String>::new());
        assert_eq!(l.finish().as_deref(), Some("tail"));
        assert_eq!(l.finish(), None);
        let mut long = Lines::default();
        assert!(long.push_message(b"2026-11-30T22:48:41.1Z aaa").is_empty());
        assert_eq!(
            long.push_message(b"2026-11-30T22:48:41.2Z bbb\n"),
            vec!["2026-11-30T22:48:41.1Z aaabbb"],
            "the parts of a long line are one line, at its first time"
        );
        assert_eq!(
            long.push_message(b"2026-11-30T22:48:41.3Z ccc\n"),
            vec!["2026-11-30T22:48:41.3Z ccc"]
        );
        let (time, at, text) = split_timestamp("2026-11-30T22:48:41.5Z node1 7").unwrap();
        assert_eq!((time, text), ("2026-11-30T22:48:41.5Z", "node1 7"));
        assert_eq!(at, parse_time(time).unwrap());
        assert_eq!(split_timestamp("no time here"), None);
    }

    #[test]
    fn lines_leave_in_time_order_once_their_window_passed() {
        let t0 = Instant::now();
        let w = Duration::from_millis(200);
        let mut m = Merge::new(Some(w), 100, 1 << 20);
        assert!(m.push(line("b", "2026-01-01T00:00:02Z"), t0).is_empty());
        assert!(
            m.push(line("a", "2026-01-01T00:00:01Z"), t0 + w / 2)
                .is_empty()
        );
        assert!(m.due(t0 + w / 2).is_empty(), "nothing waited long enough");
        assert_eq!(
            m.next_due(),
            Some(t0 + w / 2 + w),
            "the earliest line sets it"
        );
        let out = m.due(t0 + w + w / 2);
        let nodes: Vec<&str> = out.iter().map(|l| l.node.as_str()).collect();
        assert_eq!(nodes, ["a", "b"], "the late line still comes first");
        assert!(m.is_empty());
    }

    #[test]
    fn without_a_window_lines_wait_for_the_end_and_the_cap_bounds_them() {
        let t0 = Instant::now();
        let mut m = Merge::new(None, 2, 1 << 20);
        assert!(m.push(line("c", "2026-01-01T00:00:03Z"), t0).is_empty());
        assert!(m.push(line("a", "2026-01-01T00:00:01Z"), t0).is_empty());
        assert!(m.due(t0 + Duration::from_secs(60)).is_empty());
        let pushed = m.push(line("b", "2026-01-01T00:00:02Z"), t0);
        assert_eq!(pushed.len(), 1, "over the cap: the earliest leaves");
        assert_eq!(pushed[0].node, "a");
        let rest: Vec<String> = m.drain().into_iter().map(|l| l.node).collect();
        assert_eq!(rest, ["b", "c"]);

        let mut small = Merge::new(None, 100, 10);
        let mut long = line("x", "2026-01-01T00:00:01Z");
        long.line = "x".repeat(8);
        assert!(small.push(long.clone(), t0).is_empty());
        assert_eq!(small.push(long, t0).len(), 1, "over the byte cap");
    }
}
