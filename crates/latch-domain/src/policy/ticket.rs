//! The pattern a ticket or incident reference must match, e.g. `^(INC|CHG)\d{7,8}$`.

use crate::DomainError;

/// A compiled, size-bounded regular expression; it must match the whole reference.
#[derive(Debug, Clone)]
pub struct TicketPattern {
    source: String,
    regex: regex::Regex,
}

const MAX_PATTERN_LEN: usize = 200;
const MAX_COMPILED_SIZE: usize = 64 * 1024;

impl TicketPattern {
    pub fn parse(source: &str) -> Result<TicketPattern, DomainError> {
        let source = source.trim();
        if source.is_empty() || source.len() > MAX_PATTERN_LEN {
            return Err(DomainError::invalid("ticket pattern", "must be 1 to 200 characters"));
        }
        // Anchored on both ends so a pattern without ^…$ cannot be satisfied by a substring.
        let regex = regex::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(MAX_COMPILED_SIZE)
            .build()
            .map_err(|err| DomainError::invalid("ticket pattern", format!("not a valid regular expression: {err}")))?;
        Ok(TicketPattern { source: source.to_owned(), regex })
    }

    pub fn matches(&self, ticket: &str) -> bool {
        self.regex.is_match(ticket)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl PartialEq for TicketPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for TicketPattern {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_whole_reference() {
        let pattern = TicketPattern::parse(r"^(INC|CHG)\d{7,8}$").unwrap();
        for (ticket, expected) in
            [("INC1234567", true), ("CHG12345678", true), ("INC123", false), ("xINC1234567", false), ("", false)]
        {
            assert_eq!(pattern.matches(ticket), expected, "{ticket}");
        }
        let unanchored = TicketPattern::parse(r"INC\d+").unwrap();
        assert!(!unanchored.matches("see INC12"));
        assert!(unanchored.matches("INC12"));
        assert!(TicketPattern::parse("(").is_err());
        assert!(TicketPattern::parse("").is_err());
    }
}
