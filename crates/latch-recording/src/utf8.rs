//! Turning a byte stream that arrives in arbitrary chunks into text, one chunk at a time.

/// The longest incomplete UTF-8 sequence: a four-byte character missing its last byte.
const MAX_INCOMPLETE: usize = 3;

/// An incremental UTF-8 decoder whose output over all chunks equals [`String::from_utf8_lossy`] of the whole
/// stream, however the stream was split.
///
/// A character split across two chunks is held back (at most three bytes) until the next chunk completes it.
/// Bytes that can never become valid UTF-8 are replaced by U+FFFD REPLACEMENT CHARACTER, one per maximal invalid
/// subsequence, exactly as `from_utf8_lossy` does.
#[derive(Debug, Default)]
pub(crate) struct Utf8StreamDecoder {
    pending: Vec<u8>,
}

impl Utf8StreamDecoder {
    /// Decodes `chunk` after any bytes held back from the previous one.
    pub fn decode(&mut self, chunk: &[u8]) -> String {
        let joined;
        let mut rest = if self.pending.is_empty() {
            chunk
        } else {
            joined = [std::mem::take(&mut self.pending).as_slice(), chunk].concat();
            joined.as_slice()
        };
        let mut text = String::with_capacity(rest.len());
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    text.push_str(valid);
                    return text;
                }
                Err(error) => {
                    let (valid, after) = rest.split_at(error.valid_up_to());
                    // `valid_up_to` marks a boundary of valid UTF-8, so this never fails.
                    text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match error.error_len() {
                        Some(invalid_len) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            rest = after.get(invalid_len..).unwrap_or_default();
                        }
                        None => {
                            debug_assert!(after.len() <= MAX_INCOMPLETE);
                            self.pending = after.to_vec();
                            return text;
                        }
                    }
                }
            }
        }
    }

    /// Ends the stream: bytes still held back can never be completed and become one U+FFFD.
    pub fn finish(&mut self) -> String {
        if self.pending.is_empty() {
            return String::new();
        }
        self.pending.clear();
        char::REPLACEMENT_CHARACTER.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_chunks(bytes: &[u8], split_points: &[usize]) -> String {
        let mut decoder = Utf8StreamDecoder::default();
        let mut text = String::new();
        let mut start = 0;
        for &end in split_points.iter().chain(std::iter::once(&bytes.len())) {
            text.push_str(&decoder.decode(&bytes[start..end]));
            start = end;
        }
        text.push_str(&decoder.finish());
        text
    }

    const SAMPLES: &[&[u8]] = &[
        "plain ascii".as_bytes(),
        "é€😀 mixed ü and 中文".as_bytes(),
        b"\xff\xfe lone invalid bytes",
        b"truncated four-byte \xf0\x9f\x98 then ascii",
        b"ends in the middle of a character \xe2\x82",
        b"\xed\xa0\x80 surrogate half, \xc0\xaf overlong",
        b"\xf0\x9f\x98\xf0\x9f\x98\x80",
    ];

    #[test]
    fn every_single_split_equals_lossy_decoding_of_the_whole() {
        for sample in SAMPLES {
            let expected = String::from_utf8_lossy(sample);
            for split in 0..=sample.len() {
                assert_eq!(decode_in_chunks(sample, &[split]), expected, "sample {sample:?} split at {split}");
            }
        }
    }

    #[test]
    fn byte_by_byte_equals_lossy_decoding_of_the_whole() {
        for sample in SAMPLES {
            let every_byte: Vec<usize> = (1..sample.len()).collect();
            assert_eq!(decode_in_chunks(sample, &every_byte), String::from_utf8_lossy(sample), "{sample:?}");
        }
    }

    #[test]
    fn an_incomplete_character_is_held_back_then_completed() {
        let mut decoder = Utf8StreamDecoder::default();
        assert_eq!(decoder.decode(b"a\xe2\x82"), "a");
        assert_eq!(decoder.decode(b"\xacb"), "€b");
        assert_eq!(decoder.finish(), "");
    }
}
