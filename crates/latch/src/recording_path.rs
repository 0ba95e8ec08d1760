//! Where a session's recording lives on this node: one directory, named by the session, in the recordings directory.

use std::path::{Component, Path, PathBuf};

/// `<dir>/<recording>` when `recording` is one plain directory name (as the store keeps it: the session id);
/// `None` for anything that could reach outside `dir` or name `dir` itself (empty, `.`, `..`, an absolute path,
/// several components).
pub fn session_directory(dir: &Path, recording: &str) -> Option<PathBuf> {
    let mut components = Path::new(recording).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(name)), None) => Some(dir.join(name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_plain_name_is_a_session_directory() {
        let dir = Path::new("/srv/recordings");
        assert_eq!(session_directory(dir, "8d1f0c3e"), Some(dir.join("8d1f0c3e")));
        for refused in ["", ".", "..", "../etc", "/etc", "a/b", "./a"] {
            assert_eq!(session_directory(dir, refused), None, "{refused:?}");
        }
    }
}
