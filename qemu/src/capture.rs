//! Line splitting, echoing and bounded capture of the serial byte stream.

use std::collections::VecDeque;
use std::io::{self, Write};

/// Serial lines kept for display when a run ends badly.
pub const TAIL_LINES: usize = 30;
/// Most serial output kept for classification; older output is dropped beyond this.
pub const MAX_SERIAL_BYTES: usize = 16 << 20;
/// A "line" longer than this is cut, so a guest printing no newline cannot exhaust memory.
const MAX_LINE_BYTES: usize = 64 << 10;

/// Bounded store of serial lines: all of them up to a size, and the last few.
#[derive(Debug, Default)]
pub struct SerialCapture {
    text: String,
    truncated: bool,
    tail: VecDeque<String>,
}

impl SerialCapture {
    /// Records one line (without its newline).
    pub fn push_line(&mut self, line: &str) {
        if self.text.len() + line.len() + 1 > MAX_SERIAL_BYTES {
            // Drop the older half, at a line boundary: the verdict is at the end.
            let half = self.text.len() / 2;
            let cut = self.text[half..]
                .find('\n')
                .map_or(self.text.len(), |i| half + i + 1);
            self.text.drain(..cut);
            self.truncated = true;
        }
        if line.len() < MAX_SERIAL_BYTES {
            self.text.push_str(line);
            self.text.push('\n');
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_owned());
    }

    /// The captured text, whether it was truncated, and the last lines.
    pub fn finish(self) -> (String, bool, Vec<String>) {
        (self.text, self.truncated, self.tail.into())
    }
}

/// Splits the serial byte stream into lines, echoes it to stdout and feeds the capture and
/// the annotator (whose text is echoed after the line it annotates).
pub struct LineSink<'a> {
    capture: SerialCapture,
    pending: Vec<u8>,
    echo: bool,
    annotate: &'a mut dyn FnMut(&str) -> Option<String>,
}

impl<'a> LineSink<'a> {
    /// A sink echoing to stdout when `echo` is set.
    pub fn new(echo: bool, annotate: &'a mut dyn FnMut(&str) -> Option<String>) -> Self {
        LineSink {
            capture: SerialCapture::default(),
            pending: Vec::new(),
            echo,
            annotate,
        }
    }

    /// Consumes a chunk of serial output; bytes are echoed at once, even before a newline.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut out = io::stdout().lock();
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            if self.echo {
                // Output errors (e.g. a closed pipe) must not stop the run.
                let _ = out.write_all(piece);
            }
            self.pending.extend_from_slice(piece);
            if piece.ends_with(b"\n") || self.pending.len() > MAX_LINE_BYTES {
                self.finish_line(&mut out);
            }
        }
        let _ = out.flush();
    }

    fn finish_line(&mut self, out: &mut impl Write) {
        let text = String::from_utf8_lossy(&self.pending);
        let line = text.trim_end_matches(['\n', '\r']);
        self.capture.push_line(line);
        if let Some(extra) = (self.annotate)(line)
            && self.echo
        {
            let _ = writeln!(out, "{extra}");
        }
        self.pending.clear();
    }

    /// Ends the stream (an unterminated last line counts as a line) and returns the capture.
    pub fn finish(mut self) -> SerialCapture {
        if !self.pending.is_empty() {
            let mut out = io::stdout().lock();
            if self.echo {
                let _ = out.write_all(b"\n");
            }
            self.finish_line(&mut out);
            let _ = out.flush();
        }
        self.capture
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_tail() {
        let mut cap = SerialCapture::default();
        for i in 0..100 {
            cap.push_line(&format!("line {i}"));
        }
        let (text, truncated, tail) = cap.finish();
        assert!(!truncated);
        assert_eq!(text.lines().count(), 100);
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail[TAIL_LINES - 1], "line 99");
        assert_eq!(tail[0], "line 70");
    }

    #[test]
    fn capture_is_bounded() {
        let mut cap = SerialCapture::default();
        let line = "x".repeat(1 << 20);
        for _ in 0..40 {
            cap.push_line(&line);
        }
        cap.push_line("verdict");
        let (text, truncated, tail) = cap.finish();
        assert!(truncated);
        assert!(text.len() <= MAX_SERIAL_BYTES);
        assert!(text.ends_with("verdict\n"));
        assert_eq!(tail.last().map(String::as_str), Some("verdict"));
    }

    #[test]
    fn sink_splits_chunks_and_annotates() {
        let mut seen = Vec::new();
        let mut annotate = |l: &str| {
            seen.push(l.to_owned());
            None
        };
        let mut sink = LineSink::new(false, &mut annotate);
        sink.feed(b"ab");
        sink.feed(b"c\r\nd\n\ne");
        let (text, _, _) = sink.finish().finish();
        assert_eq!(text, "abc\nd\n\ne\n");
        assert_eq!(seen, ["abc", "d", "", "e"]);
    }
}
