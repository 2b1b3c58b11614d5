//! Characters as QEMU `sendkey` names, on a US keyboard layout, as the NixOS
//! driver's `CHAR_TO_KEY` maps them.
//!
//! Letters and digits are their own key names (an uppercase letter is
//! `shift-` and the letter); punctuation is the key's scancode (`0x0c` is the key
//! right of `0`), shifted where the character needs it. Anything else passes
//! through unchanged, so `send_key "ctrl-alt-delete"` is QEMU's own name.

/// The `sendkey` name for `key`: a one-character key as typed on a US
/// keyboard, anything else as given.
pub(crate) fn sendkey_name(key: &str) -> String {
    let mut chars = key.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => char_key(c).unwrap_or_else(|| key.to_string()),
        _ => key.to_string(),
    }
}

/// The key (with `shift-` when needed) that types `c`, if it needs a name other
/// than the character itself.
fn char_key(c: char) -> Option<String> {
    if c.is_ascii_uppercase() {
        return Some(format!("shift-{}", c.to_ascii_lowercase()));
    }
    let name = match c {
        '\n' => "ret",
        ' ' => "spc",
        '\t' => "tab",
        '!' => "shift-0x02",
        '@' => "shift-0x03",
        '#' => "shift-0x04",
        '$' => "shift-0x05",
        '%' => "shift-0x06",
        '^' => "shift-0x07",
        '&' => "shift-0x08",
        '*' => "shift-0x09",
        '(' => "shift-0x0A",
        ')' => "shift-0x0B",
        '-' => "0x0C",
        '_' => "shift-0x0C",
        '=' => "0x0D",
        '+' => "shift-0x0D",
        '[' => "0x1A",
        '{' => "shift-0x1A",
        ']' => "0x1B",
        '}' => "shift-0x1B",
        ';' => "0x27",
        ':' => "shift-0x27",
        '\'' => "0x28",
        '"' => "shift-0x28",
        '`' => "0x29",
        '~' => "shift-0x29",
        '\\' => "0x2B",
        '|' => "shift-0x2B",
        ',' => "0x33",
        '<' => "shift-0x33",
        '.' => "0x34",
        '>' => "shift-0x34",
        '/' => "0x35",
        '?' => "shift-0x35",
        _ => return None,
    };
    Some(name.to_string())
}

/// The key that types `c` on a US keyboard, or `None` when none does (control
/// characters other than newline and tab, characters outside ASCII).
pub(crate) fn typed_key(c: char) -> Option<String> {
    match char_key(c) {
        Some(key) => Some(key),
        None if c.is_ascii_alphanumeric() => Some(c.to_string()),
        None => None,
    }
}

/// The first character of `text` that no key types, if any.
pub(crate) fn untypable(text: &str) -> Option<char> {
    text.chars().find(|&c| typed_key(c).is_none())
}

#[cfg(test)]
mod tests {
    use super::{sendkey_name, untypable};

    #[test]
    fn only_what_a_keyboard_types_is_typable() {
        assert_eq!(untypable("Hello, world!\n\tok ~`"), None);
        assert_eq!(untypable("a\rb"), Some('\r'));
        assert_eq!(untypable("caf\u{e9}"), Some('\u{e9}'));
        assert_eq!(untypable("\u{1b}[A"), Some('\u{1b}'));
    }

    #[test]
    fn characters_map_to_us_layout_keys() {
        let typed: Vec<String> = ["a", "Z", "7", "\n", " ", "-", "_", "?", "|", "\"", "~"]
            .iter()
            .map(|key| sendkey_name(key))
            .collect();
        assert_eq!(
            typed,
            [
                "a",
                "shift-z",
                "7",
                "ret",
                "spc",
                "0x0C",
                "shift-0x0C",
                "shift-0x35",
                "shift-0x2B",
                "shift-0x28",
                "shift-0x29"
            ]
        );
        assert_eq!(sendkey_name("ctrl-alt-delete"), "ctrl-alt-delete");
        assert_eq!(sendkey_name("é"), "é");
    }
}
