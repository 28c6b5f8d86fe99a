//! Text as people type it: folding full-width and compatibility forms, and how wide a
//! string is on a terminal.

use unicode_normalization::UnicodeNormalization;
use unicode_width::UnicodeWidthStr;

/// `s` in Unicode compatibility form (NFKC: full-width `ＡＢＣ１２３` and `（` become `ABC123`
/// and `(`, the ideographic space a plain one), trimmed.
pub fn fold(s: &str) -> String {
    s.nfkc().collect::<String>().trim().to_owned()
}

/// The columns `s` takes on a terminal: a CJK character or an emoji takes two.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}
