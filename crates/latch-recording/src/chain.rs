//! The tamper evidence of one recording file: SHA-256 of each 1 MiB chunk as it is written, linked into a chain.
//!
//! A file is cut into chunks of [`CHUNK_SIZE`] bytes (the last one shorter). Each chunk's SHA-256 is kept, and the
//! chain runs `link₀ = SHA-256("latch-recording-chain-v1" ‖ 0 ‖ name)`, `linkᵢ = SHA-256(linkᵢ₋₁ ‖ chunkᵢ)`. The
//! head (the last link) ties every chunk to its place and to the file's name; the chunk list says which chunk
//! changed. Both are computed from the bytes as the writer hands them to the operating system, never by reading
//! the file back, so a change made on disk after writing shows when the file is checked.

use sha2::{Digest, Sha256};

/// The bytes of one chunk; only a file's last chunk is shorter.
pub const CHUNK_SIZE: u64 = 1 << 20;

const CHAIN_DOMAIN: &[u8] = b"latch-recording-chain-v1";

/// What a finished file was: its length, its SHA-256, its chunks' hashes and the chain's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub bytes: u64,
    pub sha256: [u8; 32],
    pub chunks: Vec<[u8; 32]>,
    pub chain: [u8; 32],
}

/// Hashes a file's bytes as they are written.
#[derive(Debug, Clone)]
pub struct ChunkHasher {
    whole: Sha256,
    current: Sha256,
    current_len: u64,
    bytes: u64,
    chunks: Vec<[u8; 32]>,
}

impl Default for ChunkHasher {
    fn default() -> Self {
        Self { whole: Sha256::new(), current: Sha256::new(), current_len: 0, bytes: 0, chunks: Vec::new() }
    }
}

impl ChunkHasher {
    /// Adds the next bytes of the file.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.whole.update(bytes);
        self.bytes += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = usize::try_from(CHUNK_SIZE - self.current_len).unwrap_or(usize::MAX);
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            self.current.update(now);
            self.current_len += now.len() as u64;
            if self.current_len == CHUNK_SIZE {
                self.close_chunk();
            }
            bytes = later;
        }
    }

    /// The digest of everything added, for a file called `name`.
    pub fn finish(mut self, name: &str) -> FileDigest {
        if self.current_len > 0 {
            self.close_chunk();
        }
        FileDigest {
            bytes: self.bytes,
            sha256: self.whole.finalize().into(),
            chain: chain_head(name, &self.chunks),
            chunks: self.chunks,
        }
    }

    fn close_chunk(&mut self) {
        let chunk = std::mem::take(&mut self.current);
        self.chunks.push(chunk.finalize().into());
        self.current_len = 0;
    }
}

/// The head of the chain over `chunks` of the file called `name`.
pub fn chain_head(name: &str, chunks: &[[u8; 32]]) -> [u8; 32] {
    let mut link: [u8; 32] =
        Sha256::new().chain_update(CHAIN_DOMAIN).chain_update([0]).chain_update(name).finalize().into();
    for chunk in chunks {
        link = Sha256::new().chain_update(link).chain_update(chunk).finalize().into();
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(name: &str, data: &[u8], piece: usize) -> FileDigest {
        let mut hasher = ChunkHasher::default();
        for part in data.chunks(piece) {
            hasher.update(part);
        }
        hasher.finish(name)
    }

    #[test]
    fn chunks_do_not_depend_on_how_the_bytes_were_written() {
        let data: Vec<u8> = (0..(2 * CHUNK_SIZE + 123)).map(|index| (index % 251) as u8).collect();
        let whole = digest_of("channel-0.stream", &data, data.len());
        for piece in [1_000, 65_536, 1 << 20, 3 << 20] {
            assert_eq!(digest_of("channel-0.stream", &data, piece), whole, "pieces of {piece}");
        }
        assert_eq!(whole.chunks.len(), 3);
        assert_eq!(whole.bytes, data.len() as u64);
        assert_eq!(whole.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        let first: [u8; 32] = Sha256::digest(&data[..1 << 20]).into();
        assert_eq!(whole.chunks[0], first);
    }

    #[test]
    fn the_chain_binds_order_and_name() {
        let a = [1_u8; 32];
        let b = [2_u8; 32];
        assert_ne!(chain_head("f", &[a, b]), chain_head("f", &[b, a]), "order");
        assert_ne!(chain_head("f", &[a, b]), chain_head("g", &[a, b]), "name");
        assert_ne!(chain_head("f", &[a]), chain_head("f", &[a, a]), "length");
        let empty = digest_of("events.jsonl", b"", 1);
        assert!(empty.chunks.is_empty());
        assert_eq!(empty.chain, chain_head("events.jsonl", &[]));
    }
}
