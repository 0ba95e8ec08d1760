//! A passive observer of SFTP version 3 (draft-ietf-secsh-filexfer-02, as OpenSSH speaks it), turning the bytes a
//! relay already carries on an `sftp` subsystem channel into file transfer and file operation events.
//!
//! It only reads copies of the bytes: it never changes, holds back or refuses anything. When the stream stops
//! making sense (a packet longer than [`MAX_PACKET`], a packet that does not parse, another protocol version) it
//! stops observing that channel for good and says why ([`SftpObserver::stopped`]); the relay goes on.
//!
//! What it reports, and when:
//!
//! - `SSH_FXP_OPEN` (request id → path and flags), the `SSH_FXP_HANDLE` reply (→ an open file), the data of
//!   `SSH_FXP_WRITE` requests (upload bytes) and of the `SSH_FXP_DATA` replies to `SSH_FXP_READ` (download bytes)
//!   on that handle, then, at the `SSH_FXP_CLOSE` request, one [`SessionEvent::FileTransfer`] per direction that
//!   moved bytes (a file opened and closed without data is reported once, as an upload when opened for writing,
//!   else as a download, with 0 bytes). Files still open when the channel ends are reported by
//!   [`SftpObserver::finish`].
//! - `SSH_FXP_REMOVE`, `RENAME`, `MKDIR`, `RMDIR`, `SETSTAT`, `FSETSTAT`, `SYMLINK` and the OpenSSH extensions
//!   `posix-rename@openssh.com`, `hardlink@openssh.com` and `lsetstat@openssh.com` are remembered at request time
//!   and reported as a [`SessionEvent::FileOperation`] when the target answers `SSH_FX_OK`; a refused operation is
//!   not reported.
//!
//! Memory is bounded: a packet is kept only as far as it is needed (the whole packet for the small requests and
//! replies above, the header of `WRITE` and `DATA`, the type and id of everything else), at most
//! [`MAX_TRACKED`] requests awaiting an answer and open files are remembered (the oldest are forgotten first, as
//! they are when their names together exceed [`TRACKED_BYTES`]), and a name is kept to [`MAX_NAME`] bytes.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use latch_recording::{FileOperationKind, FileProtocol, SessionEvent, TransferDirection};
use tracing::debug;

/// The longest packet observed (OpenSSH's `SFTP_MAX_MSG_LENGTH`); a longer one stops the observation.
pub(crate) const MAX_PACKET: u32 = 256 * 1024;
/// How many requests awaiting an answer, and how many open files, are remembered each.
pub(crate) const MAX_TRACKED: usize = 1024;
/// How many bytes of names and handles the remembered requests, and the open files, may hold each.
pub(crate) const TRACKED_BYTES: usize = 1 << 20;
/// The longest name kept; a longer one is cut and ends with `…`.
pub(crate) const MAX_NAME: usize = 4096;
/// The longest handle (draft-ietf-secsh-filexfer-02 section 6.2).
const MAX_HANDLE: usize = 256;
/// A packet buffer grown over this is given back once its packet is done.
const KEPT_CAPACITY: usize = 64 * 1024;
/// What each remembered entry costs besides its names.
const ENTRY_OVERHEAD: usize = 64;

const FXP_INIT: u8 = 1;
const FXP_VERSION: u8 = 2;
const FXP_OPEN: u8 = 3;
const FXP_CLOSE: u8 = 4;
const FXP_READ: u8 = 5;
const FXP_WRITE: u8 = 6;
const FXP_SETSTAT: u8 = 9;
const FXP_FSETSTAT: u8 = 10;
const FXP_REMOVE: u8 = 13;
const FXP_MKDIR: u8 = 14;
const FXP_RMDIR: u8 = 15;
const FXP_RENAME: u8 = 18;
const FXP_SYMLINK: u8 = 20;
const FXP_STATUS: u8 = 101;
const FXP_HANDLE: u8 = 102;
const FXP_DATA: u8 = 103;
const FXP_EXTENDED: u8 = 200;
const FX_OK: u32 = 0;
const FXF_WRITE: u32 = 0x02;
const SFTP_VERSION: u32 = 3;

