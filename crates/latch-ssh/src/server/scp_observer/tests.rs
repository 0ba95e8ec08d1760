//! Tests of the SCP observer: hand-built conversations fed whole, in pieces and cut at every byte.
use super::*;

/// A conversation, in the order its bytes pass: the source's records and content, the sink's answers.
#[derive(Clone)]
struct Talk {
    source: Side,
    sink: Side,
    messages: Vec<(Side, Vec<u8>)>,
}

impl Talk {
    /// `scp -t`: the person is the source; the target's sink starts by saying it is ready.
    fn upload() -> Self {
        Talk { source: Side::Client, sink: Side::Target, messages: vec![(Side::Target, vec![0])] }
    }

    /// `scp -f`: the target is the source; the person's sink starts by saying it is ready.
    fn download() -> Self {
        Talk { source: Side::Target, sink: Side::Client, messages: vec![(Side::Client, vec![0])] }
    }

    fn send(mut self, bytes: &[u8]) -> Self {
        self.messages.push((self.source, bytes.to_vec()));
        self
    }

    fn answer(mut self, bytes: &[u8]) -> Self {
        self.messages.push((self.sink, bytes.to_vec()));
        self
    }

    fn ok(self) -> Self {
        self.answer(b"\0")
    }

    fn refuse(self, message: &str) -> Self {
        self.answer(format!("\x01scp: {message}\n").as_bytes())
    }

    /// A `C` record, the sink's yes, the content and its `\0`, the sink's yes.
    fn file(self, name: &str, content: &[u8]) -> Self {
        let record = format!("C0644 {} {name}\n", content.len());
        self.send(record.as_bytes()).ok().send(&[content, b"\0"].concat()).ok()
    }

    fn times(self) -> Self {
        self.send(b"T1700000000 0 1700000001 0\n").ok()
    }

    fn directory(self, name: &str) -> Self {
        self.send(format!("D0755 0 {name}\n").as_bytes()).ok()
    }

    fn end(self) -> Self {
        self.send(b"E\n").ok()
    }
}

fn observer_of(command: &str) -> ScpObserver {
    ScpObserver::for_command(5, command).expect("an scp command")
}

/// Feeds the conversation in pieces of at most `piece` bytes; returns every event.
fn run(command: &str, messages: &[(Side, Vec<u8>)], piece: usize) -> (Vec<SessionEvent>, ScpObserver) {
    let mut observer = observer_of(command);
    let mut events = Vec::new();
    for (side, bytes) in messages {
        for chunk in bytes.chunks(piece) {
            events.extend(observer.observe(*side, chunk));
        }
    }
    (events, observer)
}

/// The same events however the bytes are cut: in pieces, at every byte of every message, and with the messages a
/// side sends in a row joined.
fn events_of(command: &str, talk: &Talk) -> Vec<SessionEvent> {
    let messages = &talk.messages;
    let (whole, observer) = run(command, messages, usize::MAX);
    assert_eq!(observer.stopped(), None);
    for piece in [1, 2, 3, 7, 64, 4096] {
        assert_eq!(run(command, messages, piece).0, whole, "cut into pieces of {piece} bytes");
    }
    // The longer messages are only cut in the pieces above.
    for (at, (side, bytes)) in messages.iter().enumerate().filter(|(_, (_, bytes))| bytes.len() <= 4096) {
        for split in 1..bytes.len() {
            let (head, tail) = bytes.split_at(split);
            let mut cut = messages.clone();
            cut.splice(at..=at, [(*side, head.to_vec()), (*side, tail.to_vec())]);
            assert_eq!(run(command, &cut, usize::MAX).0, whole, "message {at} cut after {split} bytes");
        }
    }
    let mut joined: Vec<(Side, Vec<u8>)> = Vec::new();
    for (side, bytes) in messages {
        match joined.last_mut() {
            Some((last, run)) if last == side => run.extend_from_slice(bytes),
            _ => joined.push((*side, bytes.clone())),
        }
    }
    assert_eq!(run(command, &joined, usize::MAX).0, whole, "each side's messages in a row joined");
    whole
}

fn transfer(direction: TransferDirection, path: &str, bytes: u64) -> SessionEvent {
    SessionEvent::FileTransfer { channel: 5, protocol: FileProtocol::Scp, direction, path: path.to_owned(), bytes }
}

