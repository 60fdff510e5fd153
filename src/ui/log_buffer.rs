//! What the Logs panel keeps (pure): a ring of the newest lines bounded in lines and
//! bytes, counting what it dropped, and the lines a plain search matches, found again
//! only for lines that arrived since the last frame.

use std::collections::VecDeque;

use crate::workloads::log_lines::LogLine;

/// Lines kept by default: a long afternoon of a busy service.
pub const MAX_LINES: usize = 100_000;
/// Bytes of text kept by default.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// The newest lines, each numbered in arrival order (numbers survive the ring turning).
#[derive(Debug)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    /// The number of the oldest line kept.
    first: u64,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    /// Lines dropped to stay within the caps, and their bytes.
    pub dropped: u64,
    pub dropped_bytes: u64,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self::new(MAX_LINES, MAX_BYTES)
    }
}

/// What a line costs the buffer.
fn size(l: &LogLine) -> usize {
    l.line.len() + l.node.len() + l.task.len() + l.task_id.len() + l.time.len()
}

impl LogBuffer {
    pub fn new(max_lines: usize, max_bytes: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            first: 0,
            bytes: 0,
            max_lines: max_lines.max(1),
            max_bytes,
            dropped: 0,
            dropped_bytes: 0,
        }
    }

    /// Adds lines at the end; the oldest leave while the caps are exceeded (the newest
    /// line always stays).
    pub fn extend(&mut self, lines: impl IntoIterator<Item = LogLine>) {
        for l in lines {
            self.bytes += size(&l);
            self.lines.push_back(l);
        }
        while self.lines.len() > self.max_lines
            || (self.bytes > self.max_bytes && self.lines.len() > 1)
        {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= size(&old);
            self.first += 1;
            self.dropped += 1;
            self.dropped_bytes += size(&old) as u64;
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The number of the oldest line kept, and one past the newest.
    pub fn span(&self) -> (u64, u64) {
        (self.first, self.first + self.lines.len() as u64)
    }

    /// The line numbered `n`, if it is still kept.
    pub fn get(&self, n: u64) -> Option<&LogLine> {
        let i = usize::try_from(n.checked_sub(self.first)?).ok()?;
        self.lines.get(i)
    }

    /// Forgets every line; numbers go on, so a filter never mistakes new lines for old.
    pub fn clear(&mut self) {
        self.first += self.lines.len() as u64;
        self.lines.clear();
        self.bytes = 0;
        self.dropped = 0;
        self.dropped_bytes = 0;
    }
}

/// Whether `line` matches `needle_lower` (already lower-case): a plain substring of its
/// text, node or task, case-insensitive. Never a pattern.
pub fn matches(line: &LogLine, needle_lower: &str) -> bool {
    needle_lower.is_empty()
        || [&line.line, &line.node, &line.task]
            .iter()
            .any(|s| s.to_lowercase().contains(needle_lower))
}

/// The numbers of the lines that match a search, kept up to date as lines come and go.
#[derive(Debug, Default)]
pub struct Filter {
    needle: String,
    hits: VecDeque<u64>,
    /// Lines before this number have been looked at.
    checked: u64,
}

impl Filter {
    /// Brings the hits up to date with `buf` for `search`: from scratch when the search
    /// changed, else only the lines that arrived since.
    pub fn update(&mut self, buf: &LogBuffer, search: &str) {
        let needle = search.trim().to_lowercase();
        let (first, end) = buf.span();
        if needle != self.needle || self.checked > end {
            self.needle = needle;
            self.hits.clear();
            self.checked = first;
        }
        while self.hits.front().is_some_and(|&n| n < first) {
            self.hits.pop_front();
        }
        if self.needle.is_empty() {
            self.checked = end;
            return;
        }
        for n in self.checked.max(first)..end {
            if buf.get(n).is_some_and(|l| matches(l, &self.needle)) {
                self.hits.push_back(n);
            }
        }
        self.checked = end;
    }

    /// Whether a search narrows the lines.
    pub fn active(&self) -> bool {
        !self.needle.is_empty()
    }

    /// How many lines are shown: the hits, or every line without a search.
    pub fn shown(&self, buf: &LogBuffer) -> usize {
        if self.active() {
            self.hits.len()
        } else {
            buf.len()
        }
    }

    /// The number of the `i`th line shown.
    pub fn nth(&self, buf: &LogBuffer, i: usize) -> Option<u64> {
        if self.active() {
            self.hits.get(i).copied()
        } else {
            (i < buf.len()).then(|| buf.span().0 + i as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::log_lines::Stream;

    fn line(node: &str, text: &str) -> LogLine {
        LogLine {
            time: "2026-01-01T00:00:00Z".into(),
            at: 0,
            node: node.into(),
            task: "web.1".into(),
            task_id: "t".into(),
            stream: Stream::Stdout,
            line: text.into(),
        }
    }

    fn texts(buf: &LogBuffer) -> Vec<String> {
        let (a, b) = buf.span();
        (a..b).map(|n| buf.get(n).unwrap().line.clone()).collect()
    }

    #[test]
    fn the_ring_keeps_the_newest_lines_and_counts_what_it_dropped() {
        let mut b = LogBuffer::new(3, 1 << 20);
        b.extend(["a", "b", "c", "d", "e"].map(|t| line("n", t)));
        assert_eq!(texts(&b), ["c", "d", "e"]);
        assert_eq!(b.span(), (2, 5), "numbers go on past the drops");
        assert_eq!(b.dropped, 2);
        assert!(b.get(1).is_none(), "a dropped line is gone");
        assert_eq!(b.get(4).unwrap().line, "e");

        let per_line = size(&line("n", "xxxx"));
        let mut small = LogBuffer::new(100, per_line * 2);
        small.extend((0..5).map(|_| line("n", "xxxx")));
        assert_eq!(small.len(), 2, "the byte cap bounds it too");
        assert_eq!(small.dropped_bytes, 3 * per_line as u64);
        small.extend([line("n", &"y".repeat(1000))]);
        assert_eq!(small.len(), 1, "one line over the cap is still kept");
        small.clear();
        assert!(small.is_empty());
        assert_eq!((small.dropped, small.bytes()), (0, 0));
    }

    #[test]
    fn search_is_a_plain_case_insensitive_substring_of_text_node_or_task() {
        let l = line("node3", "GET /index.html 200 (.*)");
        assert!(matches(&l, ""));
        assert!(matches(&l, "index.html"));
        assert!(matches(&l, &"INDEX".to_lowercase()));
        assert!(matches(&l, "node3"));
        assert!(matches(&l, "web.1"));
        assert!(matches(&l, "(.*)"), "regex characters are plain text");
        assert!(!matches(&l, ".*200"), "never a pattern");
        assert!(!matches(&l, "post"));
    }

    #[test]
    fn the_filter_follows_new_lines_and_the_ring_turning() {
        let mut b = LogBuffer::new(4, 1 << 20);
        let mut f = Filter::default();
        b.extend(["ok 1", "ERR 2", "ok 3"].map(|t| line("n", t)));
        f.update(&b, "");
        assert!(!f.active());
        assert_eq!(f.shown(&b), 3);
        assert_eq!(f.nth(&b, 2), Some(2));
        f.update(&b, " err ");
        assert_eq!(f.shown(&b), 1);
        assert_eq!(b.get(f.nth(&b, 0).unwrap()).unwrap().line, "ERR 2");
        b.extend(["err 4", "ok 5", "Err 6"].map(|t| line("n", t)));
        f.update(&b, "err");
        let hits: Vec<&str> = (0..f.shown(&b))
            .map(|i| b.get(f.nth(&b, i).unwrap()).unwrap().line.as_str())
            .collect();
        assert_eq!(hits, ["err 4", "Err 6"], "ERR 2 was dropped with its line");
        b.clear();
        b.extend([line("n", "err again")]);
        f.update(&b, "err");
        assert_eq!(f.shown(&b), 1, "a cleared buffer starts the hits over");
        assert_eq!(f.nth(&b, 5), None);
    }
}