/// Why an observer stopped watching its channel (the channel itself goes on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// A packet announced more than [`MAX_PACKET`] bytes.
    Oversized { length: u32 },
    /// A packet of zero length, or one whose fields run past its end.
    Malformed,
    /// The target answered with an SFTP version other than 3.
    UnsupportedVersion { version: u32 },
}

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// From the person to the target: requests.
    Client,
    /// From the target to the person: replies.
    Target,
}

/// The SFTP observer of one session channel.
#[derive(Debug)]
pub(crate) struct SftpObserver {
    from_client: Framer,
    from_target: Framer,
    state: State,
    stopped: Option<Stopped>,
}

impl SftpObserver {
    pub(crate) fn new(channel: u32) -> Self {
        SftpObserver {
            from_client: Framer::default(),
            from_target: Framer::default(),
            state: State { channel, pending: Tracked::default(), files: Tracked::default() },
            stopped: None,
        }
    }

    /// Reads bytes that passed on the channel from `side`; returns the events they completed.
    pub(crate) fn observe(&mut self, side: Side, mut bytes: &[u8]) -> Vec<SessionEvent> {
        let mut events = Vec::new();
        if self.stopped.is_some() {
            return events;
        }
        let framer = match side {
            Side::Client => &mut self.from_client,
            Side::Target => &mut self.from_target,
        };
        let outcome = loop {
            match framer.next(side, &mut bytes) {
                Ok(Some(packet)) => {
                    if let Err(stop) = self.state.packet(side, packet, &mut events) {
                        break Err(stop);
                    }
                }
                Ok(None) => break Ok(()),
                Err(stop) => break Err(stop),
            }
        };
        if let Err(stop) = outcome {
            self.stop(stop);
        }
        events
    }

    /// The channel ended: files still open are reported with the bytes seen so far, oldest first.
    pub(crate) fn finish(&mut self) -> Vec<SessionEvent> {
        let mut events = Vec::new();
        for file in self.state.files.drain() {
            file.report(self.state.channel, &mut events);
        }
        self.state.pending = Tracked::default();
        events
    }

    /// Why the observation stopped, if it did.
    pub(crate) fn stopped(&self) -> Option<Stopped> {
        self.stopped
    }

    fn stop(&mut self, reason: Stopped) {
        self.stopped = Some(reason);
        self.from_client = Framer::default();
        self.from_target = Framer::default();
        self.state.pending = Tracked::default();
        self.state.files = Tracked::default();
    }
}

/// A complete packet: its length and as much of it as was kept, starting with its type.
#[derive(Debug)]
struct Packet<'a> {
    length: usize,
    kept: &'a [u8],
}

/// Cuts one direction's byte stream into packets (`uint32 length`, then `length` bytes starting with the type).
#[derive(Debug, Default)]
struct Framer {
    length: [u8; 4],
    /// How many bytes of the length field were read; 4 while in a packet's body.
    have: usize,
    body: usize,
    seen: usize,
    keep: usize,
    kept: Vec<u8>,
}

impl Framer {
    /// Consumes `input` up to the end of the next complete packet, or all of it.
    fn next(&mut self, side: Side, input: &mut &[u8]) -> Result<Option<Packet<'_>>, Stopped> {
        loop {
            if input.is_empty() {
                return Ok(None);
            }
            if self.have < 4 {
                let take = (4 - self.have).min(input.len());
                let (head, rest) = input.split_at(take);
                if let Some(slot) = self.length.get_mut(self.have..self.have + take) {
                    slot.copy_from_slice(head);
                }
                self.have += take;
                *input = rest;
                if self.have == 4 {
                    self.start_packet()?;
                }
                continue;
            }
            let take = (self.body - self.seen).min(input.len());
            let (chunk, rest) = input.split_at(take);
            *input = rest;
            if self.seen == 0
                && let Some(&kind) = chunk.first()
            {
                self.keep = keep_limit(side, kind);
            }
            let room = self.keep.saturating_sub(self.kept.len()).min(chunk.len());
            self.kept.extend_from_slice(chunk.get(..room).unwrap_or_default());
            self.seen += take;
            if self.seen == self.body {
                self.have = 0;
                return Ok(Some(Packet { length: self.body, kept: &self.kept }));
            }
        }
    }

    fn start_packet(&mut self) -> Result<(), Stopped> {
        let length = u32::from_be_bytes(self.length);
        if length == 0 {
            return Err(Stopped::Malformed);
        }
        if length > MAX_PACKET {
            return Err(Stopped::Oversized { length });
        }
        self.body = length as usize;
        self.seen = 0;
        self.keep = 0;
        if self.kept.capacity() > KEPT_CAPACITY {
            self.kept = Vec::new();
        }
        self.kept.clear();
        Ok(())
    }
}