fn upload(path: &str, bytes: u64) -> SessionEvent {
    transfer(TransferDirection::Upload, path, bytes)
}

fn download(path: &str, bytes: u64) -> SessionEvent {
    transfer(TransferDirection::Download, path, bytes)
}

fn mkdir(path: &str) -> SessionEvent {
    SessionEvent::FileOperation {
        channel: 5,
        protocol: FileProtocol::Scp,
        operation: FileOperationKind::Mkdir,
        path: path.to_owned(),
        target: None,
    }
}

#[test]
fn command_lines_that_run_scp_as_sink_or_source_are_observed() {
    #[track_caller]
    fn check(command: &str, expected: Option<TransferDirection>) {
        let direction = ScpObserver::for_command(5, command).map(|observer| observer.destination.direction());
        assert_eq!(direction, expected, "{command:?}");
    }
    use TransferDirection::{Download, Upload};
    check("scp -t /srv", Some(Upload));
    check("scp -t -- -odd-name", Some(Upload));
    check("scp -v -r -p -d -t -- /srv/", Some(Upload));
    check("  /usr/bin/scp   -t\t.", Some(Upload));
    check("scp -f /etc/hosts", Some(Download));
    check("scp -prf /etc /var", Some(Download));
    check("scp -t -f /etc/hosts", Some(Download));
    check("scp -l 100 -t /srv", Some(Upload));
    check("scp -l100 -t /srv", Some(Upload));
    // `-t` is the argument of `-o` here.
    check("scp -o -t /srv", None);
    check("scp -t", None);
    check("scp -f", None);
    check("scp /a /b", None);
    check("scp -- -t /srv", None);
    check("echo scp -t /srv", None);
    check("sh -c 'scp -t /srv'", None);
    check("/opt/bin/myscp -t /srv", None);
    check("scp2 -t /srv", None);
    check("/usr/lib/openssh/sftp-server", None);
    check("", None);
}

#[test]
fn a_path_outside_any_directory_follows_the_command_line() {
    #[track_caller]
    fn check(command: &str, name: &str, expected: &str) {
        assert_eq!(observer_of(command).path_of(name.as_bytes()), expected, "{command:?} sending {name:?}");
    }
    check("scp -t .", "notes.txt", "./notes.txt");
    check("scp -t /tmp", "notes.txt", "/tmp/notes.txt");
    check("scp -t /tmp/", "notes.txt", "/tmp/notes.txt");
    check("scp -t /tmp/notes.txt", "notes.txt", "/tmp/notes.txt");
    check("scp -t notes.txt", "notes.txt", "notes.txt");
    // `-d`: the path is a directory.
    check("scp -d -t /tmp/notes.txt", "notes.txt", "/tmp/notes.txt/notes.txt");
    // A directory or a file under another name: only the target knows; the path keeps both names.
    check("scp -t /etc/app.conf", "local.conf", "/etc/app.conf/local.conf");
    check("scp -t my dir", "f", "my dir/f");
    check("scp -f /etc/hosts", "hosts", "/etc/hosts");
    check("scp -r -f /etc/ssh/", "ssh", "/etc/ssh");
    check("scp -f /a/x /b/y", "y", "/b/y");
    check("scp -f /var/log/*.log", "syslog.log", "/var/log/syslog.log");
    check("scp -f /var/log/a.log /var/log/b*", "b2.log", "/var/log/b2.log");
    check("scp -f *.log", "a.log", "a.log");
    check("scp -f /x", "y", "/y");
    check("scp -f /a/* /b/*", "z", "z");
}

#[test]
fn an_upload_is_reported_when_its_last_byte_passed() {
    let talk = Talk::upload().send(b"C0640 11 report.pdf\n").ok().send(b"hello world");
    let (events, _) = run("scp -t /srv/in", &talk.messages, usize::MAX);
    assert_eq!(events, [upload("/srv/in/report.pdf", 11)]);
    let talk = talk.send(b"\0").ok();
    assert_eq!(events_of("scp -t /srv/in", &talk), [upload("/srv/in/report.pdf", 11)]);
}

#[test]
fn an_empty_file_is_reported_with_zero_bytes() {
    let talk = Talk::upload().file("empty", b"");
    assert_eq!(events_of("scp -t /srv", &talk), [upload("/srv/empty", 0)]);
}

