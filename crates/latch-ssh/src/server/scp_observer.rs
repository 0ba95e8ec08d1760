//! A passive observer of the legacy SCP protocol (what `scp -O` speaks over `exec scp -t …` and `exec scp -f …`, as
//! OpenSSH's `scp.c` implements it), turning the bytes a relay already carries on such an exec channel into file
//! transfer events.
//!
//! It only reads copies of the bytes: it never changes, holds back or refuses anything. When the stream stops making
//! sense it stops observing that channel for good and says why ([`ScpObserver::stopped`]); the relay goes on.
//!
//! The protocol: one side, the source, sends records, each a line: `C<mode> <size> <name>` followed by the file's
//! `size` bytes and a `\0` (or `\1` and a message when it could not read the file), `D<mode> 0 <name>` entering a
//! directory and `E` leaving it, `T<mtime> 0 <atime> 0` before a `C` or `D` (with `-p`), and `\1` or `\2` warnings.
//! The other side, the sink, answers the start, each record but the warnings and each file's end with `\0`, or with
//! `\1` or `\2` and a message: an error. For `scp -t` (the person uploads) the person's side is the source; for
//! `scp -f` (the person downloads) the target's is.
//!
//! What it reports, and when:
//!
//! - A `C` record the sink accepted, as one [`SessionEvent::FileTransfer`] (an upload for `-t`, a download for `-f`)
//!   as soon as the file's last byte passed, with its size. An error reported after the content (a read error at the
//!   source, a write error at the sink) does not take it back: the bytes moved. A file the sink refused is not
//!   reported; a file cut short by the end of the channel is reported by [`ScpObserver::finish`] with the bytes seen.
//! - A `D` record the sink accepted on an upload, as a [`SessionEvent::FileOperation`] `Mkdir` (the directory may have
//!   existed already). On a download the directories are made on the person's side, and are not reported.
//!
//! Paths: a record names a file without its directory, so the path is built as the sink builds it, as far as the
//! command line tells. Inside a `D` record it is the directory's path, `/` and the name. Outside any, for
//! `scp -t <path>` it is `<path>` itself when its last component is the name and `-d` was not given (`scp f
//! host:dir/f`), else `<path>/<name>`: the sink writes into `<path>` when that is a directory, which only the target
//! knows, and when it is not, the file went to `<path>` under another name, which the reported path still shows. For
//! `scp -f <path>…` it is the first path whose last component is the name, else, when all the paths are in one
//! directory (a glob such as `/var/log/*.log`, expanded by the target's shell), that directory and the name, else the
//! name alone. Paths are spelled as on the command line (relative ones are relative to the target account's home;
//! shell quoting is not undone) and cut to [`MAX_PATH`] bytes.
//!
//! It reads the source's bytes exactly as OpenSSH's sink does, so that what the sink wrote is what is reported: a
//! line ends at its newline or after [`MAX_LINE`] bytes (the rest is read as the next line), every record the sink
//! takes is taken, and each answer of the sink's is applied to the record it answers, counting the answers owed. A
//! source waits for the answer to each record, and the relay passes the answer on before the source can go on; a
//! source that does not wait misbehaves. What it sends after a `C` or `D` record before the answer is seen is held
//! (at most [`MAX_HELD`] bytes; after a `C` record, the rest of what would be the file's content is only counted, and
//! at most as much again held after it) and read once the answer tells how the sink reads it; answers that come
//! before their record are remembered ([`MAX_EARLY`] runs of them). Beyond these bounds the observer stops
//! ([`Stopped::OutOfStep`]), as it does when the sink refuses a file whose content was counted.
//!
//! Memory is bounded: one line, the held bytes, the paths of at most [`MAX_DEPTH`] directories and of at most
//! [`MAX_SOURCES`] operands of the command line, each at most [`MAX_PATH`] bytes. File content is counted, never kept.

use std::collections::VecDeque;

use latch_recording::{FileOperationKind, FileProtocol, SessionEvent, TransferDirection};

use super::sftp_observer::Side;