/// How much of a packet of type `kind` from `side` is needed.
fn keep_limit(side: Side, kind: u8) -> usize {
    const TYPE_AND_ID: usize = 1 + 4;
    match (side, kind) {
        (
            Side::Client,
            FXP_OPEN | FXP_CLOSE | FXP_READ | FXP_SETSTAT | FXP_FSETSTAT | FXP_REMOVE | FXP_MKDIR | FXP_RMDIR
            | FXP_RENAME | FXP_SYMLINK | FXP_EXTENDED,
        )
        | (Side::Target, FXP_HANDLE) => usize::MAX,
        // Type, id, handle, offset and the data's length.
        (Side::Client, FXP_WRITE) => TYPE_AND_ID + 4 + MAX_HANDLE + 8 + 4,
        // Type, id and the status code or the data's length.
        (Side::Target, FXP_STATUS | FXP_DATA) => TYPE_AND_ID + 4,
        _ => TYPE_AND_ID,
    }
}

/// A request awaiting the target's answer.
#[derive(Debug)]
enum Pending {
    Open { path: String, flags: u32 },
    Read { handle: Vec<u8> },
    Operation { operation: FileOperationKind, path: String, target: Option<String> },
}

impl Pending {
    fn weight(&self) -> usize {
        ENTRY_OVERHEAD
            + match self {
                Pending::Open { path, .. } => path.len(),
                Pending::Read { handle } => handle.len(),
                Pending::Operation { path, target, .. } => path.len() + target.as_ref().map_or(0, String::len),
            }
    }
}

/// A file the target opened, and the bytes that went each way on its handle.
#[derive(Debug)]
struct OpenFile {
    path: String,
    flags: u32,
    uploaded: u64,
    downloaded: u64,
}

impl OpenFile {
    fn report(self, channel: u32, events: &mut Vec<SessionEvent>) {
        let written = self.flags & FXF_WRITE != 0;
        let upload = self.uploaded > 0 || (self.downloaded == 0 && written);
        let download = self.downloaded > 0 || (self.uploaded == 0 && !written);
        let transfer = |direction, bytes, path| SessionEvent::FileTransfer {
            channel,
            protocol: FileProtocol::Sftp,
            direction,
            path,
            bytes,
        };
        match (upload, download) {
            (true, true) => {
                events.push(transfer(TransferDirection::Upload, self.uploaded, self.path.clone()));
                events.push(transfer(TransferDirection::Download, self.downloaded, self.path));
            }
            (true, false) => events.push(transfer(TransferDirection::Upload, self.uploaded, self.path)),
            (false, _) => events.push(transfer(TransferDirection::Download, self.downloaded, self.path)),
        }
    }
}

/// What is known of the conversation.
#[derive(Debug)]
struct State {
    channel: u32,
    pending: Tracked<u32, Pending>,
    /// Open files by handle.
    files: Tracked<Vec<u8>, OpenFile>,
}

impl State {
    fn packet(&mut self, side: Side, packet: Packet<'_>, events: &mut Vec<SessionEvent>) -> Result<(), Stopped> {
        let mut fields = Fields { rest: packet.kept, read: 0 };
        let kind = fields.u8()?;
        match side {
            Side::Client => self.request(kind, &mut fields, packet.length, events),
            Side::Target => self.reply(kind, &mut fields, packet.length, events),
        }
    }

