//! The manifest of a finished session recording: which files it has, each file's length, SHA-256, chunk hashes and
//! chain head (see [`crate::ChunkHasher`]), and the session it belongs to. The gateway writes it as
//! `manifest.json` next to the files and signs its exact bytes; [`check_files`] compares a directory with it.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::chain::{CHUNK_SIZE, FileDigest, chain_head};

/// The name of the manifest in a session's recording directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The name of the manifest's signature (an SSH signature, `ssh-keygen -Y verify` can check it too).
pub const MANIFEST_SIGNATURE_FILE: &str = "manifest.json.sig";
/// The SSH signature namespace of manifests.
pub const MANIFEST_NAMESPACE: &str = "recording-manifest@latch";
/// The `format` field of a manifest.
pub const MANIFEST_FORMAT: &str = "latch-recording-manifest";

/// A session recording's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingManifest {
    pub format: String,
    pub version: u32,
    pub session: ManifestSession,
    pub chunk_size: u64,
    pub files: Vec<ManifestFile>,
    /// When the manifest was written, ms since the Unix epoch.
    pub sealed_at_ms: i64,
}

/// Who did what, where and when: the session's record, as the gateway knew it when the session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSession {
    pub id: String,
    pub user: String,
    pub target: String,
    pub account: String,
    pub protocol: String,
    pub source: Option<String>,
    pub node: String,
    pub started_at_ms: i64,
    pub ended_at_ms: i64,
    pub end_reason: String,
}

/// One file of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub name: String,
    pub bytes: u64,
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
    /// Hex SHA-256 of each chunk, in order.
    pub chunks: Vec<String>,
    /// Hex head of the chunk chain.
    pub chain: String,
}

impl ManifestFile {
    pub fn new(name: &str, digest: &FileDigest) -> Self {
        Self {
            name: name.to_owned(),
            bytes: digest.bytes,
            sha256: hex(&digest.sha256),
            chunks: digest.chunks.iter().map(hex).collect(),
            chain: hex(&digest.chain),
        }
    }
}

impl RecordingManifest {
    pub fn new(session: ManifestSession, mut files: Vec<ManifestFile>, sealed_at_ms: i64) -> Self {
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Self { format: MANIFEST_FORMAT.to_owned(), version: 1, session, chunk_size: CHUNK_SIZE, files, sealed_at_ms }
    }

    /// The bytes that are written and signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Parses manifest bytes; `None` when they are not a version 1 manifest.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let manifest: Self = serde_json::from_slice(bytes).ok()?;
        (manifest.format == MANIFEST_FORMAT && manifest.version == 1 && manifest.chunk_size == CHUNK_SIZE)
            .then_some(manifest)
    }
}

/// What differs between a recording directory and its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingProblem {
    /// A file the manifest lists is not there.
    MissingFile { file: String },
    /// A file is there that the manifest does not list.
    UnlistedFile { file: String },
    /// Chunk `index` (from 0) of `file` is not what was written.
    ChangedChunk { file: String, index: usize },
    /// Chunk `index` of `file` holds what was written as chunk `written_as`.
    ReorderedChunk { file: String, index: usize, written_as: usize },
    /// `file` ends before chunk `index`: that chunk and the ones after it are missing.
    MissingChunks { file: String, index: usize },
    /// `file` has bytes after its last chunk (from chunk `index` on).
    ExtraChunks { file: String, index: usize },
    /// The manifest's own entry for `file` does not add up (its chain does not match its chunks): the manifest
    /// was edited.
    InconsistentEntry { file: String },
    /// `file` cannot be read.
    Unreadable { file: String, reason: String },
}

impl std::fmt::Display for RecordingProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingFile { file } => write!(f, "{file}: missing"),
            Self::UnlistedFile { file } => write!(f, "{file}: not in the manifest"),
            Self::ChangedChunk { file, index } => write!(f, "{file}: chunk {index} changed"),
            Self::ReorderedChunk { file, index, written_as } => {
                write!(f, "{file}: chunk {index} holds what was written as chunk {written_as} (reordered)")
            }
            Self::MissingChunks { file, index } => write!(f, "{file}: chunks from {index} on are missing"),
            Self::ExtraChunks { file, index } => write!(f, "{file}: unexpected data from chunk {index} on"),
            Self::InconsistentEntry { file } => write!(f, "{file}: the manifest's entry does not add up"),
            Self::Unreadable { file, reason } => write!(f, "{file}: cannot be read ({reason})"),
        }
    }
}

