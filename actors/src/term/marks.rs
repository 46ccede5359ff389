//! The shell-integration parser: reads a terminal's output stream as it passes, finds the
//! marks Weft's shell snippets print (OSC 133 A/B/C/D, OSC 633;E, OSC 7, OSC 0/2) and turns
//! them into finished commands with their cwd, times, exit code and output.
//!
//! It never changes the stream (the UI gets every byte as the shell wrote it); it only keeps,
//! per command, the text a user would have seen: escape sequences removed, carriage-return
//! redraws (progress bars) collapsed, backspaces applied, bounded to a head and a tail with a
//! marker between them. It is a byte state machine with no allocation per byte, so it keeps up
//! with output far faster than any shell produces it.

use std::collections::VecDeque;

/// One command the shell ran, as the marks described it (text not yet redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    /// The command line.
    pub command: String,
    /// The shell's cwd when it started, when the shell reported one.
    pub cwd: Option<String>,
    /// When its output began (Unix ms).
    pub started_ms: i64,
    /// When it finished (Unix ms).
    pub ended_ms: i64,
    /// Its exit status, when the shell reported one.
    pub exit_code: Option<i32>,
    /// What it printed, as text: the head and the tail, with a marker when the middle was cut.
    pub output: String,
    /// Bytes it printed (raw, escape sequences included; counted per read, so the end mark
    /// in the same read as the last output counts too).
    pub output_bytes: u64,
    /// Whether `output` was cut.
    pub truncated: bool,
}

/// What the parser found in a piece of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A command began running (its line, when known).
    Started(String),
    /// A command finished.
    Finished(CommandRecord),
    /// The shell reported its cwd (OSC 7).
    Cwd(String),
    /// The shell set the window title (OSC 0/2).
    Title(String),
    /// The shell integration is active (the first mark arrived).
    Integrated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    Ground,
    Escape,
    EscapeIntermediate,
    Csi,
    Osc,
    OscEscape,
    Str,
    StrEscape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the first prompt, or between commands.
    Idle,
    /// The prompt is drawn, the user types (the echo is kept: it is the fallback line).
    Input,
    /// A command runs: its output is kept.
    Running,
}

/// Longest OSC payload kept (longer ones are skipped, not parsed).
const MAX_OSC: usize = 16 * 1024;
/// Longest echoed command line kept.
const MAX_ECHO: usize = 16 * 1024;
/// Longest line kept before it is flushed as if it ended.
const MAX_LINE: usize = 8 * 1024;

/// Text kept from a stream: its first `head_cap` bytes and its last `tail_cap`.
#[derive(Debug)]
struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    total: u64,
    line: Vec<u8>,
    pending_cr: bool,
}

