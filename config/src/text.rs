//! The one escaper of nnp: what may reach a terminal, a log line or a JSON string of
//! possibly hostile text (user names, group names, command lines, paths).
//!
//! A character is shown as is only when it is printable and cannot change how the text
//! around it is displayed. Escaped as `\u{...}` (Rust's spelling; `\n`, `\t`, `\r`, `\0`
//! for the common controls, `\xNN` for bytes that are not UTF-8):
//! - C0 and C1 controls and DEL (general category Cc);
//! - format characters (Cf): soft hyphen, the Arabic, Syriac and Mongolian format marks,
//!   zero-width space/joiners and directional marks (U+200B–U+200F), the bidi embeddings and
//!   overrides (U+202A–U+202E), word joiner and invisible operators (U+2060–U+2064), the bidi
//!   isolates (U+2066–U+2069) and the deprecated format controls (U+206A–U+206F), the byte
//!   order mark U+FEFF, interlinear annotation controls, tag characters...;
//! - line and paragraph separators (U+2028, U+2029) and every space other than U+0020
//!   (no-break, en/em, ideographic...: they make two texts look alike);
//! - invisible fillers (combining grapheme joiner, Hangul fillers, braille blank...);
//! - private-use characters and noncharacters (no font shows them as what they are).
//!
//! [`escape_value`] (one value shown inside a message) also escapes `\` and `"` so the
//! result is unambiguous inside quotes, and bounds it to about 256 bytes; [`escape_message`]
//! (a whole message for one log or terminal line) escapes only what is not printable (for a
//! line built from already-escaped parts) and takes its own bound. A config source line
//! shown under a diagnostic is masked instead (`error.rs`: hidden characters become `?`,
//! so its caret stays in place).

/// Inclusive ranges of characters that are never shown as is (besides `char::is_control`).
/// Format characters (Cf, Unicode 15.1), separators, spaces other than U+0020, invisible
/// fillers, private use, noncharacters. Sorted, for the binary search.
const HIDDEN: &[(u32, u32)] = &[
    (0x00A0, 0x00A0), // no-break space
    (0x00AD, 0x00AD), // soft hyphen
    (0x034F, 0x034F), // combining grapheme joiner
    (0x0600, 0x0605), // Arabic number signs
    (0x061C, 0x061C), // Arabic letter mark
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160), // Hangul fillers
    (0x1680, 0x1680), // Ogham space mark
    (0x17B4, 0x17B5), // Khmer invisible vowels
    (0x180B, 0x180F), // Mongolian variation selectors, vowel separator
    (0x2000, 0x200F), // spaces, zero-width space/joiners, LRM, RLM
    (0x2028, 0x202F), // line/paragraph separators, bidi embeddings and overrides, NNBSP
    (0x205F, 0x206F), // math space, word joiner, invisible operators, bidi isolates
    (0x2800, 0x2800), // braille blank
    (0x3000, 0x3000), // ideographic space
    (0x3164, 0x3164), // Hangul filler
    (0xD800, 0xF8FF), // (surrogates cannot occur in a char) private use
    (0xFDD0, 0xFDEF), // noncharacters
    (0xFE00, 0xFE0F), // variation selectors
    (0xFEFF, 0xFEFF), // byte order mark / zero-width no-break space
    (0xFFA0, 0xFFA0), // halfwidth Hangul filler
    (0xFFF0, 0xFFFB), // unassigned specials, interlinear annotation controls
    (0xFFFE, 0xFFFF), // noncharacters
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),  // Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  // shorthand format controls
    (0x1D173, 0x1D17A),  // musical symbol format controls
    (0xE0000, 0xE0FFF),  // tags, variation selectors supplement
    (0xF0000, 0x10FFFF), // supplementary private use areas
];