/// Compares the files in `directory` with `manifest`, chunk by chunk. Reads each file once, a chunk at a time.
pub async fn check_files(directory: &Path, manifest: &RecordingManifest) -> Vec<RecordingProblem> {
    let mut problems = Vec::new();
    for entry in &manifest.files {
        if chain_of(entry).is_none_or(|chain| chain != entry.chain) {
            problems.push(RecordingProblem::InconsistentEntry { file: entry.name.clone() });
        }
        problems.extend(check_file(directory, entry).await);
    }
    let listed: Vec<&str> = manifest.files.iter().map(|file| file.name.as_str()).collect();
    match std::fs::read_dir(directory) {
        Ok(entries) => {
            let mut unlisted: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name != MANIFEST_FILE && name != MANIFEST_SIGNATURE_FILE)
                .filter(|name| !listed.contains(&name.as_str()))
                .collect();
            unlisted.sort();
            problems.extend(unlisted.into_iter().map(|file| RecordingProblem::UnlistedFile { file }));
        }
        Err(error) => problems.push(RecordingProblem::Unreadable { file: ".".to_owned(), reason: error.to_string() }),
    }
    problems
}

/// The chain head the entry's chunk list gives, or `None` when a chunk is not 64 hex digits.
fn chain_of(entry: &ManifestFile) -> Option<String> {
    let chunks: Option<Vec<[u8; 32]>> = entry.chunks.iter().map(|chunk| unhex(chunk)).collect();
    Some(hex(&chain_head(&entry.name, &chunks?)))
}

async fn check_file(directory: &Path, entry: &ManifestFile) -> Vec<RecordingProblem> {
    let file = entry.name.clone();
    if entry.name.contains('/') || entry.name.starts_with('.') {
        return vec![RecordingProblem::InconsistentEntry { file }];
    }
    let mut handle = match tokio::fs::File::open(directory.join(&entry.name)).await {
        Ok(handle) => handle,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return vec![RecordingProblem::MissingFile { file }];
        }
        Err(error) => return vec![RecordingProblem::Unreadable { file, reason: error.to_string() }],
    };
    let positions: HashMap<&str, usize> =
        entry.chunks.iter().enumerate().map(|(index, chunk)| (chunk.as_str(), index)).collect();
    let mut problems = Vec::new();
    let mut buffer = vec![0_u8; usize::try_from(CHUNK_SIZE).unwrap_or(1 << 20)];
    let mut index = 0;
    loop {
        let read = match read_chunk(&mut handle, &mut buffer).await {
            Ok(read) => read,
            Err(error) => {
                problems.push(RecordingProblem::Unreadable { file: file.clone(), reason: error.to_string() });
                return problems;
            }
        };
        if read == 0 {
            break;
        }
        let Some(expected) = entry.chunks.get(index) else {
            problems.push(RecordingProblem::ExtraChunks { file: file.clone(), index });
            return problems;
        };
        let found = hex(&Sha256::digest(&buffer[..read]).into());
        if &found != expected {
            problems.push(match positions.get(found.as_str()) {
                Some(&written_as) => RecordingProblem::ReorderedChunk { file: file.clone(), index, written_as },
                None => RecordingProblem::ChangedChunk { file: file.clone(), index },
            });
        }
        index += 1;
    }
    if index < entry.chunks.len() {
        problems.push(RecordingProblem::MissingChunks { file, index });
    }
    problems
}

/// Fills `buffer` as far as the file goes; returns how much was read (less than the buffer only at the end).
async fn read_chunk(file: &mut tokio::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        let read = file.read(&mut buffer[filled..]).await?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    Ok(filled)
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0_u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(bytes)
}
