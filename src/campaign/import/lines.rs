//! Line numbers as an editor shows them, counted from the bytes the parser
//! reads rather than taken from csv.

use std::io::Read;

/// The CRs and LFs the parser has been handed, with their byte offsets:
/// csv's own line numbers are one short after a CRLF line end and after a
/// blank line (rust-csv #395, #208: a record's position is taken before
/// the line ends that precede it are skipped), so the import counts lines
/// itself. Only the line ends from the current record on are kept.
pub(super) type LineEnds = std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<(u64, u8)>>>;

/// The file as the parser reads it, noting every CR and LF on the way.
pub(super) struct NotingLineEnds<R> {
    pub(super) inner: R,
    pub(super) at: u64,
    pub(super) ends: LineEnds,
}

impl<R: Read> Read for NotingLineEnds<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut ends = self.ends.borrow_mut();
        for i in memchr::memchr2_iter(b'\r', b'\n', &buf[..n]) {
            ends.push_back((self.at + i as u64, buf[i]));
        }
        self.at += n as u64;
        Ok(n)
    }
}

/// Line numbers (1-based, as an editor shows them) of the records. A line
/// ends at an LF, or at a CR that no LF follows (csv ends records there
/// too).
pub(super) struct Lines {
    pub(super) ends: LineEnds,
    /// Lines ended before the first line end still in `ends`.
    pub(super) before: u64,
}

/// Whether the line end at `i` ends a line (a CR followed by an LF does
/// not: the LF does).
fn ends_line(ends: &std::collections::VecDeque<(u64, u8)>, i: usize) -> bool {
    let (at, b) = ends[i];
    b == b'\n' || ends.get(i + 1) != Some(&(at + 1, b'\n'))
}

impl Lines {
    /// The line of a record csv says starts at byte `start`; records are
    /// asked for in file order, once csv has read them. csv skips the line
    /// ends at the start of a record (the LF of a CRLF, blank lines): they
    /// count.
    pub(super) fn line_of(&mut self, start: u64) -> u64 {
        let mut ends = self.ends.borrow_mut();
        while ends.front().is_some_and(|&(at, _)| at < start) {
            self.before += u64::from(ends_line(&ends, 0));
            ends.pop_front();
        }
        let mut skipped = 0;
        for (i, next) in (0..ends.len()).zip(start..) {
            if ends[i].0 != next {
                break;
            }
            skipped += u64::from(ends_line(&ends, i));
        }
        1 + self.before + skipped
    }
}