/// Is this character shown escaped? Controls, format/bidi characters, separators, spaces
/// other than U+0020, invisible fillers, private use and noncharacters.
pub fn is_hidden(c: char) -> bool {
    if c.is_control() {
        return true;
    }
    let u = u32::from(c);
    if u < 0xA0 {
        return false;
    }
    // noncharacters U+nFFFE and U+nFFFF of every plane
    if u & 0xFFFE == 0xFFFE {
        return true;
    }
    HIDDEN
        .binary_search_by(|&(lo, hi)| {
            if hi < u {
                std::cmp::Ordering::Less
            } else if lo > u {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        _ => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
    }
}

/// Cut `s` to at most `max` bytes on a character boundary, marking the cut with `...`.
fn bound(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
}

/// Longest result of [`escape_value`] before the `...` mark.
pub const ESCAPE_MAX: usize = 256;

/// Escape one possibly hostile value (a user name, path, command, a string from the config)
/// to be shown inside a message in logs, JSON and terminal output: printable UTF-8 as is;
/// every hidden character (see [`is_hidden`]), `\` and `"` escaped; bytes that are not
/// UTF-8 as `\xNN`; bounded to about 256 bytes.
pub fn escape_value(value: impl AsRef<[u8]>) -> String {
    let bytes = value.as_ref();
    let mut s = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' || c == '"' {
                s.push('\\');
                s.push(c);
            } else if is_hidden(c) {
                push_escaped(&mut s, c);
            } else {
                s.push(c);
            }
            if s.len() > ESCAPE_MAX {
                break;
            }
        }
        if s.len() > ESCAPE_MAX {
            break;
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    bound(&mut s, ESCAPE_MAX);
    s
}

/// A one-line message (a log line, a terminal line assembled from already-escaped parts):
/// every hidden character escaped (see [`is_hidden`]), nothing else, bounded to `max` bytes.
/// No input can forge a second line or reorder what is displayed.
pub fn escape_message(msg: &str, max: usize) -> String {
    let mut out = String::with_capacity(msg.len().min(max));
    for c in msg.chars() {
        if is_hidden(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
        if out.len() > max {
            break;
        }
    }
    bound(&mut out, max);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_and_non_ascii_letters_pass() {
        assert_eq!(escape_value(b"alice"), "alice");
        assert_eq!(escape_value("é Ω 日本 😀".as_bytes()), "é Ω 日本 😀");
        assert_eq!(escape_value(b"a b"), "a b");
    }

    #[test]
    fn controls_quotes_and_invalid_bytes() {
        assert_eq!(escape_value(b"caf\xe9"), "caf\\xe9");
        assert_eq!(escape_value(b"a\nb\rc\td\0"), "a\\nb\\rc\\td\\0");
        assert_eq!(escape_value(b"\x1b[31m"), "\\u{1b}[31m");
        assert_eq!(escape_value(b"\x7f"), "\\u{7f}");
        assert_eq!(escape_value("\u{85}\u{9b}".as_bytes()), "\\u{85}\\u{9b}"); // C1: NEL, CSI
        assert_eq!(escape_value(br#"a"b\c"#), r#"a\"b\\c"#);
    }

    #[test]
    fn bidi_and_format_characters_are_escaped() {
        // Every character the issue names, and the rest of their blocks.
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{2028}',
            '\u{2029}',
            '\u{FEFF}',
            '\u{061C}',
            '\u{00AD}',
            '\u{2060}',
            '\u{180E}',
            '\u{E0041}',
            '\u{FFF9}',
            '\u{00A0}',
            '\u{3000}',
            '\u{3164}',
            '\u{E000}',
            '\u{10FFFD}',
            '\u{FFFE}',
            '\u{1FFFF}',
            '\u{FDD0}',
        ] {
            let s = c.to_string();
            let e = escape_value(s.as_bytes());
            assert_eq!(
                e,
                format!("\\u{{{:x}}}", u32::from(c)),
                "{:x}",
                u32::from(c)
            );
            assert_eq!(escape_message(&s, 100), e);
        }
        // A right-to-left override cannot disguise a command line.
        assert_eq!(
            escape_value("sleep 1 \u{202E}gnp.exe".as_bytes()),
            "sleep 1 \\u{202e}gnp.exe"
        );
    }

    #[test]
    fn neighbours_of_the_hidden_ranges_stay_printable() {
        for c in [
            '\u{9F}',
            '\u{A1}',
            '\u{AC}',
            '\u{AE}',
            '\u{1FFF}',
            '\u{2010}',
            '\u{2027}',
            '\u{2030}',
            '\u{205E}',
            '\u{2070}',
            '\u{FEFE}',
            '\u{FF01}',
            '\u{E0FFF}',
        ] {
            let printable = !matches!(u32::from(c), 0x9F | 0xE0FFF);
            assert_eq!(!is_hidden(c), printable, "{:x}", u32::from(c));
        }
        let mut sorted = HIDDEN.to_vec();
        sorted.sort_unstable();
        assert_eq!(
            sorted, HIDDEN,
            "HIDDEN must stay sorted for the binary search"
        );
        assert!(HIDDEN.windows(2).all(|w| w[0].1 < w[1].0));
    }

    #[test]
    fn bounded_on_a_character_boundary() {
        let e = escape_value([b'u'; 5000]);
        assert!(e.ends_with("...") && e.len() <= ESCAPE_MAX + 3);
        let e = escape_value("é".repeat(500).as_bytes());
        assert!(e.ends_with("...") && e.len() <= ESCAPE_MAX + 3);
        let e = escape_value([0xff; 500]);
        assert!(e.ends_with("...") && e.len() <= ESCAPE_MAX + 3);
        let m = escape_message(&"é".repeat(2000), 960);
        assert!(m.ends_with("...") && m.len() <= 963);
    }

    #[test]
    fn message_keeps_backslashes_of_escaped_parts() {
        assert_eq!(
            escape_message("user caf\\xe9: a\nb\u{2028}%s", 100),
            "user caf\\xe9: a\\nb\\u{2028}%s"
        );
    }
}