#[test]
fn a_recursive_upload_reports_its_directories_and_the_files_in_them() {
    let talk = Talk::upload()
        .directory("site")
        .file("index.html", b"<html></html>")
        .directory("css")
        .file("a.css", b"body{}")
        .end()
        .file("b.txt", b"b")
        .end()
        .file("top.txt", b"top");
    assert_eq!(
        events_of("scp -r -t /srv", &talk),
        [
            mkdir("/srv/site"),
            upload("/srv/site/index.html", 13),
            mkdir("/srv/site/css"),
            upload("/srv/site/css/a.css", 6),
            upload("/srv/site/b.txt", 1),
            upload("/srv/top.txt", 3),
        ]
    );
}

#[test]
fn a_download_with_times_reports_each_file() {
    let talk = Talk::download()
        .times()
        .file("hosts", b"127.0.0.1 localhost\n")
        // A source's warning about an operand it could not send: not answered.
        .send(b"\x01scp: /etc/shadow: Permission denied\n")
        .times()
        .file("motd", b"welcome\n");
    assert_eq!(
        events_of("scp -p -f /etc/hosts /etc/shadow /etc/motd", &talk),
        [download("/etc/hosts", 20), download("/etc/motd", 8)]
    );
}

#[test]
fn a_recursive_download_reports_files_but_not_directories() {
    let talk = Talk::download()
        .times()
        .directory("ssh")
        .times()
        .file("sshd_config", b"Port 22\n")
        .directory("sshd_config.d")
        .file("a.conf", b"x")
        .end()
        .end();
    assert_eq!(
        events_of("scp -r -p -f /etc/ssh/", &talk),
        [download("/etc/ssh/sshd_config", 8), download("/etc/ssh/sshd_config.d/a.conf", 1)]
    );
}

#[test]
fn a_file_cut_short_is_reported_by_finish_with_the_bytes_seen() {
    let talk = Talk::upload().send(b"C0644 1000 big.bin\n").ok().send(&[7; 400]);
    for piece in [1, 7, usize::MAX] {
        let (events, mut observer) = run("scp -t /srv", &talk.messages, piece);
        assert_eq!(events, []);
        assert_eq!(observer.finish(), [upload("/srv/big.bin", 400)]);
        assert_eq!(observer.finish(), []);
    }
    // A record the sink had not answered moved nothing.
    let talk = Talk::upload().send(b"C0644 1000 big.bin\n");
    assert_eq!(run("scp -t /srv", &talk.messages, usize::MAX).1.finish(), []);
}

#[test]
fn a_refused_file_or_directory_is_not_reported() {
    let talk = Talk::upload()
        .send(b"C0600 4 secret\n")
        .refuse("/srv/secret: Permission denied")
        .file("public", b"data")
        .send(b"D0755 0 locked\n")
        .refuse("/srv/locked: Permission denied")
        .file("after", b"1");
    assert_eq!(events_of("scp -r -t /srv", &talk), [upload("/srv/public", 4), upload("/srv/after", 1)]);
}

#[test]
fn errors_after_the_content_do_not_take_the_file_back() {
    let talk = Talk::download()
        // The source could not read all of it (it still sent `size` bytes).
        .send(b"C0644 3 a.log\n")
        .ok()
        .send(b"abc\x01scp: /var/log/a.log: Input/output error\n")
        .ok()
        // The sink could not write it.
        .send(b"C0644 2 b.log\n")
        .ok()
        .send(b"de\0")
        .refuse("b.log: No space left on device")
        .file("c.log", b"f");
    assert_eq!(
        events_of("scp -f /var/log/*.log", &talk),
        [download("/var/log/a.log", 3), download("/var/log/b.log", 2), download("/var/log/c.log", 1)]
    );
}

#[test]
fn records_are_read_as_openssh_reads_them() {
    // Leading zeros, the largest size, and a name ending at a NUL byte.
    let talk = Talk::upload()
        .send(b"C0644 0003 a\n")
        .ok()
        .send(b"abc\0")
        .ok()
        .send(b"C0644 9223372036854775807 huge\n")
        .refuse("no")
        .send(b"C0644 1 b\0ignored\n")
        .ok()
        .send(b"b\0")
        .ok();
    assert_eq!(events_of("scp -t /srv", &talk), [upload("/srv/a", 3), upload("/srv/b", 1)]);
}

