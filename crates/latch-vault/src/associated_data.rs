//! Unambiguous associated data: every component is prefixed with its length.

/// Builds AES-GCM associated data from components, each written as `u32 big-endian length || bytes`,
/// so that no two different component lists produce the same bytes.
#[derive(Debug, Default)]
pub(crate) struct AssociatedData(Vec<u8>);

impl AssociatedData {
    /// Starts with the domain-separation label of one use (e.g. `b"latch/dk/v1"`).
    pub(crate) fn labelled(label: &[u8]) -> Self {
        Self::default().with(label)
    }

    /// Appends one length-prefixed component.
    pub(crate) fn with(mut self, component: &[u8]) -> Self {
        // A component longer than 4 GiB cannot occur here (labels, kinds and ids are short);
        // saturating keeps the function total rather than silently wrapping.
        let length = u32::try_from(component.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&length.to_be_bytes());
        self.0.extend_from_slice(component);
        self
    }

    /// The finished bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifting_a_boundary_changes_the_bytes() {
        let first = AssociatedData::labelled(b"l").with(b"ab").with(b"c");
        let second = AssociatedData::labelled(b"l").with(b"a").with(b"bc");
        assert_ne!(first.as_bytes(), second.as_bytes());
        assert_eq!(first.as_bytes(), b"\0\0\0\x01l\0\0\0\x02ab\0\0\0\x01c");
    }
}
