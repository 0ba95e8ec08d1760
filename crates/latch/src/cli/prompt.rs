//! Asking the person at the terminal, or reading what a script pipes into standard input.
//!
//! Questions go to stderr so that stdout stays the command's result. Secrets are typed without
//! echo (rpassword) and only when standard input is a terminal; scripts pipe them instead.

use crate::UsageError;
use anyhow::Context;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;
use zeroize::Zeroizing;

/// A secret read from somewhere; wiped from memory when dropped.
pub type SecretText = Zeroizing<String>;

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Writes `text` to stderr without a newline.
pub fn ask(text: &str) -> anyhow::Result<()> {
    let mut stderr = std::io::stderr().lock();
    stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush()).context("cannot write to stderr")
}

/// Reads one line from standard input, without its line ending; `what` names it in errors.
pub fn stdin_line(what: &str) -> anyhow::Result<SecretText> {
    let mut line = Zeroizing::new(String::new());
    let read = std::io::stdin().lock().read_line(&mut line).with_context(|| format!("cannot read {what}"))?;
    if read == 0 {
        return Err(UsageError(format!("standard input ended before {what}")).into());
    }
    let end = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(end);
    Ok(line)
}

/// Asks `question` and reads the answer line (from a terminal or a pipe).
pub fn line(question: &str, what: &str) -> anyhow::Result<SecretText> {
    ask(question)?;
    stdin_line(what)
}

/// Everything on standard input.
pub fn stdin_all(what: &str) -> anyhow::Result<SecretText> {
    let mut text = Zeroizing::new(String::new());
    std::io::stdin().lock().read_to_string(&mut text).with_context(|| format!("cannot read {what}"))?;
    Ok(text)
}

/// A whole file.
pub fn file(path: &Path, what: &str) -> anyhow::Result<SecretText> {
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|err| UsageError(format!("cannot read {what} from {}: {err}", path.display())).into())
}

/// Asks for a secret without echo; refuses when there is no terminal, naming `instead`, the
/// option that gives it non-interactively.
pub fn secret(question: &str, instead: &str) -> anyhow::Result<SecretText> {
    if !stdin_is_terminal() {
        return Err(UsageError(format!("standard input is not a terminal to ask on; use {instead}")).into());
    }
    let answer = rpassword::prompt_password(question).context("cannot read from the terminal")?;
    Ok(Zeroizing::new(answer))
}

/// Asks for a new secret twice; both must match and not be empty.
pub fn new_secret_twice(question: &str, instead: &str) -> anyhow::Result<SecretText> {
    let first = secret(question, instead)?;
    let second = secret("Again, to confirm: ", instead)?;
    if *first != *second {
        return Err(UsageError("the two entries differ".to_owned()).into());
    }
    if first.is_empty() {
        return Err(UsageError("nothing was entered".to_owned()).into());
    }
    Ok(first)
}

/// Asks a yes/no question on the terminal; anything but `y`/`yes` is no. Refuses without a
/// terminal, naming `instead`.
pub fn confirm(question: &str, instead: &str) -> anyhow::Result<bool> {
    if !stdin_is_terminal() {
        return Err(UsageError(format!("standard input is not a terminal to ask on; {instead}")).into());
    }
    let answer = line(&format!("{question} [y/N] "), "the answer")?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// Removes one trailing line ending, which files and pipes add after a one-line secret.
pub fn without_final_newline(mut text: SecretText) -> SecretText {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_final_newline_is_removed() {
        let check = |input: &str, expected: &str| {
            assert_eq!(without_final_newline(Zeroizing::new(input.to_owned())).as_str(), expected);
        };
        check("s3cret\n", "s3cret");
        check("s3cret\r\n", "s3cret");
        check("s3cret", "s3cret");
        check("key\n\n", "key\n");
        check(" spaced \n", " spaced ");
    }
}
