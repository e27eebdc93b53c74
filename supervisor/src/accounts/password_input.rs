//! Where `users add --password` and `users passwd` read a password:
//! standard input or a file, one line, never argv (argv is visible to
//! every local user in ps).

use std::io::Read;
use std::path::Path;

/// Most bytes read: a password line is far shorter.
const MAX_READ: u64 = 64 * 1024;

/// The first line of `text`, without its line ending; empty text or an
/// empty first line is an error.
pub fn first_line(text: &str) -> Result<String, String> {
    let line = text.split('\n').next().unwrap_or("");
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Err("no password given (an empty first line)".into());
    }
    super::password::check_new(line)?;
    Ok(line.to_string())
}

/// Reads the password from `file`, or from standard input when `None`.
pub fn read(file: Option<&Path>) -> Result<String, String> {
    let mut text = String::new();
    let (res, from) = match file {
        Some(f) => (
            std::fs::File::open(f).and_then(|h| h.take(MAX_READ).read_to_string(&mut text)),
            f.display().to_string(),
        ),
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprintln!("password (one line; it is shown as typed, pipe it in to hide it):");
            }
            (
                std::io::stdin().take(MAX_READ).read_to_string(&mut text),
                "standard input".to_string(),
            )
        }
    };
    res.map_err(|e| format!("cannot read the password from {from}: {e}"))?;
    first_line(&text).map_err(|e| format!("{from}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line() {
        assert_eq!(first_line("s3cret\n").unwrap(), "s3cret");
        assert_eq!(first_line("s3cret\r\nignored\n").unwrap(), "s3cret");
        assert_eq!(first_line("with spaces ").unwrap(), "with spaces ");
        assert!(first_line("").is_err());
        assert!(first_line("\nsecond").is_err());
        assert!(first_line("a\tb\n").is_err());
    }
}
