//! What the layout needs to know about the two base-14 fonts it uses, Helvetica and
//! Helvetica-Bold: how Unicode text becomes WinAnsiEncoding bytes, and how wide each byte is.
//!
//! Every PDF reader ships these fonts, so nothing is embedded; the price is that only the
//! WinAnsi character set (ASCII, Latin-1 and a few typographic marks such as the euro sign and
//! curly quotes) can be shown. The widths are Adobe's published metrics in thousandths of the
//! font size, needed to wrap lines and to right-align amounts.

/// One of the two faces the layout uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Face {
    Regular,
    Bold,
}

/// What a character the fonts cannot show becomes: visible, so nothing vanishes silently.
pub(crate) const REPLACEMENT: u8 = b'?';

/// The characters of WinAnsiEncoding's 0x80..=0x9F block, which differ from Unicode's.
const HIGH_BLOCK: [(char, u8); 27] = [
    ('€', 0x80),
    ('‚', 0x82),
    ('ƒ', 0x83),
    ('„', 0x84),
    ('…', 0x85),
    ('†', 0x86),
    ('‡', 0x87),
    ('ˆ', 0x88),
    ('‰', 0x89),
    ('Š', 0x8A),
    ('‹', 0x8B),
    ('Œ', 0x8C),
    ('Ž', 0x8E),
    ('\u{2018}', 0x91),
    ('\u{2019}', 0x92),
    ('\u{201C}', 0x93),
    ('\u{201D}', 0x94),
    ('•', 0x95),
    ('–', 0x96),
    ('—', 0x97),
    ('˜', 0x98),
    ('™', 0x99),
    ('š', 0x9A),
    ('›', 0x9B),
    ('œ', 0x9C),
    ('ž', 0x9E),
    ('Ÿ', 0x9F),
];

/// The WinAnsi byte that shows `c`: itself for printable ASCII and Latin-1, a space for any
/// other whitespace or control character (so a stray newline or tab cannot break the content
/// stream's layout), a plain hyphen for the other dashes a formatter may emit, and
/// [`REPLACEMENT`] for everything else.
pub(crate) fn encode_char(c: char) -> u8 {
    match c {
        ' '..='~' | '\u{A0}'..='\u{FF}' => c as u8,
        '\u{2010}' | '\u{2011}' | '\u{2212}' => b'-',
        _ => {
            if let Some(&(_, byte)) = HIGH_BLOCK.iter().find(|(high, _)| *high == c) {
                byte
            } else if c.is_whitespace() || c.is_control() {
                b' '
            } else {
                REPLACEMENT
            }
        }
    }
}

/// `text` in WinAnsiEncoding, one byte per character.
pub(crate) fn encode(text: &str) -> Vec<u8> {
    text.chars().map(encode_char).collect()
}

/// The width of `text` (WinAnsi bytes) in points at `size`.
pub(crate) fn width(text: &[u8], face: Face, size: f32) -> f32 {
    let table = match face {
        Face::Regular => &REGULAR,
        Face::Bold => &BOLD,
    };
    let units: u32 = text
        .iter()
        .map(|&b| match b {
            32..=255 => u32::from(table[usize::from(b - 32)]),
            // Never produced by `encode`; counted as a space to stay total.
            _ => u32::from(table[0]),
        })
        .sum();
    units as f32 * size / 1000.0
}

/// Helvetica's advance widths for the WinAnsi bytes 0x20..=0xFF (unused codes are zero).
#[rustfmt::skip]
const REGULAR: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold's advance widths for the WinAnsi bytes 0x20..=0xFF (unused codes are zero).
#[rustfmt::skip]
const BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_latin1_pass_through() {
        assert_eq!(encode("Pro × 5 seats"), b"Pro \xD7 5 seats");
        assert_eq!(encode("Zürich café"), b"Z\xFCrich caf\xE9");
    }

    #[test]
    fn typographic_marks_use_the_high_block() {
        assert_eq!(
            encode("€12 – ‘ok’ “ok” …"),
            b"\x8012 \x96 \x91ok\x92 \x93ok\x94 \x85"
        );
    }

    #[test]
    fn what_cannot_be_shown_is_replaced_visibly() {
        assert_eq!(encode("日本 😀 e\u{301}"), b"?? ? e?");
        assert_eq!(encode("a\nb\tc\u{0}d\u{85}e\u{2009}f"), b"a b c d e f");
        assert_eq!(encode("\u{2212}3.64"), b"-3.64");
    }

    #[test]
    fn every_encoded_byte_has_a_width() {
        for c in (0..0x3000u32).filter_map(char::from_u32) {
            let byte = encode_char(c);
            assert!(byte >= 32, "{c:?} encodes to a control byte");
            for face in [Face::Regular, Face::Bold] {
                assert!(width(&[byte], face, 1000.0) > 0.0, "{c:?} has no width");
            }
        }
    }

    #[test]
    fn widths_scale_with_the_size() {
        assert_eq!(width(b"0", Face::Regular, 10.0), 5.56);
        assert_eq!(width(b"Wi", Face::Bold, 1000.0), 944.0 + 278.0);
    }
}