/// The longest line OpenSSH's sink reads at once, its newline included (its `buf[2048]`): a longer line is read as a
/// line of this many bytes, then the rest.
pub(crate) const MAX_LINE: usize = 2047;
/// The longest message after an error byte OpenSSH's `response()` reads (its `rbuf[2048]`); the rest is read as the
/// next answer.
const MAX_MESSAGE: usize = 2047;
/// The longest path reported; a longer one is cut and ends with `…`.
pub(crate) const MAX_PATH: usize = 4096;
/// How deeply directories may nest; a `D` record deeper than this stops the observation.
pub(crate) const MAX_DEPTH: usize = 64;
/// How many operands of an `scp -f` command line are kept to build paths from.
pub(crate) const MAX_SOURCES: usize = 64;
/// How many bytes the source may send after a `C` or `D` record before its answer is seen, kept to be read then
/// (and as many after what would be the file's content).
pub(crate) const MAX_HELD: usize = MAX_LINE;
/// How many runs of equal answers that came before their records are remembered.
pub(crate) const MAX_EARLY: usize = 64;
/// The largest file size the sink takes (an `off_t`).
const MAX_SIZE: u64 = i64::MAX as u64;
/// The options of `scp` that take an argument (its `getopt` string).
const OPTIONS_WITH_ARGUMENT: &str = "cDFiJloPSX";

/// Why an observer stopped watching its channel (the channel itself goes on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// A line that is neither a record nor a warning (OpenSSH's sink ends on it), an `E` record outside any
    /// directory, or a byte after a file's content other than `\0`, `\1` or `\2`.
    Malformed,
    /// A `D` record more than [`MAX_DEPTH`] directories deep.
    TooDeep,
    /// The source sent more than could be held before the sink's answer to its record was seen (or the sink refused
    /// a file whose content was counted), or the sink answered more than [`MAX_EARLY`] runs of records ahead.
    OutOfStep,
}

/// The SCP observer of one exec channel.
#[derive(Debug)]
pub(crate) struct ScpObserver {
    channel: u32,
    /// Where records outside any directory go, from the command line.
    destination: Destination,
    /// The paths of the directories the source is in, innermost last.
    directories: Vec<String>,
    /// What the source's next bytes are.
    reading: Reading,
    /// The source's line read so far (at most [`MAX_LINE`] bytes).
    line: Vec<u8>,
    /// How many more bytes of the sink's message to pass over, if it is in one.
    message: usize,
    answers: Answers,
    stopped: Option<Stopped>,
}

impl ScpObserver {
    /// The observer of exec channel `channel` if `command` runs scp as a sink (`-t`: the person uploads) or a
    /// source (`-f`: the person downloads): its first word is `scp` or a path ending in `/scp`. The words are split
    /// at whitespace and read as scp reads its arguments: options up to the first operand or `--`, `-f` before `-t`.
    pub(crate) fn for_command(channel: u32, command: &str) -> Option<ScpObserver> {
        let destination = Destination::of_command(command)?;
        Some(ScpObserver {
            channel,
            destination,
            directories: Vec::new(),
            reading: Reading::Line,
            line: Vec::with_capacity(MAX_LINE),
            message: 0,
            answers: Answers::new(),
            stopped: None,
        })
    }

    /// Reads bytes that passed on the channel from `side`; returns the events they completed.
    pub(crate) fn observe(&mut self, side: Side, bytes: &[u8]) -> Vec<SessionEvent> {
        let mut events = Vec::new();
        if self.stopped.is_some() {
            return events;
        }
        let outcome = if side == self.destination.source_side() {
            self.read_source(bytes, &mut events)
        } else {
            self.read_sink(bytes, &mut events)
        };
        if let Err(reason) = outcome {
            self.stopped = Some(reason);
            self.forget();
        }
        events
    }

    /// Why the observation stopped, if it did.
    pub(crate) fn stopped(&self) -> Option<Stopped> {
        self.stopped
    }

    /// The channel ended: a file whose content was still coming is reported with the bytes seen; a record the sink
    /// had not answered is not.
    pub(crate) fn finish(&mut self) -> Vec<SessionEvent> {
        let mut events = Vec::new();
        if let Reading::Content { file, .. } = std::mem::replace(&mut self.reading, Reading::Line) {
            self.report(file, &mut events);
        }
        self.forget();
        events
    }

    fn forget(&mut self) {
        self.reading = Reading::Line;
        self.line = Vec::new();
        self.message = 0;
        self.directories = Vec::new();
        self.answers = Answers::new();
    }