impl Capture {
    fn new(limit: usize) -> Self {
        let head_cap = limit / 4;
        Self {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_cap,
            tail_cap: limit - head_cap,
            total: 0,
            line: Vec::new(),
            pending_cr: false,
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.head_cap.saturating_sub(self.head.len());
        let (to_head, rest) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(to_head);
        if rest.is_empty() {
            return;
        }
        if rest.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&rest[rest.len() - self.tail_cap..]);
            return;
        }
        let over = (self.tail.len() + rest.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..over);
        self.tail.extend(rest);
    }

    fn end_line(&mut self) {
        self.line.push(b'\n');
        let line = std::mem::take(&mut self.line);
        self.emit(&line);
        self.line = line;
        self.line.clear();
    }

    /// One byte of text (outside escape sequences).
    fn byte(&mut self, b: u8) {
        if self.pending_cr {
            self.pending_cr = false;
            if b == b'\n' {
                self.end_line();
                return;
            }
            // A bare carriage return: the line is being redrawn; keep only the new text.
            self.line.clear();
        }
        match b {
            b'\n' => self.end_line(),
            b'\r' => self.pending_cr = true,
            0x08 => {
                // Backspace: drop the last character (all of a UTF-8 sequence).
                while let Some(last) = self.line.pop() {
                    if last & 0xC0 != 0x80 {
                        break;
                    }
                }
            }
            b'\t' => self.line.push(b),
            0..=0x1F | 0x7F => {}
            _ => {
                self.line.push(b);
                if self.line.len() >= MAX_LINE {
                    self.end_line();
                }
            }
        }
    }

    /// The kept text and whether the middle was cut.
    fn finish(mut self) -> (String, bool) {
        // An unterminated last line of blanks is the shell redrawing before its prompt
        // (zsh's PROMPT_SP), not output.
        if !self.line.is_empty() && !self.line.iter().all(u8::is_ascii_whitespace) {
            let line = std::mem::take(&mut self.line);
            self.emit(&line);
        }
        let truncated = self.total > (self.head.len() + self.tail.len()) as u64;
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if truncated {
            let cut = self.total - (self.head.len() + self.tail.len()) as u64;
            text.push_str(&format!("\n[… weft: {cut} bytes of output not kept …]\n"));
        }
        let tail: Vec<u8> = self.tail.into_iter().collect();
        // The tail may start inside a UTF-8 sequence: skip its continuation bytes.
        let start = tail
            .iter()
            .take(3)
            .take_while(|b| **b & 0xC0 == 0x80)
            .count();
        text.push_str(&String::from_utf8_lossy(&tail[start..]));
        (text, truncated)
    }
}

/// The parser and the command being recorded.
pub struct Recorder {
    esc: Lex,
    osc: Vec<u8>,
    osc_overflow: bool,
    phase: Phase,
    integrated: bool,
    cwd: Option<String>,
    /// The command line from OSC 633;E and its flag (`unsure`: compare with the echo;
    /// `hidden`: the user asked the shell not to remember it).
    line: Option<(String, Option<String>)>,
    echo: Capture,
    output: Option<Capture>,
    command: String,
    started_cwd: Option<String>,
    started_ms: i64,
    raw_bytes: u64,
    hidden: bool,
    limit: usize,
    now: fn() -> i64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("phase", &self.phase)
            .field("integrated", &self.integrated)
            .field("cwd", &self.cwd)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder keeping at most `limit` bytes of text per command.
    pub fn new(limit: usize, now: fn() -> i64) -> Self {
        let limit = limit.max(1024);
        Self {
            esc: Lex::Ground,
            osc: Vec::new(),
            osc_overflow: false,
            phase: Phase::Idle,
            integrated: false,
            cwd: None,
            line: None,
            echo: Capture::new(MAX_ECHO),
            output: None,
            command: String::new(),
            started_cwd: None,
            started_ms: 0,
            raw_bytes: 0,
            hidden: false,
            limit,
            now,
        }
    }

    /// Whether a mark has been seen (the shell integration runs).
    pub fn integrated(&self) -> bool {
        self.integrated
    }

    /// The last cwd the shell reported.
    pub fn cwd(&self) -> Option<&str> {
        self.cwd.as_deref()
    }