#[test]
fn a_long_line_is_read_in_pieces_of_max_line_bytes_as_the_sink_reads_it() {
    // A record padded with zeros to a full line and no newline: the sink takes it, and what follows as the file.
    let (head, tail) = ("C0644 ", "5 ab");
    let line = format!("{head}{}{tail}", "0".repeat(MAX_LINE - head.len() - tail.len()));
    let talk = Talk::upload().send(line.as_bytes()).ok().send(b"hello\0").ok();
    assert_eq!(events_of("scp -t /srv", &talk), [upload("/srv/ab", 5)]);

    // A warning longer than a line: the sink reads the rest as a record.
    let warning = [&[1][..], &[b'w'; MAX_LINE - 1]].concat();
    let talk = Talk::upload().send(&warning).file("next", b"abc");
    assert_eq!(events_of("scp -t /srv", &talk), [upload("/srv/next", 3)]);

    // A flood without newlines never takes more than a line.
    let mut observer = observer_of("scp -t /srv");
    observer.observe(Side::Target, &[0]);
    assert_eq!(observer.observe(Side::Client, &[&[1][..], &[b'w'; 1 << 20]].concat()), []);
    assert_eq!(observer.stopped(), Some(Stopped::Malformed));

    // The sink's long message: the rest is read as more answers.
    let mut observer = observer_of("scp -t /srv");
    observer.observe(Side::Target, &[0]);
    observer.observe(Side::Client, b"C0644 1 x\n");
    observer.observe(Side::Target, &[&[1][..], &[b'm'; MAX_MESSAGE + 1]].concat());
    assert!(matches!(observer.reading, Reading::Line));
    assert_eq!(observer.answers.early, [(Answer::Refused, 1)]);
    assert_eq!(observer.message, MAX_MESSAGE - 1);
}

#[test]
fn a_line_that_is_not_a_record_stops_the_observer_for_good() {
    let lines: [&[u8]; 16] = [
        b"C644 1 x\n",
        b"C0648 1 x\n",
        b"C0644 x y\n",
        b"C0644  1 x\n",
        b"C0644 -1 x\n",
        b"C0644 1\n",
        b"C0644 1 \n",
        b"C0644 1 a/b\n",
        b"C0644 1 .\n",
        b"D0755 0 ..\n",
        b"C0644 9223372036854775808 x\n",
        b"C0644 99999999999999999999999 x\n",
        b"Q0644 1 x\n",
        b"\n",
        b"\0C0644 1 x\n",
        b"E\n",
    ];
    for line in lines {
        let mut observer = observer_of("scp -r -t /srv");
        observer.observe(Side::Target, &[0]);
        assert_eq!(observer.observe(Side::Client, line), []);
        assert_eq!(observer.stopped(), Some(Stopped::Malformed), "{}", line.escape_ascii());
        for (side, bytes) in Talk::upload().file("later", b"x").messages {
            assert_eq!(observer.observe(side, &bytes), []);
        }
        assert_eq!(observer.finish(), []);
    }
    // After a file's content comes `\0`, `\1` or `\2`.
    let mut observer = observer_of("scp -t /srv");
    for (side, bytes) in Talk::upload().send(b"C0644 1 x\n").ok().send(b"xy").messages {
        observer.observe(side, &bytes);
    }
    assert_eq!(observer.stopped(), Some(Stopped::Malformed));
}

#[test]
fn directories_nested_too_deep_stop_the_observer() {
    let talk = (0..MAX_DEPTH).fold(Talk::upload(), |talk, _| talk.directory("d"));
    let (events, mut observer) = run("scp -r -t /srv", &talk.messages, usize::MAX);
    assert_eq!(events.len(), MAX_DEPTH);
    assert_eq!(events.last(), Some(&mkdir(&format!("/srv{}", "/d".repeat(MAX_DEPTH)))));
    assert_eq!(observer.stopped(), None);
    assert_eq!(observer.observe(Side::Client, b"D0755 0 d\n"), []);
    assert_eq!(observer.stopped(), Some(Stopped::TooDeep));
    assert!(observer.directories.is_empty());
}

#[test]
fn long_paths_are_cut() {
    let long = format!("/{}", "é".repeat(3000));
    let (events, _) = run(&format!("scp -t {long}"), &Talk::upload().file("x", b"1").messages, usize::MAX);
    let cut = format!("{}…", &long[..MAX_PATH - 1]);
    assert_eq!(events, [upload(&cut, 1)]);
}