    fn read_source(&mut self, mut bytes: &[u8], events: &mut Vec<SessionEvent>) -> Result<(), Stopped> {
        while !bytes.is_empty() {
            bytes = match self.reading {
                Reading::Line => self.line_from(bytes, events)?,
                Reading::Content { left, .. } => {
                    let take = usize::try_from(left).map_or(bytes.len(), |left| left.min(bytes.len()));
                    self.advance(take as u64, events);
                    bytes.get(take..).unwrap_or_default()
                }
                Reading::FileEnd => self.file_end_from(bytes)?,
                Reading::Message { mut left } => match skip_message(&mut left, bytes) {
                    Some(rest) => {
                        self.reading = Reading::Line;
                        rest
                    }
                    None => {
                        self.reading = Reading::Message { left };
                        &[]
                    }
                },
                Reading::Unanswered { .. } => {
                    self.hold(bytes)?;
                    &[]
                }
            };
        }
        Ok(())
    }

    /// Reads `bytes` into the current line and, at its end, takes the record; returns the bytes after the line.
    fn line_from<'a>(&mut self, bytes: &'a [u8], events: &mut Vec<SessionEvent>) -> Result<&'a [u8], Stopped> {
        let room = MAX_LINE.saturating_sub(self.line.len());
        let window = bytes.get(..room).unwrap_or(bytes);
        let (taken, ended) = match window.iter().position(|&byte| byte == b'\n') {
            Some(newline) => (newline + 1, true),
            None => (window.len(), self.line.len() + window.len() >= MAX_LINE),
        };
        let (part, rest) = bytes.split_at_checked(taken).unwrap_or((bytes, &[]));
        self.line.extend_from_slice(part.strip_suffix(b"\n").unwrap_or(part));
        if ended {
            let line = std::mem::take(&mut self.line);
            let outcome = self.record(&line, events);
            self.line = line;
            self.line.clear();
            outcome?;
        }
        Ok(rest)
    }

    /// Takes one line of the source's, without its newline.
    fn record(&mut self, line: &[u8], events: &mut Vec<SessionEvent>) -> Result<(), Stopped> {
        // The sink reads the line as a C string.
        let line = line.split(|&byte| byte == 0).next().unwrap_or_default();
        let Some((&kind, fields)) = line.split_first() else { return Err(Stopped::Malformed) };
        match kind {
            // A warning or error of the source's, which the sink does not answer.
            1 | 2 => Ok(()),
            // Times for the next record: only its answer matters.
            b'T' => {
                self.answers.owe();
                Ok(())
            }
            b'E' => {
                self.directories.pop().ok_or(Stopped::Malformed)?;
                self.answers.owe();
                Ok(())
            }
            b'C' => {
                let (size, name) = entry(fields)?;
                let file = File { path: self.path_of(name), size, seen: 0 };
                self.await_answer(Record::File(file), events);
                Ok(())
            }
            b'D' => {
                if self.directories.len() >= MAX_DEPTH {
                    return Err(Stopped::TooDeep);
                }
                let (_, name) = entry(fields)?;
                self.await_answer(Record::Directory(self.path_of(name)), events);
                Ok(())
            }
            _ => Err(Stopped::Malformed),
        }
    }

    /// The byte after a file's content: `\0`, or `\1` or `\2` and a message saying the source could not read it.
    fn file_end_from<'a>(&mut self, bytes: &'a [u8]) -> Result<&'a [u8], Stopped> {
        let Some((&end, rest)) = bytes.split_first() else { return Ok(bytes) };
        self.reading = match end {
            0 => Reading::Line,
            1 | 2 => Reading::Message { left: MAX_MESSAGE },
            _ => return Err(Stopped::Malformed),
        };
        self.answers.owe();
        Ok(rest)
    }

    /// `count` more bytes of the file's content passed (at most what is left); at its last byte it is reported.
    fn advance(&mut self, count: u64, events: &mut Vec<SessionEvent>) {
        let Reading::Content { file, left } = &mut self.reading else { return };
        file.seen = file.seen.saturating_add(count);
        *left = left.saturating_sub(count);
        if *left == 0
            && let Reading::Content { file, .. } = std::mem::replace(&mut self.reading, Reading::FileEnd)
        {
            self.report(file, events);
        }
    }

    /// A `C` or `D` record was read: it is applied at the sink's answer (at once when the answer came first).
    fn await_answer(&mut self, record: Record, events: &mut Vec<SessionEvent>) {
        match self.answers.take_early() {
            Some(answer) => self.settle(record, answer, events),
            None => self.reading = Reading::Unanswered { record, held: Vec::new(), counted: 0, after: Vec::new() },
        }
    }

    /// Keeps what the source sent before the sink answered its record.
    fn hold(&mut self, bytes: &[u8]) -> Result<(), Stopped> {
        let Reading::Unanswered { record, held, counted, after } = &mut self.reading else { return Ok(()) };
        let room = if *counted == 0 && after.is_empty() { MAX_HELD.saturating_sub(held.len()) } else { 0 };
        let (kept, more) = bytes.split_at_checked(room).unwrap_or((bytes, &[]));
        held.extend_from_slice(kept);
        if more.is_empty() {
            return Ok(());
        }
        // Beyond what is held, the file's content (if the sink accepts it) is only counted, and what follows it held.
        let Record::File(file) = record else { return Err(Stopped::OutOfStep) };
        let content = file.size.saturating_sub(held.len() as u64).saturating_sub(*counted);
        let count = usize::try_from(content).map_or(more.len(), |content| content.min(more.len()));
        *counted += count as u64;
        let tail = more.get(count..).unwrap_or_default();
        if after.len() + tail.len() > MAX_HELD {
            return Err(Stopped::OutOfStep);
        }
        after.extend_from_slice(tail);
        Ok(())
    }

    /// Applies the sink's answer to a `C` or `D` record.
    fn settle(&mut self, record: Record, answer: Answer, events: &mut Vec<SessionEvent>) {
        self.reading = Reading::Line;
        if answer == Answer::Refused {
            return;
        }
        match record {
            Record::File(file) => {
                self.reading = Reading::Content { left: file.size, file };
                // An empty file is done at once.
                self.advance(0, events);
            }
            Record::Directory(path) => {
                if self.destination.direction() == TransferDirection::Upload {
                    events.push(SessionEvent::FileOperation {
                        channel: self.channel,
                        protocol: FileProtocol::Scp,
                        operation: FileOperationKind::Mkdir,
                        path: path.clone(),
                        target: None,
                    });
                }
                self.directories.push(path);
            }
        }
    }

    /// Reads the sink's answers: `\0`, or `\1` or `\2` (or, fatally, any other byte) and a message.
    fn read_sink(&mut self, mut bytes: &[u8], events: &mut Vec<SessionEvent>) -> Result<(), Stopped> {
        while !bytes.is_empty() {
            if self.message > 0 {
                bytes = skip_message(&mut self.message, bytes).unwrap_or_default();
                continue;
            }
            let Some((&first, rest)) = bytes.split_first() else { break };
            bytes = rest;
            let answer = match first {
                0 => Answer::Accepted,
                1 | 2 => {
                    self.message = MAX_MESSAGE;
                    Answer::Refused
                }
                // The byte is the message's first.
                _ => {
                    self.message = MAX_MESSAGE - 1;
                    Answer::Refused
                }
            };
            self.answered(answer, events)?;
        }
        Ok(())
    }

    /// Applies one answer of the sink's to the oldest record owed one.
    fn answered(&mut self, answer: Answer, events: &mut Vec<SessionEvent>) -> Result<(), Stopped> {
        if self.answers.owed > 0 {
            self.answers.owed -= 1;
            return Ok(());
        }
        if !matches!(self.reading, Reading::Unanswered { .. }) {
            return self.answers.remember_early(answer);
        }
        let Reading::Unanswered { record, held, counted, after } = std::mem::replace(&mut self.reading, Reading::Line)
        else {
            return Ok(());
        };
        if counted > 0 && answer == Answer::Refused {
            return Err(Stopped::OutOfStep);
        }
        self.settle(record, answer, events);
        self.read_source(&held, events)?;
        if counted > 0 {
            // The held bytes were the file's first, these the rest of it.
            self.advance(counted, events);
        }
        self.read_source(&after, events)
    }

    /// The path of the file or directory `name` in the source's current directory.
    fn path_of(&self, name: &[u8]) -> String {
        let name = String::from_utf8_lossy(name);
        match self.directories.last() {
            Some(directory) => joined(directory, &name),
            None => self.destination.path_of(&name),
        }
    }

    fn report(&self, file: File, events: &mut Vec<SessionEvent>) {
        events.push(SessionEvent::FileTransfer {
            channel: self.channel,
            protocol: FileProtocol::Scp,
            direction: self.destination.direction(),
            path: file.path,
            bytes: file.seen,
        });
    }
}