    fn request(
        &mut self,
        kind: u8,
        fields: &mut Fields<'_>,
        length: usize,
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), Stopped> {
        if kind == FXP_INIT {
            return Ok(());
        }
        let id = fields.u32()?;
        let operation = |operation, path, target| Pending::Operation { operation, path, target };
        let pending = match kind {
            FXP_OPEN => {
                let path = fields.name()?;
                Pending::Open { path, flags: fields.u32()? }
            }
            FXP_READ => {
                let handle = fields.handle()?;
                if self.files.get_mut(&handle).is_none() {
                    return Ok(());
                }
                Pending::Read { handle }
            }
            FXP_WRITE => {
                let handle = fields.handle()?;
                let _offset = fields.u64()?;
                let bytes = fields.u32()?;
                if bytes as usize > length.saturating_sub(fields.read) {
                    return Err(Stopped::Malformed);
                }
                if let Some(file) = self.files.get_mut(&handle) {
                    file.uploaded = file.uploaded.saturating_add(u64::from(bytes));
                }
                return Ok(());
            }
            FXP_CLOSE => {
                let handle = fields.handle()?;
                // Reported at the request: every byte of the file has passed by now.
                if let Some(file) = self.files.remove(&handle) {
                    file.report(self.channel, events);
                }
                return Ok(());
            }
            FXP_REMOVE => operation(FileOperationKind::Remove, fields.name()?, None),
            FXP_MKDIR => operation(FileOperationKind::Mkdir, fields.name()?, None),
            FXP_RMDIR => operation(FileOperationKind::Rmdir, fields.name()?, None),
            FXP_SETSTAT => operation(FileOperationKind::Setstat, fields.name()?, None),
            FXP_RENAME => {
                let from = fields.name()?;
                operation(FileOperationKind::Rename, from, Some(fields.name()?))
            }
            // OpenSSH sends the link's target first, then the link's path (its PROTOCOL file, section 4.1).
            FXP_SYMLINK => {
                let target = fields.name()?;
                operation(FileOperationKind::Symlink, fields.name()?, Some(target))
            }
            FXP_FSETSTAT => {
                let handle = fields.handle()?;
                let Some(file) = self.files.get_mut(&handle) else { return Ok(()) };
                operation(FileOperationKind::Setstat, file.path.clone(), None)
            }
            FXP_EXTENDED => match fields.string()? {
                b"posix-rename@openssh.com" => {
                    let from = fields.name()?;
                    operation(FileOperationKind::Rename, from, Some(fields.name()?))
                }
                b"hardlink@openssh.com" => {
                    let from = fields.name()?;
                    operation(FileOperationKind::Link, from, Some(fields.name()?))
                }
                b"lsetstat@openssh.com" => operation(FileOperationKind::Setstat, fields.name()?, None),
                _ => return Ok(()),
            },
            _ => return Ok(()),
        };
        let weight = pending.weight();
        let forgotten = self.pending.insert(id, pending, weight);
        if forgotten > 0 {
            debug!(channel = self.channel, forgotten, "sftp: forgot the oldest unanswered requests");
        }
        Ok(())
    }

