//! Diagnostics: every problem names the file, and the line and column where there is one.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found while loading the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file (or directory) the problem is in.
    pub file: PathBuf,
    /// 1-based line and column (in characters), when the problem has a place in the text.
    pub pos: Option<(usize, usize)>,
    /// What is wrong, in words an administrator can act on.
    pub message: String,
    /// The offending source line, for rendering a caret under the spot.
    pub source_line: Option<String>,
    /// A suggestion, shown by [`Diagnostic::render`] (not part of the one-line message).
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem with a whole file or directory (no position).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            pos: None,
            message: message.into(),
            source_line: None,
            hint: None,
        }
    }

    /// A problem at byte offset `offset` of `text`.
    pub fn at(file: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, col, src) = line_col(text, offset);
        Diagnostic {
            file: file.to_path_buf(),
            pos: Some((line, col)),
            message: message.into(),
            source_line: Some(src.to_string()),
            hint: None,
        }
    }

    /// The same diagnostic with a suggestion for `render`.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The diagnostic followed by the offending line and a caret under the spot,
    /// as `nnpctl check` prints it.
    pub fn render(&self) -> String {
        let mut out = self.to_string();
        if let (Some((line, col)), Some(src)) = (self.pos, &self.source_line) {
            let gutter = line.to_string();
            out.push('\n');
            out.push_str(&format!("{} |\n", " ".repeat(gutter.len())));
            out.push_str(&format!("{gutter} | {}\n", mask_source_line(src)));
            out.push_str(&format!(
                "{} | {}^",
                " ".repeat(gutter.len()),
                " ".repeat(col.saturating_sub(1))
            ));
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("\n  = help: {hint}"));
        }
        out
    }
}

/// The offending source line, shown under its diagnostic: every character nnp's escaper
/// would escape (controls, bidi and format characters...) becomes `?`, one column for one,
/// so the caret stays under the spot and nothing can reorder the displayed line.
fn mask_source_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if crate::is_hidden(c) && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some((line, col)) => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                line,
                col,
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// 1-based line and character column of byte `offset` in `text`, and the line itself.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize, &str) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[start..offset].chars().count() + 1;
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let src = text[start..end].trim_end_matches('\r');
    (line, col, src)
}

/// Loading failed: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// At least one diagnostic.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

impl From<Diagnostic> for LoadError {
    fn from(d: Diagnostic) -> Self {
        LoadError {
            diagnostics: vec![d],
        }
    }
}