/// What the command line says about where files go.
#[derive(Debug)]
enum Destination {
    /// `scp -t <path>`: the sink writes into `path` (a directory) or to it; `directory` when `-d` says it is one.
    Sink { path: String, directory: bool },
    /// `scp -f <paths>…`: what the source sends, without trailing slashes.
    Source { paths: Vec<String> },
}

impl Destination {
    fn of_command(command: &str) -> Option<Destination> {
        let mut words = command.split_whitespace();
        if last_component(words.next()?) != "scp" {
            return None;
        }
        let (mut sink, mut source, mut directory) = (false, false, false);
        let mut operands = Vec::new();
        while let Some(word) = words.next() {
            if word == "--" {
                break;
            }
            let Some(flags) = word.strip_prefix('-').filter(|flags| !flags.is_empty()) else {
                operands.push(word);
                break;
            };
            for (at, flag) in flags.char_indices() {
                match flag {
                    't' => sink = true,
                    'f' => source = true,
                    'd' => directory = true,
                    _ if OPTIONS_WITH_ARGUMENT.contains(flag) => {
                        // The option's argument is the rest of the word, or else the next word.
                        if at + flag.len_utf8() == flags.len() {
                            words.next();
                        }
                        break;
                    }
                    _ => {}
                }
            }
        }
        operands.extend(words);
        if operands.is_empty() {
            return None;
        }
        if source {
            let paths =
                operands.into_iter().take(MAX_SOURCES).map(|path| cut(without_trailing_slashes(path))).collect();
            Some(Destination::Source { paths })
        } else if sink {
            Some(Destination::Sink { path: cut(operands.join(" ")), directory })
        } else {
            None
        }
    }