    /// Reads `bytes`, appending what it found to `found`.
    pub fn feed(&mut self, bytes: &[u8], found: &mut Vec<Found>) {
        if self.phase == Phase::Running {
            self.raw_bytes += bytes.len() as u64;
        }
        for &b in bytes {
            match self.esc {
                Lex::Ground => {
                    if b == 0x1B {
                        self.esc = Lex::Escape;
                    } else if b == 0x07 {
                        // A bell outside a sequence: nothing to keep.
                    } else {
                        self.text(b);
                    }
                }
                Lex::Escape => self.esc = self.after_esc(b),
                Lex::EscapeIntermediate => {
                    if !(0x20..=0x2F).contains(&b) {
                        self.esc = Lex::Ground;
                    }
                }
                Lex::Csi => {
                    if (0x40..=0x7E).contains(&b) {
                        self.esc = Lex::Ground;
                    }
                }
                Lex::Osc => match b {
                    0x07 => {
                        self.esc = Lex::Ground;
                        self.osc_end(found);
                    }
                    0x1B => self.esc = Lex::OscEscape,
                    _ => {
                        if self.osc.len() < MAX_OSC {
                            self.osc.push(b);
                        } else {
                            self.osc_overflow = true;
                        }
                    }
                },
                Lex::OscEscape => {
                    self.osc_end(found);
                    // ESC \ ends it; ESC followed by anything else starts a new sequence.
                    self.esc = if b == b'\\' {
                        Lex::Ground
                    } else {
                        self.after_esc(b)
                    };
                }
                Lex::Str => match b {
                    0x07 => self.esc = Lex::Ground,
                    0x1B => self.esc = Lex::StrEscape,
                    _ => {}
                },
                Lex::StrEscape => {
                    self.esc = if b == b'\\' { Lex::Ground } else { Lex::Str };
                }
            }
        }
    }

    /// The state after ESC and `b`.
    fn after_esc(&mut self, b: u8) -> Lex {
        match b {
            b'[' => Lex::Csi,
            b']' => {
                self.osc.clear();
                self.osc_overflow = false;
                Lex::Osc
            }
            b'P' | b'X' | b'^' | b'_' => Lex::Str,
            0x20..=0x2F => Lex::EscapeIntermediate,
            _ => Lex::Ground,
        }
    }

    fn text(&mut self, b: u8) {
        match self.phase {
            Phase::Idle => {}
            Phase::Input => self.echo.byte(b),
            Phase::Running => {
                if let Some(out) = self.output.as_mut() {
                    out.byte(b);
                }
            }
        }
    }

    fn osc_end(&mut self, found: &mut Vec<Found>) {
        if self.osc_overflow {
            return;
        }
        let payload = std::mem::take(&mut self.osc);
        let text = String::from_utf8_lossy(&payload);
        let (code, rest) = match text.split_once(';') {
            Some((c, r)) => (c, r),
            None => (text.as_ref(), ""),
        };
        match code {
            "133" => self.mark(rest, found),
            "633" => {
                if let Some(line) = rest.strip_prefix("E;") {
                    let (cmd, flag) = match line.split_once(';') {
                        Some((c, f)) => (c, Some(f.to_owned())),
                        None => (line, None),
                    };
                    self.line = Some((unescape(cmd), flag));
                    self.integrate(found);
                }
            }
            "7" => {
                if let Some(path) = file_url_path(rest) {
                    if self.cwd.as_deref() != Some(path.as_str()) {
                        self.cwd = Some(path.clone());
                        found.push(Found::Cwd(path));
                    }
                }
            }
            "0" | "2" => found.push(Found::Title(rest.chars().take(256).collect())),
            _ => {}
        }
        self.osc = payload;
        self.osc.clear();
    }

    fn integrate(&mut self, found: &mut Vec<Found>) {
        if !self.integrated {
            self.integrated = true;
            found.push(Found::Integrated);
        }
    }

