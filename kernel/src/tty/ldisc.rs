//! The console's line discipline, as Linux's `n_tty` does it for the settings a shell
//! uses: canonical mode (a line is edited until newline: erase, kill, end of file) or raw
//! mode (`ICANON` off: bytes as they come), echo, `ICRNL` (carriage return read as
//! newline), and the signal characters (`ISIG`: ^C SIGINT, ^\ SIGQUIT, ^Z SIGTSTP) with the
//! line discarded. Settings travel as Linux's `struct termios` (36 bytes). Portable and
//! host-tested; the kernel feeds it the serial line's bytes (`tty`).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

// c_iflag, c_oflag, c_lflag bits and c_cc indices (asm-generic/termbits.h).
const ICRNL: u32 = 0o400;
const IXON: u32 = 0o2000;
const OPOST: u32 = 0o1;
const ONLCR: u32 = 0o4;
const B38400: u32 = 0o17;
const CS8: u32 = 0o60;
const CREAD: u32 = 0o200;
const ISIG: u32 = 0o1;
const ICANON: u32 = 0o2;
const ECHO: u32 = 0o10;
const ECHOE: u32 = 0o20;
const ECHOK: u32 = 0o40;
const ECHOCTL: u32 = 0o1000;
const IEXTEN: u32 = 0o100_000;
const VINTR: usize = 0;
const VQUIT: usize = 1;
const VERASE: usize = 2;
const VKILL: usize = 3;
const VEOF: usize = 4;
const VSUSP: usize = 10;
/// `struct termios`: c_iflag, c_oflag, c_cflag, c_lflag (4 bytes each), c_line, c_cc[19].
pub const TERMIOS_LEN: usize = 36;
const NCCS: usize = 19;

const SIGINT: u32 = 2;
const SIGQUIT: u32 = 3;
const SIGTSTP: u32 = 20;

/// The most bytes an unfinished line holds (Linux's `N_TTY_BUF_SIZE`): more are dropped.
const LINE_MAX: usize = 4096;

/// What the discipline did with one input byte.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Input {
    /// Bytes to write back to the terminal (the echo).
    pub echo: Vec<u8>,
    /// A signal for the foreground process group.
    pub signal: Option<u32>,
}

pub struct LineDiscipline {
    iflag: u32,
    oflag: u32,
    cflag: u32,
    lflag: u32,
    cc: [u8; NCCS],
    /// The line being edited (canonical mode).
    line: Vec<u8>,
    /// Bytes a read may take: whole lines in canonical mode.
    ready: VecDeque<u8>,
    /// End-of-file marks (^D on an empty line) not yet read: each is one read of 0.
    eofs: u32,
}

impl Default for LineDiscipline {
    fn default() -> Self {
        Self::new()
    }
}

impl LineDiscipline {
    /// A cooked terminal, as Linux's serial console starts: canonical mode with echo,
    /// signals, `ICRNL`, `ONLCR`; ^C, ^\, DEL, ^U, ^D, ^Z.
    pub fn new() -> Self {
        let mut cc = [0u8; NCCS];
        let chars = [
            3u8, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0,
        ];
        cc[..chars.len()].copy_from_slice(&chars);
        LineDiscipline {
            iflag: ICRNL | IXON,
            oflag: OPOST | ONLCR,
            cflag: B38400 | CS8 | CREAD,
            lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | IEXTEN,
            cc,
            line: Vec::new(),
            ready: VecDeque::new(),
            eofs: 0,
        }
    }

    /// `TCGETS`.
    pub fn termios(&self) -> [u8; TERMIOS_LEN] {
        let mut b = [0u8; TERMIOS_LEN];
        for (i, v) in [self.iflag, self.oflag, self.cflag, self.lflag]
            .iter()
            .enumerate()
        {
            b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        b[17..17 + NCCS].copy_from_slice(&self.cc);
        b
    }

    /// `TCSETS`: the new settings. Leaving canonical mode makes the line being edited
    /// readable; entering it keeps what is ready.
    pub fn set_termios(&mut self, b: &[u8; TERMIOS_LEN]) {
        let word = |i: usize| u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().expect("4"));
        let was_canonical = self.canonical();
        (self.iflag, self.oflag, self.cflag, self.lflag) = (word(0), word(1), word(2), word(3));
        self.cc.copy_from_slice(&b[17..17 + NCCS]);
        if was_canonical && !self.canonical() {
            self.ready.extend(self.line.drain(..));
        }
    }

    fn canonical(&self) -> bool {
        self.lflag & ICANON != 0
    }

    /// Whether a read would return now (bytes, or an end of file).
    pub fn readable(&self) -> bool {
        !self.ready.is_empty() || self.eofs > 0
    }

    /// Up to `max` bytes for a read, or `Some(empty)` at an end of file, or `None` when
    /// the reader must wait. A canonical read ends with its line.
    pub fn read(&mut self, max: usize) -> Option<Vec<u8>> {
        if self.ready.is_empty() {
            if self.eofs > 0 {
                self.eofs -= 1;
                return Some(Vec::new());
            }
            return None;
        }
        let mut out = Vec::new();
        while out.len() < max {
            let Some(b) = self.ready.pop_front() else {
                break;
            };
            out.push(b);
            if self.canonical() && b == b'\n' {
                break;
            }
        }
        Some(out)
    }