    fn direction(&self) -> TransferDirection {
        match self {
            Destination::Sink { .. } => TransferDirection::Upload,
            Destination::Source { .. } => TransferDirection::Download,
        }
    }

    /// The side whose bytes are records.
    fn source_side(&self) -> Side {
        match self {
            Destination::Sink { .. } => Side::Client,
            Destination::Source { .. } => Side::Target,
        }
    }

    /// The path of `name` outside any directory.
    fn path_of(&self, name: &str) -> String {
        match self {
            Destination::Sink { path, directory } => {
                if !directory && last_component(path) == name {
                    path.clone()
                } else {
                    joined(path, name)
                }
            }
            Destination::Source { paths } => {
                if let Some(path) = paths.iter().find(|path| last_component(path) == name) {
                    return path.clone();
                }
                let mut parents = paths.iter().map(|path| parent(path));
                match parents.next() {
                    Some(first) if parents.all(|parent| parent == first) => joined(first, name),
                    _ => cut(name.to_owned()),
                }
            }
        }
    }
}

/// What the source's next bytes are.
#[derive(Debug)]
enum Reading {
    /// A record or a warning line.
    Line,
    /// A file's content, `left` more bytes of it (never 0).
    Content { file: File, left: u64 },
    /// The byte after a file's content.
    FileEnd,
    /// A message after a file's content, at most `left` more bytes of it (never 0).
    Message { left: usize },
    /// None before the sink answers `record`. What came meanwhile is `held` (the first bytes); beyond that, if
    /// `record` is a file, what would be its content is `counted`, and what would follow it is held `after`.
    Unanswered { record: Record, held: Vec<u8>, counted: u64, after: Vec<u8> },
}

/// A record whose answer decides something.
#[derive(Debug)]
enum Record {
    File(File),
    /// A directory, by path.
    Directory(String),
}

/// A file the source announced, and how many of its bytes passed.
#[derive(Debug)]
struct File {
    path: String,
    size: u64,
    seen: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Accepted,
    Refused,
}