    fn mark(&mut self, rest: &str, found: &mut Vec<Found>) {
        self.integrate(found);
        let mut parts = rest.split(';');
        match parts.next().unwrap_or("") {
            "A" => {
                if self.phase == Phase::Running {
                    // A new prompt without an end mark: the command ended, status unknown.
                    self.finish(None, found);
                }
                self.phase = Phase::Idle;
            }
            "B" => {
                if self.phase == Phase::Running {
                    self.finish(None, found);
                }
                self.phase = Phase::Input;
                self.echo = Capture::new(MAX_ECHO);
                self.line = None;
            }
            "C" => {
                if self.phase == Phase::Running {
                    self.finish(None, found);
                }
                let echo = std::mem::replace(&mut self.echo, Capture::new(MAX_ECHO));
                let (echoed, _) = echo.finish();
                let echoed = echoed.trim_end_matches('\n').to_owned();
                let (command, hidden) = match self.line.take() {
                    Some((line, None)) => (line, false),
                    Some((_, Some(flag))) if flag == "hidden" => (String::new(), true),
                    Some((line, Some(_))) => {
                        // History did not take the line (ignoredups or ignorespace): the
                        // remembered line is right only if it is what the user typed.
                        if echoed.trim() == line.trim() && !echoed.starts_with(' ') {
                            (line, false)
                        } else {
                            (String::new(), true)
                        }
                    }
                    None => (echoed.trim().to_owned(), false),
                };
                self.command = command;
                self.hidden = hidden;
                self.started_cwd = self.cwd.clone();
                self.started_ms = (self.now)();
                self.raw_bytes = 0;
                self.output = Some(Capture::new(self.limit));
                self.phase = Phase::Running;
                if !hidden {
                    found.push(Found::Started(self.command.clone()));
                }
            }
            "D" => {
                if self.phase == Phase::Running {
                    let code = parts.next().and_then(|c| c.trim().parse::<i32>().ok());
                    self.finish(code, found);
                }
                self.phase = Phase::Idle;
            }
            _ => {}
        }
    }

    fn finish(&mut self, exit_code: Option<i32>, found: &mut Vec<Found>) {
        self.phase = Phase::Idle;
        let Some(output) = self.output.take() else {
            return;
        };
        if self.hidden || self.command.trim().is_empty() {
            return;
        }
        let (output, truncated) = output.finish();
        found.push(Found::Finished(CommandRecord {
            command: std::mem::take(&mut self.command),
            cwd: self.started_cwd.take(),
            started_ms: self.started_ms,
            ended_ms: (self.now)(),
            exit_code,
            output,
            output_bytes: self.raw_bytes,
            truncated,
        }));
    }

    /// The shell ended: a command still running is recorded without a status.
    pub fn end(&mut self, found: &mut Vec<Found>) {
        if self.phase == Phase::Running {
            self.finish(None, found);
        }
    }
}

/// Undoes the OSC 633 escaping: `\\` is a backslash, `\xHH` a byte.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if bytes.get(i + 1) == Some(&b'x') {
                if let Some(v) = s
                    .get(i + 2..i + 4)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path of a `file://host/path` URL, percent-decoded.