    /// The echo of `b`: as is, a control character as `^X` with `ECHOCTL`, newline as
    /// CR LF with `ONLCR`.
    fn echo_of(&self, b: u8, out: &mut Vec<u8>) {
        if self.lflag & ECHO == 0 {
            return;
        }
        match b {
            b'\n' if self.oflag & (OPOST | ONLCR) == OPOST | ONLCR => {
                out.extend_from_slice(b"\r\n")
            }
            b'\n' | b'\t' => out.push(b),
            0..=0x1f | 0x7f if self.lflag & ECHOCTL != 0 => {
                out.extend_from_slice(&[b'^', b ^ 0x40]);
            }
            _ => out.push(b),
        }
    }

    /// One byte from the terminal.
    pub fn input(&mut self, byte: u8) -> Input {
        let mut result = Input::default();
        let b = if byte == b'\r' && self.iflag & ICRNL != 0 {
            b'\n'
        } else {
            byte
        };
        if self.lflag & ISIG != 0 && b != 0 {
            let signal = [(VINTR, SIGINT), (VQUIT, SIGQUIT), (VSUSP, SIGTSTP)]
                .into_iter()
                .find(|&(i, _)| self.cc[i] == b)
                .map(|(_, sig)| sig);
            if let Some(sig) = signal {
                self.line.clear();
                self.echo_of(b, &mut result.echo);
                if self.lflag & ECHO != 0 {
                    result.echo.extend_from_slice(b"\r\n");
                }
                result.signal = Some(sig);
                return result;
            }
        }
        if !self.canonical() {
            self.ready.push_back(b);
            self.echo_of(b, &mut result.echo);
            return result;
        }
        if b == self.cc[VERASE] || b == 0x08 {
            if self.line.pop().is_some() && self.lflag & ECHO != 0 {
                result.echo.extend_from_slice(if self.lflag & ECHOE != 0 {
                    b"\x08 \x08"
                } else {
                    b"\x08"
                });
            }
        } else if b == self.cc[VKILL] {
            if self.lflag & ECHO != 0 && self.lflag & ECHOK != 0 {
                for _ in 0..self.line.len() {
                    result.echo.extend_from_slice(b"\x08 \x08");
                }
            }
            self.line.clear();
        } else if b == self.cc[VEOF] {
            // ^D: the line so far becomes readable without a newline; on an empty line,
            // an end of file.
            if self.line.is_empty() {
                self.eofs += 1;
            } else {
                self.ready.extend(self.line.drain(..));
            }
        } else if b == b'\n' {
            self.line.push(b);
            self.ready.extend(self.line.drain(..));
            self.echo_of(b, &mut result.echo);
        } else if self.line.len() < LINE_MAX {
            self.line.push(b);
            self.echo_of(b, &mut result.echo);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(l: &mut LineDiscipline, bytes: &[u8]) -> Vec<u8> {
        let mut echo = Vec::new();
        for &b in bytes {
            echo.extend(l.input(b).echo);
        }
        echo
    }

    #[test]
    fn canonical_lines_are_edited_until_newline() {
        let mut l = LineDiscipline::new();
        let echo = feed(&mut l, b"ecgo\x7f\x7fho hi\r");
        assert_eq!(echo, b"ecgo\x08 \x08\x08 \x08ho hi\r\n");
        assert_eq!(l.read(100), Some(b"echo hi\n".to_vec()));
        assert_eq!(l.read(100), None, "nothing more: the reader waits");
        feed(&mut l, b"junk\x15ok\n");
        assert_eq!(l.read(100), Some(b"ok\n".to_vec()), "^U killed the line");
        feed(&mut l, b"one\ntwo\n");
        assert_eq!(l.read(2), Some(b"on".to_vec()));
        assert_eq!(
            l.read(100),
            Some(b"e\n".to_vec()),
            "a read ends with its line"
        );
        assert_eq!(l.read(100), Some(b"two\n".to_vec()));
        assert!(!l.readable());
    }

    #[test]
    fn control_d_ends_the_input_or_the_line() {
        let mut l = LineDiscipline::new();
        feed(&mut l, b"abc\x04");
        assert_eq!(l.read(100), Some(b"abc".to_vec()));
        feed(&mut l, b"\x04");
        assert_eq!(l.read(100), Some(Vec::new()), "end of file");
        assert_eq!(l.read(100), None);
    }

    #[test]
    fn signal_characters_discard_the_line() {
        let mut l = LineDiscipline::new();
        feed(&mut l, b"sleep 100");
        let r = l.input(3);
        assert_eq!(r.signal, Some(SIGINT));
        assert_eq!(r.echo, b"^C\r\n");
        assert_eq!(l.input(0x1c).signal, Some(SIGQUIT));
        assert_eq!(l.input(0x1a).signal, Some(SIGTSTP));
        assert!(!l.readable(), "the line went with the signal");
    }

    #[test]
    fn raw_mode_gives_bytes_at_once_and_settings_round_trip() {
        let mut l = LineDiscipline::new();
        feed(&mut l, b"par");
        let mut t = l.termios();
        let lflag = u32::from_le_bytes(t[12..16].try_into().unwrap());
        t[12..16].copy_from_slice(&(lflag & !(ICANON | ECHO | ISIG)).to_le_bytes());
        l.set_termios(&t);
        assert_eq!(l.termios(), t);
        assert_eq!(
            l.read(100),
            Some(b"par".to_vec()),
            "the unfinished line is readable"
        );
        assert!(feed(&mut l, b"x\x03").is_empty(), "no echo");
        assert_eq!(
            l.read(100),
            Some(b"x\x03".to_vec()),
            "^C is a byte, not a signal"
        );
        assert_eq!(LineDiscipline::new().termios()[17], 3, "VINTR is ^C");
    }
}