#[test]
fn a_source_that_does_not_wait_is_followed_as_the_sink_reads_it() {
    /// The source sends everything at once; then the sink answers everything.
    fn without_waiting(talk: &Talk) -> Talk {
        let (sent, answered): (Vec<_>, Vec<_>) = talk.messages.iter().partition(|(side, _)| *side == talk.source);
        let mut rushed = talk.clone();
        rushed.messages = vec![
            (talk.source, sent.into_iter().flat_map(|(_, bytes)| bytes.clone()).collect()),
            (talk.sink, answered.into_iter().flat_map(|(_, bytes)| bytes.clone()).collect()),
        ];
        rushed
    }
    let talk = Talk::upload().directory("d").file("a", b"12345").end().file("b", b"xyz");
    let in_turn = events_of("scp -r -t /srv", &talk);
    assert_eq!(in_turn, [mkdir("/srv/d"), upload("/srv/d/a", 5), upload("/srv/b", 3)]);
    assert_eq!(events_of("scp -r -t /srv", &without_waiting(&talk)), in_turn);

    // Refused, the record's "content" is read as records.
    let talk = Talk::upload().send(b"C0644 10 a-directory\n").refuse("a-directory: Is a directory").file("b", b"xyz");
    assert_eq!(events_of("scp -t /srv", &without_waiting(&talk)), [upload("/srv/b", 3)]);

    // More content than is held is counted when the sink accepts the file...
    let talk = Talk::upload().file("big", &[9; 100_000]);
    assert_eq!(events_of("scp -t /srv", &without_waiting(&talk)), [upload("/srv/big", 100_000)]);
    // ...and stops the observer when it refuses it.
    let talk = Talk::upload().send(b"C0644 100000 big\n").refuse("no").send(&[9; 100_000]);
    let (events, observer) = run("scp -t /srv", &without_waiting(&talk).messages, usize::MAX);
    assert_eq!((events, observer.stopped()), (vec![], Some(Stopped::OutOfStep)));
    // More than is held after a directory stops it too.
    let talk = Talk::upload().directory("d").file("big", &[9; 100_000]);
    let (_, observer) = run("scp -r -t /srv", &without_waiting(&talk).messages, usize::MAX);
    assert_eq!(observer.stopped(), Some(Stopped::OutOfStep));
}

#[test]
fn answers_that_come_before_their_records_are_applied_to_them() {
    let talk = Talk::download()
        // For the first file and its end, a no for the second, a yes for the third.
        .answer(b"\0\0\x01scp: no\n\0")
        .send(b"C0644 3 hosts\nabc\0")
        .send(b"C0644 3 motd\n")
        .send(b"C0644 2 issue\nab\0");
    assert_eq!(
        events_of("scp -f /etc/hosts /etc/motd /etc/issue", &talk),
        [download("/etc/hosts", 3), download("/etc/issue", 2)]
    );
    // Only so many runs of them are remembered.
    let mut observer = observer_of("scp -f /etc/hosts");
    for _ in 0..MAX_EARLY {
        observer.observe(Side::Client, b"\0\x01no\n");
    }
    assert_eq!(observer.stopped(), Some(Stopped::OutOfStep));
}

#[test]
fn a_large_file_is_counted_without_being_kept() {
    const SIZE: u64 = 100 * 1024 * 1024;
    let mut observer = observer_of("scp -t /srv");
    observer.observe(Side::Target, &[0]);
    assert_eq!(observer.observe(Side::Client, format!("C0644 {SIZE} disk.img\n").as_bytes()), []);
    observer.observe(Side::Target, &[0]);
    let chunk = vec![0; 64 * 1024];
    let mut events = Vec::new();
    for _ in 0..SIZE / chunk.len() as u64 {
        events.extend(observer.observe(Side::Client, &chunk));
        assert!(observer.line.capacity() <= MAX_LINE);
    }
    assert_eq!(events, [upload("/srv/disk.img", SIZE)]);
    assert_eq!(observer.observe(Side::Client, &[0]), []);
    assert_eq!(observer.observe(Side::Target, &[0]), []);
    assert!(matches!(observer.reading, Reading::Line));
    assert_eq!(observer.stopped(), None);
}