fn file_url_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("file://")?;
    let path = &rest[rest.find('/')?..];
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(v) = path
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> i64 {
        1_000
    }

    fn run(chunks: &[&[u8]]) -> Vec<Found> {
        let mut r = Recorder::new(64 * 1024, clock);
        let mut found = Vec::new();
        for c in chunks {
            r.feed(c, &mut found);
        }
        found
    }

    fn finished(found: &[Found]) -> Vec<CommandRecord> {
        found
            .iter()
            .filter_map(|f| match f {
                Found::Finished(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }

    const PROMPT: &[u8] = b"\x1b]133;A\x07$ \x1b]133;B\x07";

    #[test]
    fn a_command_with_cwd_exit_code_and_output() {
        let found = run(&[
            b"\x1b]7;file://host/home/u%20x\x07",
            PROMPT,
            b"echo hi\r\n",
            b"\x1b]633;E;echo hi\x07\x1b]133;C\x07",
            b"hi\r\n",
            b"\x1b]133;D;0\x07\x1b]7;file://host/tmp\x07",
        ]);
        let cmds = finished(&found);
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].command, "echo hi");
        assert_eq!(cmds[0].cwd.as_deref(), Some("/home/u x"));
        assert_eq!(cmds[0].exit_code, Some(0));
        assert_eq!(cmds[0].output, "hi\n");
        assert!(found.contains(&Found::Cwd("/tmp".into())));
    }

    #[test]
    fn marks_split_across_reads_and_st_terminators() {
        let stream: &[u8] = b"\x1b]133;A\x1b\\$ \x1b]133;B\x1b\\false\r\n\x1b]633;E;false\x1b\\\x1b]133;C\x1b\\\x1b]133;D;1\x1b\\";
        let chunks: Vec<&[u8]> = stream.chunks(3).collect();
        let cmds = finished(&run(&chunks));
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].command, "false");
        assert_eq!(cmds[0].exit_code, Some(1));
    }

    #[test]
    fn escapes_and_redraws_are_removed_from_output() {
        let found = run(&[
            PROMPT,
            b"\x1b]633;E;make\x07\x1b]133;C\x07",
            b"\x1b[1;32mok\x1b[0m\r\n 10%\r 50%\r100%\r\nab\x08c\r\n",
            b"\x1b]133;D;0\x07",
        ]);
        assert_eq!(finished(&found)[0].output, "ok\n100%\nac\n");
    }

    #[test]
    fn escaped_command_lines_are_decoded() {
        let found = run(&[
            PROMPT,
            b"\x1b]633;E;a\\x3bb \\\\ c\\x0ad\x07\x1b]133;C\x07\x1b]133;D;0\x07",
        ]);
        assert_eq!(finished(&found)[0].command, "a;b \\ c\nd");
    }

    #[test]
    fn history_that_did_not_take_the_line_uses_the_matching_echo_only() {
        // ignoredups: the line typed equals the remembered one.
        let dup = run(&[
            PROMPT,
            b"ls\r\n\x1b]633;E;ls;unsure\x07\x1b]133;C\x07x\r\n\x1b]133;D;0\x07",
        ]);
        assert_eq!(finished(&dup)[0].command, "ls");
        // ignorespace: the typed line starts with a space; nothing is recorded.
        let hidden = run(&[
            PROMPT,
            b" secret-cmd\r\n\x1b]633;E;ls;unsure\x07\x1b]133;C\x07x\r\n\x1b]133;D;0\x07",
        ]);
        assert!(finished(&hidden).is_empty());
        let flagged = run(&[
            PROMPT,
            b"\x1b]633;E; x;hidden\x07\x1b]133;C\x07x\r\n\x1b]133;D;0\x07",
        ]);
        assert!(finished(&flagged).is_empty());
    }

    #[test]
    fn long_output_keeps_head_and_tail_with_a_marker() {
        let mut r = Recorder::new(4096, clock);
        let mut found = Vec::new();
        r.feed(PROMPT, &mut found);
        r.feed(b"\x1b]633;E;yes\x07\x1b]133;C\x07", &mut found);
        for _ in 0..100_000 {
            r.feed(b"y\r\n", &mut found);
        }
        r.feed(b"last line\r\n\x1b]133;D;141\x07", &mut found);
        let c = &finished(&found)[0];
        assert!(c.truncated);
        // The output and, at most, the bytes of the marks around it in the same reads.
        assert!(
            (300_021..300_021 + 32).contains(&c.output_bytes),
            "{}",
            c.output_bytes
        );
        assert!(c.output.starts_with("y\ny\n"));
        assert!(c.output.ends_with("y\nlast line\n"));
        assert!(c.output.contains("bytes of output not kept"));
        assert!(c.output.len() < 4096 + 100);
        assert_eq!(c.exit_code, Some(141));
    }

    #[test]
    fn a_prompt_without_end_mark_closes_the_command_and_empty_lines_record_nothing() {
        let found = run(&[
            PROMPT,
            b"\x1b]133;D;0\x07",
            PROMPT,
            b"\x1b]633;E;sleep 1\x07\x1b]133;C\x07",
            PROMPT,
        ]);
        let cmds = finished(&found);
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].exit_code, None);
    }

    #[test]
    fn plain_output_without_marks_records_nothing() {
        let found = run(&[b"hello\r\n\x1b[31mred\x1b[0m\r\n"]);
        assert!(found.is_empty());
    }
}
