//! Tests of the SFTP observer: hand-built conversations fed whole and in pieces.
use super::*;

const FXF_READ: u32 = 0x01;
const FXF_CREAT: u32 = 0x08;
const FXF_TRUNC: u32 = 0x10;
const FX_EOF: u32 = 1;
const FX_NO_SUCH_FILE: u32 = 2;

/// Builds one packet's body field by field.
struct Body(Vec<u8>);

impl Body {
    fn new(kind: u8) -> Self {
        Body(vec![kind])
    }
    fn u32(mut self, value: u32) -> Self {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    fn u64(mut self, value: u64) -> Self {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    fn string(self, value: &[u8]) -> Self {
        let mut body = self.u32(value.len() as u32);
        body.0.extend_from_slice(value);
        body
    }
    fn packet(self) -> Vec<u8> {
        let mut packet = (self.0.len() as u32).to_be_bytes().to_vec();
        packet.extend_from_slice(&self.0);
        packet
    }
}

fn init() -> Vec<(Side, Vec<u8>)> {
    vec![
        (Side::Client, Body::new(FXP_INIT).u32(3).packet()),
        (Side::Target, Body::new(FXP_VERSION).u32(3).string(b"limits@openssh.com").string(b"1").packet()),
    ]
}

fn open(id: u32, path: &str, flags: u32) -> (Side, Vec<u8>) {
    (Side::Client, Body::new(FXP_OPEN).u32(id).string(path.as_bytes()).u32(flags).u32(0).packet())
}

fn handle(id: u32, handle: &[u8]) -> (Side, Vec<u8>) {
    (Side::Target, Body::new(FXP_HANDLE).u32(id).string(handle).packet())
}

fn write(id: u32, handle: &[u8], offset: u64, length: usize) -> (Side, Vec<u8>) {
    let data = vec![0x5a; length];
    (Side::Client, Body::new(FXP_WRITE).u32(id).string(handle).u64(offset).string(&data).packet())
}

fn read(id: u32, handle: &[u8], offset: u64, length: u32) -> (Side, Vec<u8>) {
    (Side::Client, Body::new(FXP_READ).u32(id).string(handle).u64(offset).u32(length).packet())
}

fn data(id: u32, length: usize) -> (Side, Vec<u8>) {
    (Side::Target, Body::new(FXP_DATA).u32(id).string(&vec![0xa5; length]).packet())
}

fn status(id: u32, code: u32) -> (Side, Vec<u8>) {
    (Side::Target, Body::new(FXP_STATUS).u32(id).u32(code).string(b"message").string(b"").packet())
}

fn close(id: u32, handle: &[u8]) -> (Side, Vec<u8>) {
    (Side::Client, Body::new(FXP_CLOSE).u32(id).string(handle).packet())
}

fn path_request(kind: u8, id: u32, path: &str) -> (Side, Vec<u8>) {
    (Side::Client, Body::new(kind).u32(id).string(path.as_bytes()).packet())
}

/// Feeds the conversation in pieces of at most `piece` bytes; returns every event.
fn run(conversation: &[(Side, Vec<u8>)], piece: usize) -> (Vec<SessionEvent>, SftpObserver) {
    let mut observer = SftpObserver::new(5);
    let mut events = Vec::new();
    for (side, bytes) in conversation {
        for chunk in bytes.chunks(piece) {
            events.extend(observer.observe(*side, chunk));
        }
    }
    (events, observer)
}

/// The same events however the bytes are cut.
fn events_of(conversation: &[(Side, Vec<u8>)]) -> Vec<SessionEvent> {
    let (whole, observer) = run(conversation, usize::MAX);
    assert_eq!(observer.stopped(), None);
    for piece in [1, 2, 3, 7, 4096] {
        assert_eq!(run(conversation, piece).0, whole, "cut into pieces of {piece} bytes");
    }
    whole
}

fn transfer(direction: TransferDirection, path: &str, bytes: u64) -> SessionEvent {
    SessionEvent::FileTransfer { channel: 5, protocol: FileProtocol::Sftp, direction, path: path.to_owned(), bytes }
}

fn operation(operation: FileOperationKind, path: &str, target: Option<&str>) -> SessionEvent {
    SessionEvent::FileOperation {
        channel: 5,
        protocol: FileProtocol::Sftp,
        operation,
        path: path.to_owned(),
        target: target.map(str::to_owned),
    }
}

#[test]
fn an_upload_is_reported_at_close_with_the_bytes_written() {
    let mut conversation = init();
    conversation.extend([
        open(0, "/home/u/upload.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC),
        handle(0, b"\0\0\0\x01"),
        write(1, b"\0\0\0\x01", 0, 32768),
        write(2, b"\0\0\0\x01", 32768, 32768),
        status(1, FX_OK),
        write(3, b"\0\0\0\x01", 65536, 1000),
        status(2, FX_OK),
        status(3, FX_OK),
    ]);
    let (events, _) = run(&conversation, usize::MAX);
    assert!(events.is_empty(), "nothing before the close: {events:?}");
    conversation.extend([close(4, b"\0\0\0\x01"), status(4, FX_OK)]);
    assert_eq!(events_of(&conversation), [transfer(TransferDirection::Upload, "/home/u/upload.bin", 2 * 32768 + 1000)]);
}

#[test]
fn a_download_is_reported_at_close_with_the_bytes_returned() {
    let mut conversation = init();
    conversation.extend([
        open(7, "report.pdf", FXF_READ),
        handle(7, b"h"),
        read(8, b"h", 0, 32768),
        read(9, b"h", 32768, 32768),
        data(8, 32768),
        data(9, 17),
        read(10, b"h", 32785, 32768),
        status(10, FX_EOF),
        close(11, b"h"),
        status(11, FX_OK),
    ]);
    assert_eq!(events_of(&conversation), [transfer(TransferDirection::Download, "report.pdf", 32785)]);
}

#[test]
fn files_opened_without_data_and_both_ways_are_reported_by_their_flags_and_bytes() {
    let mut conversation = init();
    conversation.extend([
        open(1, "empty", FXF_WRITE | FXF_CREAT),
        open(2, "peeked", FXF_READ),
        open(3, "both", FXF_READ | FXF_WRITE),
        handle(1, b"a"),
        handle(2, b"b"),
        handle(3, b"c"),
        write(4, b"c", 0, 10),
        read(5, b"c", 0, 100),
        data(5, 10),
        close(6, b"a"),
        close(7, b"b"),
        close(8, b"c"),
    ]);
    assert_eq!(
        events_of(&conversation),
        [
            transfer(TransferDirection::Upload, "empty", 0),
            transfer(TransferDirection::Download, "peeked", 0),
            transfer(TransferDirection::Upload, "both", 10),
            transfer(TransferDirection::Download, "both", 10),
        ]
    );
}

#[test]
fn a_refused_open_and_unknown_handles_report_nothing() {
    let mut conversation = init();
    conversation.extend([
        open(1, "/root/secret", FXF_READ),
        status(1, 3),
        (Side::Client, Body::new(11).u32(2).string(b"/tmp").packet()), // OPENDIR
        handle(2, b"dir"),
        read(3, b"dir", 0, 10),
        write(4, b"zz", 0, 5),
        close(5, b"dir"),
        close(6, b"zz"),
    ]);
    assert_eq!(events_of(&conversation), []);
}

#[test]
fn operations_are_reported_when_the_target_says_ok() {
    let mut conversation = init();
    conversation.extend([
        path_request(FXP_REMOVE, 1, "old.log"),
        path_request(FXP_REMOVE, 2, "missing.log"),
        (Side::Client, Body::new(FXP_RENAME).u32(3).string(b"a").string(b"b").packet()),
        (Side::Client, Body::new(FXP_MKDIR).u32(4).string(b"dir").u32(0).packet()),
        (Side::Client, Body::new(FXP_RMDIR).u32(5).string(b"dir").packet()),
        (Side::Client, Body::new(FXP_SETSTAT).u32(6).string(b"b").u32(4).u32(0o600).packet()),
        (Side::Client, Body::new(FXP_SYMLINK).u32(7).string(b"b").string(b"link-to-b").packet()),
        (
            Side::Client,
            Body::new(FXP_EXTENDED).u32(8).string(b"posix-rename@openssh.com").string(b"b").string(b"c").packet(),
        ),
        (
            Side::Client,
            Body::new(FXP_EXTENDED).u32(9).string(b"hardlink@openssh.com").string(b"c").string(b"d").packet(),
        ),
        (Side::Client, Body::new(FXP_EXTENDED).u32(10).string(b"statvfs@openssh.com").string(b"/").packet()),
        status(2, FX_NO_SUCH_FILE),
        status(1, FX_OK),
        status(3, FX_OK),
        status(4, FX_OK),
        status(5, FX_OK),
        status(6, FX_OK),
        status(7, FX_OK),
        status(8, FX_OK),
        status(9, FX_OK),
        status(10, FX_OK),
    ]);
    assert_eq!(
        events_of(&conversation),
        [
            operation(FileOperationKind::Remove, "old.log", None),
            operation(FileOperationKind::Rename, "a", Some("b")),
            operation(FileOperationKind::Mkdir, "dir", None),
            operation(FileOperationKind::Rmdir, "dir", None),
            operation(FileOperationKind::Setstat, "b", None),
            operation(FileOperationKind::Symlink, "link-to-b", Some("b")),
            operation(FileOperationKind::Rename, "b", Some("c")),
            operation(FileOperationKind::Link, "c", Some("d")),
        ]
    );
}

#[test]
fn fsetstat_names_the_open_file() {
    let mut conversation = init();
    conversation.extend([
        open(1, "f", FXF_WRITE),
        handle(1, b"h"),
        (Side::Client, Body::new(FXP_FSETSTAT).u32(2).string(b"h").u32(4).u32(0o644).packet()),
        status(2, FX_OK),
    ]);
    assert_eq!(events_of(&conversation), [operation(FileOperationKind::Setstat, "f", None)]);
}

#[test]
fn files_still_open_are_reported_by_finish_oldest_first() {
    let mut conversation = init();
    conversation.extend([
        open(1, "first", FXF_WRITE),
        open(2, "second", FXF_READ),
        handle(1, b"1"),
        handle(2, b"2"),
        write(3, b"1", 0, 4),
        read(4, b"2", 0, 8),
        data(4, 8),
    ]);
    let (events, mut observer) = run(&conversation, usize::MAX);
    assert_eq!(events, []);
    assert_eq!(
        observer.finish(),
        [transfer(TransferDirection::Upload, "first", 4), transfer(TransferDirection::Download, "second", 8)]
    );
    assert_eq!(observer.finish(), []);
}

#[test]
fn a_zero_length_packet_stops_the_observer_for_good() {
    let mut observer = SftpObserver::new(5);
    assert_eq!(observer.observe(Side::Client, &[0, 0, 0, 0]), []);
    assert_eq!(observer.stopped(), Some(Stopped::Malformed));
    let mut later = init();
    later.extend([path_request(FXP_REMOVE, 1, "x"), status(1, FX_OK)]);
    for (side, bytes) in later {
        assert_eq!(observer.observe(side, &bytes), []);
    }
    assert_eq!(observer.finish(), []);
}

#[test]
fn a_field_running_past_its_packet_stops_the_observer() {
    // A REMOVE whose path claims 100 bytes in a 12-byte packet.
    let packet = Body::new(FXP_REMOVE).u32(1).u32(100).u32(0).packet();
    let mut observer = SftpObserver::new(5);
    assert_eq!(observer.observe(Side::Client, &packet), []);
    assert_eq!(observer.stopped(), Some(Stopped::Malformed));

    // DATA claiming more bytes than its packet holds.
    let packet = Body::new(FXP_DATA).u32(1).u32(1000).u32(0).packet();
    let mut observer = SftpObserver::new(5);
    assert_eq!(observer.observe(Side::Target, &packet), []);
    assert_eq!(observer.stopped(), Some(Stopped::Malformed));

    // A handle longer than the protocol allows.
    let mut observer = SftpObserver::new(5);
    observer.observe(Side::Client, &close(1, &[7; MAX_HANDLE + 1]).1);
    assert_eq!(observer.stopped(), Some(Stopped::Malformed));
}

#[test]
fn an_oversized_packet_stops_the_observer_without_buffering_it() {
    let mut observer = SftpObserver::new(5);
    let length = MAX_PACKET + 1;
    assert_eq!(observer.observe(Side::Client, &length.to_be_bytes()), []);
    assert_eq!(observer.stopped(), Some(Stopped::Oversized { length }));
    assert_eq!(observer.observe(Side::Client, &vec![0; 1 << 20]), []);
    assert_eq!(observer.from_client.kept.capacity(), 0);

    // A packet of exactly the limit is fine, and only its header is kept.
    let mut observer = SftpObserver::new(5);
    let write = write(1, b"h", 0, MAX_PACKET as usize - (1 + 4 + 5 + 8 + 4)).1;
    assert_eq!(write.len(), MAX_PACKET as usize + 4);
    assert_eq!(observer.observe(Side::Client, &write), []);
    assert_eq!(observer.stopped(), None);
    assert!(observer.from_client.kept.len() <= keep_limit(Side::Client, FXP_WRITE));
}

#[test]
fn another_protocol_version_stops_the_observer() {
    let mut observer = SftpObserver::new(5);
    observer.observe(Side::Target, &Body::new(FXP_VERSION).u32(6).packet());
    assert_eq!(observer.stopped(), Some(Stopped::UnsupportedVersion { version: 6 }));
}

#[test]
fn unanswered_requests_and_open_files_are_bounded_and_the_oldest_forgotten() {
    let mut conversation = init();
    let count = MAX_TRACKED as u32 + 500;
    conversation.extend((0..count).map(|id| open(id, &format!("file-{id}"), FXF_WRITE)));
    let (_, mut observer) = run(&conversation, usize::MAX);
    assert_eq!(observer.state.pending.entries.len(), MAX_TRACKED);
    assert_eq!(observer.state.pending.order.len(), MAX_TRACKED);
    // The oldest request was forgotten: its answer opens nothing.
    assert_eq!(observer.observe(Side::Target, &handle(0, b"h0").1), []);
    assert!(observer.state.files.entries.is_empty());
    for id in 0..count {
        observer.observe(Side::Target, &handle(id, &id.to_be_bytes()).1);
    }
    assert_eq!(observer.state.files.entries.len(), MAX_TRACKED);
    let finished = observer.finish();
    assert_eq!(finished.len(), MAX_TRACKED);
    assert_eq!(finished.last(), Some(&transfer(TransferDirection::Upload, &format!("file-{}", count - 1), 0)));
}

#[test]
fn long_names_are_cut_and_their_total_is_bounded() {
    let long = "n".repeat(MAX_NAME * 3);
    let mut conversation = init();
    conversation.extend((0..MAX_TRACKED as u32).map(|id| {
        let body = Body::new(FXP_RENAME).u32(id).string(long.as_bytes()).string(long.as_bytes());
        (Side::Client, body.packet())
    }));
    let (_, mut observer) = run(&conversation, usize::MAX);
    assert!(observer.state.pending.weight <= TRACKED_BYTES);
    assert!(observer.state.pending.entries.len() < MAX_TRACKED);
    let last = MAX_TRACKED as u32 - 1;
    let cut = format!("{}…", "n".repeat(MAX_NAME));
    assert_eq!(
        observer.observe(Side::Target, &status(last, FX_OK).1),
        [operation(FileOperationKind::Rename, &cut, Some(&cut))]
    );
}