/// The sink's answers not yet applied to a record, or records not yet answered.
#[derive(Debug)]
struct Answers {
    /// Answers owed to records they decide nothing about (the start, `T`, `E`, a file's end), all of which come
    /// before the answer to an unanswered `C` or `D` record.
    owed: u64,
    /// Answers that came before their records, oldest first, as runs of equal answers (never empty ones); only when
    /// none is owed.
    early: VecDeque<(Answer, u64)>,
}

impl Answers {
    /// The sink's first answer says it is ready.
    fn new() -> Self {
        Answers { owed: 1, early: VecDeque::new() }
    }

    /// A record was read whose answer decides nothing.
    fn owe(&mut self) {
        if self.take_early().is_none() {
            self.owed = self.owed.saturating_add(1);
        }
    }

    fn take_early(&mut self) -> Option<Answer> {
        let (answer, count) = self.early.front_mut()?;
        let answer = *answer;
        *count -= 1;
        if *count == 0 {
            self.early.pop_front();
        }
        Some(answer)
    }

    fn remember_early(&mut self, answer: Answer) -> Result<(), Stopped> {
        if let Some((last, count)) = self.early.back_mut()
            && *last == answer
        {
            *count = count.saturating_add(1);
            return Ok(());
        }
        if self.early.len() >= MAX_EARLY {
            return Err(Stopped::OutOfStep);
        }
        self.early.push_back((answer, 1));
        Ok(())
    }
}

/// The size and name of a `C` or `D` record, after its letter, read as OpenSSH's sink reads them: four octal digits
/// of mode, a space, a decimal size of at most [`MAX_SIZE`], a space, and a name that is not empty, `.` or `..` and
/// holds no `/`.
fn entry(fields: &[u8]) -> Result<(u64, &[u8]), Stopped> {
    let (mode, rest) = fields.split_first_chunk::<4>().ok_or(Stopped::Malformed)?;
    if !mode.iter().all(|digit| (b'0'..=b'7').contains(digit)) {
        return Err(Stopped::Malformed);
    }
    let rest = rest.strip_prefix(b" ").ok_or(Stopped::Malformed)?;
    let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
    let (number, rest) = rest.split_at_checked(digits).ok_or(Stopped::Malformed)?;
    let size = number
        .iter()
        .try_fold(0u64, |size, digit| size.checked_mul(10)?.checked_add(u64::from(digit - b'0')))
        .filter(|&size| digits > 0 && size <= MAX_SIZE)
        .ok_or(Stopped::Malformed)?;
    let name = rest.strip_prefix(b" ").ok_or(Stopped::Malformed)?;
    if name.is_empty() || name.contains(&b'/') || name == b"." || name == b".." {
        return Err(Stopped::Malformed);
    }
    Ok((size, name))
}

/// Passes over a message that ends at its newline or after `left` more bytes; returns what follows it, or `None`
/// when all of `bytes` belongs to it.
fn skip_message<'a>(left: &mut usize, bytes: &'a [u8]) -> Option<&'a [u8]> {
    let window = bytes.get(..*left).unwrap_or(bytes);
    if let Some(newline) = window.iter().position(|&byte| byte == b'\n') {
        *left = 0;
        return bytes.get(newline + 1..);
    }
    *left -= window.len();
    if *left == 0 { bytes.get(window.len()..) } else { None }
}

/// `name` in `directory` (nothing for the current one), cut to [`MAX_PATH`] bytes.
fn joined(directory: &str, name: &str) -> String {
    cut(if directory.is_empty() {
        name.to_owned()
    } else if directory.ends_with('/') {
        format!("{directory}{name}")
    } else {
        format!("{directory}/{name}")
    })
}

/// What follows the last `/` (all of `path` when there is none).
fn last_component(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, last)| last)
}

/// `path` up to and with its last `/` (nothing when there is none).
fn parent(path: &str) -> &str {
    path.rfind('/').and_then(|slash| path.get(..=slash)).unwrap_or_default()
}

/// `path` without trailing slashes, as the source reads its operands (`/` stays).
fn without_trailing_slashes(path: &str) -> String {
    match path.trim_end_matches('/') {
        "" if !path.is_empty() => "/".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// `path` cut to [`MAX_PATH`] bytes, then ending with `…`, when it is longer.
fn cut(mut path: String) -> String {
    if path.len() > MAX_PATH {
        path.truncate(path.floor_char_boundary(MAX_PATH));
        path.push('…');
    }
    path
}

#[cfg(test)]
mod tests;
