//! Guest text is untrusted: make it safe for the terminal and for XML.
//!
//! xml-rs and most hand-rolled writers escape only `<`, `>`, `&` and quotes, so
//! characters that XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF) are dropped here
//! before anything reaches the log file. For the terminal, control characters are
//! shown escaped so that a guest cannot move the cursor or change colours.

/// Whether `c` may appear in an XML 1.0 document.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Escapes `text` for XML character data or a double-quoted attribute, dropping
/// characters XML 1.0 does not allow; a parser gives back exactly what is kept.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // A raw carriage return would be read back as a newline (or dropped).
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// Escapes `text` for a double-quoted XML attribute: as [`xml_escape`], and tabs
/// and newlines as references, which a parser would otherwise read back as spaces.
pub(crate) fn xml_attr_escape(text: &str) -> String {
    xml_escape(text)
        .replace('\t', "&#9;")
        .replace('\n', "&#10;")
}

/// Makes `text` safe to print on a terminal: control characters other than newline
/// and tab become visible escapes (`\x1b`, `\r`, …).
pub(crate) fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escape_drops_illegal_characters() {
        assert_eq!(
            xml_escape("a\u{1}b<c>&\"\u{b}\u{fffe}"),
            "ab&lt;c&gt;&amp;&quot;"
        );
        assert_eq!(xml_escape("tab\tnl\n"), "tab\tnl\n");
    }

    #[test]
    fn attributes_keep_tabs_and_newlines_as_references() {
        assert_eq!(xml_attr_escape("a\tb\nc\r\"d"), "a&#9;b&#10;c&#13;&quot;d");
    }

    #[test]
    fn xml_escape_keeps_carriage_returns_as_references() {
        assert_eq!(xml_escape("50%\r100%\r\n"), "50%&#13;100%&#13;\n");
    }

    #[test]
    fn terminal_safe_escapes_controls() {
        assert_eq!(terminal_safe("a\u{1b}[31mb\r\n"), "a\\x1b[31mb\\r\n");
    }
}