    fn reply(
        &mut self,
        kind: u8,
        fields: &mut Fields<'_>,
        length: usize,
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), Stopped> {
        if kind == FXP_VERSION {
            let version = fields.u32()?;
            return if version == SFTP_VERSION { Ok(()) } else { Err(Stopped::UnsupportedVersion { version }) };
        }
        let id = fields.u32()?;
        let pending = self.pending.remove(&id);
        match (kind, pending) {
            // A refused operation did nothing.
            (FXP_STATUS, Some(Pending::Operation { operation, path, target })) if fields.u32()? == FX_OK => {
                let (channel, protocol) = (self.channel, FileProtocol::Sftp);
                events.push(SessionEvent::FileOperation { channel, protocol, operation, path, target });
            }
            (FXP_HANDLE, Some(Pending::Open { path, flags })) => {
                let handle = fields.handle()?;
                let weight = ENTRY_OVERHEAD + handle.len() + path.len();
                let file = OpenFile { path, flags, uploaded: 0, downloaded: 0 };
                // A handle the target hands out again: the file it named was closed unseen.
                if let Some(earlier) = self.files.remove(&handle) {
                    earlier.report(self.channel, events);
                }
                let forgotten = self.files.insert(handle, file, weight);
                if forgotten > 0 {
                    debug!(channel = self.channel, forgotten, "sftp: forgot the oldest open files");
                }
            }
            (FXP_DATA, pending) => {
                let bytes = fields.u32()?;
                if bytes as usize > length.saturating_sub(fields.read) {
                    return Err(Stopped::Malformed);
                }
                if let Some(Pending::Read { handle }) = pending
                    && let Some(file) = self.files.get_mut(&handle)
                {
                    file.downloaded = file.downloaded.saturating_add(u64::from(bytes));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Reads the fields of a packet in order; running past what was kept means the packet is malformed.
#[derive(Debug)]
struct Fields<'a> {
    rest: &'a [u8],
    /// How many bytes were read.
    read: usize,
}

impl<'a> Fields<'a> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], Stopped> {
        let (head, rest) = self.rest.split_first_chunk::<N>().ok_or(Stopped::Malformed)?;
        self.rest = rest;
        self.read += N;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, Stopped> {
        self.bytes::<1>().map(|[byte]| byte)
    }

    fn u32(&mut self) -> Result<u32, Stopped> {
        self.bytes().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, Stopped> {
        self.bytes().map(u64::from_be_bytes)
    }

    fn string(&mut self) -> Result<&'a [u8], Stopped> {
        let length = self.u32()? as usize;
        let (string, rest) = self.rest.split_at_checked(length).ok_or(Stopped::Malformed)?;
        self.rest = rest;
        self.read += length;
        Ok(string)
    }

    /// A file name, as text (bytes that are not UTF-8 become U+FFFD), cut to [`MAX_NAME`] bytes.
    fn name(&mut self) -> Result<String, Stopped> {
        let bytes = self.string()?;
        Ok(match bytes.get(..MAX_NAME) {
            Some(kept) if bytes.len() > MAX_NAME => format!("{}…", String::from_utf8_lossy(kept)),
            _ => String::from_utf8_lossy(bytes).into_owned(),
        })
    }

    fn handle(&mut self) -> Result<Vec<u8>, Stopped> {
        let handle = self.string()?;
        if handle.len() > MAX_HANDLE {
            return Err(Stopped::Malformed);
        }
        Ok(handle.to_vec())
    }
}

/// Entries remembered in the order they came, at most [`MAX_TRACKED`] of them weighing at most
/// [`TRACKED_BYTES`]: beyond that the oldest are forgotten.
#[derive(Debug)]
struct Tracked<K, V> {
    entries: HashMap<K, Entry<V>>,
    order: BTreeMap<u64, K>,
    next: u64,
    weight: usize,
}

#[derive(Debug)]
struct Entry<V> {
    sequence: u64,
    weight: usize,
    value: V,
}

impl<K, V> Default for Tracked<K, V> {
    fn default() -> Self {
        Tracked { entries: HashMap::new(), order: BTreeMap::new(), next: 0, weight: 0 }
    }
}

impl<K: Hash + Eq + Clone, V> Tracked<K, V> {
    /// Remembers `value` under `key` (replacing what was there); returns how many of the oldest were forgotten.
    fn insert(&mut self, key: K, value: V, weight: usize) -> usize {
        self.remove(&key);
        let sequence = self.next;
        self.next += 1;
        self.order.insert(sequence, key.clone());
        self.entries.insert(key, Entry { sequence, weight, value });
        self.weight += weight;
        let mut forgotten = 0;
        while self.entries.len() > MAX_TRACKED || self.weight > TRACKED_BYTES {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            if let Some(entry) = self.entries.remove(&oldest) {
                self.weight -= entry.weight;
                forgotten += 1;
            }
        }
        forgotten
    }

    fn remove(&mut self, key: &K) -> Option<V> {
        let entry = self.entries.remove(key)?;
        self.order.remove(&entry.sequence);
        self.weight -= entry.weight;
        Some(entry.value)
    }

    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key).map(|entry| &mut entry.value)
    }

    /// Every entry, oldest first; leaves nothing behind.
    fn drain(&mut self) -> Vec<V> {
        let mut entries = std::mem::take(&mut self.entries);
        let order = std::mem::take(&mut self.order);
        self.weight = 0;
        order.into_values().filter_map(|key| entries.remove(&key)).map(|entry| entry.value).collect()
    }
}

#[cfg(test)]
mod tests;
