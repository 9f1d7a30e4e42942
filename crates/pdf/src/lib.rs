//! Invoices and credit notes as PDF files. The server formats every date, amount and address
//! itself; this crate only lays the preformatted text out on A4 pages, so it does no IO, knows
//! nothing of money or time, and the same document always gives the same bytes (no creation
//! date, no random file id), which lets the server regenerate a PDF instead of storing it.
//!
//! The route is [`pdf_writer`] (the low-level writer by the typst authors) with the base-14
//! Helvetica fonts every reader ships. Its whole tree is four small crates (bitflags, itoa,
//! memchr, ryu), with no font file to embed or parse. The alternatives cost more than an
//! invoice needs: krilla needs a font file and a font-parsing and subsetting stack, printpdf
//! carries a font parser, lopdf and serde even without its default HTML layout engine, and
//! typst as a library is a whole typesetting system. The price of base-14 fonts is the WinAnsi character set: Latin-1 and the usual
//! typographic marks. Any other character (CJK, emoji, combining accents) is shown as `?`,
//! visibly, rather than dropped or turned into a panic; names and addresses in other scripts
//! would need an embedded font, a change confined to the `helvetica` module and the font objects.
//!
//! Text strings are written by `pdf_writer::Str`, which escapes parentheses and backslashes
//! and hex-encodes non-ASCII bytes. Content streams are left uncompressed: an invoice is a
//! few kilobytes and no compression crate joins the tree.

mod helvetica;

use helvetica::{encode, width, Face};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// Everything printed on an invoice or a credit note, already formatted for reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceDocument {
    /// "Invoice" or "Credit note".
    pub title: String,
    pub number: String,
    /// How things stand, for example "Paid Dec 7, 2026".
    pub status: String,
    /// The date of issue, for example "Dec 7, 2026".
    pub issued: String,
    pub due: Option<String>,
    /// Who issues the document: name first, then address lines and tax id.
    pub seller: Vec<String>,
    /// Who is billed: name first, then address lines and tax id.
    pub bill_to: Vec<String>,
    pub lines: Vec<DocLine>,
    /// Label and amount pairs under the lines ("Subtotal", "From balance", "From card",
    /// "Total"); the last pair is printed in bold.
    pub totals: Vec<(String, String)>,
    /// Closing notes printed after the totals, one paragraph each.
    pub footer: Vec<String>,
}

/// One row of the table of lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocLine {
    pub description: String,
    /// The period the line covers, printed under the description.
    pub period: Option<String>,
    pub amount: String,
}

/// The PDF file of `doc`: one A4 page, or as many as its lines need.
pub fn render(doc: &InvoiceDocument) -> Vec<u8> {
    let mut layout = Layout::new(doc);
    layout.document();
    layout.finish()
}

// A4 in points, and the frame everything is drawn in.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const LEFT: f32 = 50.0;
const RIGHT: f32 = PAGE_WIDTH - 50.0;
const TOP: f32 = PAGE_HEIGHT - 50.0;
/// The lowest point flowing content may reach; below it is the page number.
const BOTTOM: f32 = 64.0;
const PAGE_NUMBER_BASELINE: f32 = 36.0;

/// Where the second block of the header (bill-to) starts.
const SECOND_COLUMN: f32 = 310.0;
/// The width kept for amounts at the right of the table and of the totals.
const AMOUNT_WIDTH: f32 = 110.0;
const COLUMN_GAP: f32 = 16.0;
const DESCRIPTION_WIDTH: f32 = RIGHT - LEFT - AMOUNT_WIDTH - COLUMN_GAP;
const TOTALS_LABEL_X: f32 = RIGHT - 260.0;

const BODY: f32 = 10.0;
const SMALL: f32 = 8.5;
const TITLE: f32 = 20.0;
const LABEL_WIDTH: f32 = 70.0;

const INK: f32 = 0.0;
const MUTED: f32 = 0.4;
const RULE: f32 = 0.75;

const REGULAR_FONT: Name = Name(b"F1");
const BOLD_FONT: Name = Name(b"F2");

/// How a run of text is set.
#[derive(Clone, Copy)]
struct Style {
    face: Face,
    size: f32,
    gray: f32,
}

impl Style {
    const fn new(face: Face, size: f32, gray: f32) -> Self {
        Self { face, size, gray }
    }

    /// The distance between two baselines.
    fn leading(self) -> f32 {
        self.size * 1.3
    }

    /// How far the baseline sits below the top of its line.
    fn ascent(self) -> f32 {
        self.size * 0.95
    }
}

const TEXT: Style = Style::new(Face::Regular, BODY, INK);
const STRONG: Style = Style::new(Face::Bold, BODY, INK);
const NOTE: Style = Style::new(Face::Regular, SMALL, MUTED);
const HEADING: Style = Style::new(Face::Bold, SMALL, MUTED);

/// Content laid out top to bottom, page after page.
struct Layout<'a> {
    doc: &'a InvoiceDocument,
    pages: Vec<Content>,
    /// The top of the next thing drawn on the last page.
    y: f32,
    /// Whether the last page holds nothing but its running header, so breaking again would
    /// not help.
    fresh: bool,
    /// Whether a page break must repeat the table's header.
    in_table: bool,
}

impl<'a> Layout<'a> {
    fn new(doc: &'a InvoiceDocument) -> Self {
        Self {
            doc,
            pages: vec![Content::new()],
            y: TOP,
            fresh: true,
            in_table: false,
        }
    }

    fn document(&mut self) {
        self.header();
        self.parties();
        self.table();
        self.totals();
        self.footer();
    }

    /// The title, then the number, dates and status as label and value rows.
    fn header(&mut self) {
        let doc = self.doc;
        let title = Style::new(Face::Bold, TITLE, INK);
        self.paragraph(LEFT, RIGHT - LEFT, &doc.title, title);
        self.y -= 6.0;
        let mut rows = vec![("Number", &doc.number), ("Issued", &doc.issued)];
        if let Some(due) = &doc.due {
            rows.push(("Due", due));
        }
        rows.push(("Status", &doc.status));
        for (label, value) in rows {
            self.beside(
                |l| {
                    // The smaller label shares the value's baseline.
                    l.y -= TEXT.ascent() - NOTE.ascent();
                    l.paragraph(LEFT, LABEL_WIDTH, label, NOTE);
                },
                |l| l.paragraph(LEFT + LABEL_WIDTH, RIGHT - LEFT - LABEL_WIDTH, value, TEXT),
            );
        }
        self.y -= 20.0;
    }

    /// The seller and the bill-to blocks side by side, each with its name in bold.
    fn parties(&mut self) {
        let doc = self.doc;
        self.beside(
            |l| l.party(LEFT, SECOND_COLUMN - LEFT - COLUMN_GAP, "From", &doc.seller),
            |l| {
                l.party(
                    SECOND_COLUMN,
                    RIGHT - SECOND_COLUMN,
                    "Bill to",
                    &doc.bill_to,
                )
            },
        );
        self.y -= 24.0;
    }

    fn party(&mut self, x: f32, width: f32, heading: &str, lines: &[String]) {
        self.paragraph(x, width, heading, HEADING);
        self.y -= 2.0;
        for (i, line) in lines.iter().enumerate() {
            self.paragraph(x, width, line, if i == 0 { STRONG } else { TEXT });
        }
    }

    fn table(&mut self) {
        self.ensure(HEADING.leading() + 4.0 + TEXT.leading() * 2.0);
        self.table_header();
        self.in_table = true;
        for line in &self.doc.lines {
            self.row(line);
        }
        self.in_table = false;
    }

    fn table_header(&mut self) {
        self.beside(
            |l| l.paragraph(LEFT, DESCRIPTION_WIDTH, "Description", HEADING),
            |l| l.right_aligned(RIGHT, AMOUNT_WIDTH, "Amount", HEADING),
        );
        self.y -= 3.0;
        self.rule(RULE, 0.6);
    }

    /// One line of the table: its description (and period) at the left, its amount at the
    /// right, kept on one page unless it is taller than a page.
    fn row(&mut self, line: &DocLine) {
        const PAD: f32 = 5.0;
        let description = wrap(&encode(&line.description), TEXT, DESCRIPTION_WIDTH);
        let period = line
            .period
            .as_deref()
            .map(|p| wrap(&encode(p), NOTE, DESCRIPTION_WIDTH))
            .unwrap_or_default();
        let amount = wrap(&encode(&line.amount), TEXT, AMOUNT_WIDTH);
        let left_height =
            description.len() as f32 * TEXT.leading() + period.len() as f32 * NOTE.leading();
        let height = left_height.max(amount.len() as f32 * TEXT.leading());
        self.ensure(height + 2.0 * PAD);

        self.y -= PAD;
        self.beside(
            |l| {
                for text in &description {
                    l.line(LEFT, text, TEXT);
                }
                for text in &period {
                    l.line(LEFT, text, NOTE);
                }
            },
            |l| {
                for text in &amount {
                    l.right_line(RIGHT, text, TEXT);
                }
            },
        );
        self.y -= PAD;
        self.rule(0.85, 0.4);
    }

    /// The totals as label and amount rows at the right, kept together, the last in bold.
    fn totals(&mut self) {
        let label_width = RIGHT - AMOUNT_WIDTH - COLUMN_GAP - TOTALS_LABEL_X;
        let rows: Vec<_> = self
            .doc
            .totals
            .iter()
            .enumerate()
            .map(|(i, (label, amount))| {
                let style = if i + 1 == self.doc.totals.len() {
                    STRONG
                } else {
                    TEXT
                };
                let label = wrap(&encode(label), style, label_width);
                let amount = wrap(&encode(amount), style, AMOUNT_WIDTH);
                (style, label, amount)
            })
            .collect();
        let height: f32 = rows
            .iter()
            .map(|(style, label, amount)| label.len().max(amount.len()) as f32 * style.leading())
            .sum();
        self.y -= 8.0;
        self.ensure(height);
        for (style, label, amount) in rows {
            self.beside(
                |l| {
                    for text in &label {
                        l.line(TOTALS_LABEL_X, text, style);
                    }
                },
                |l| {
                    for text in &amount {
                        l.right_line(RIGHT, text, style);
                    }
                },
            );
        }
    }

    fn footer(&mut self) {
        if self.doc.footer.is_empty() {
            return;
        }
        self.y -= 24.0;
        for paragraph in &self.doc.footer {
            self.paragraph(LEFT, RIGHT - LEFT, paragraph, NOTE);
            self.y -= 3.0;
        }
    }

    /// Draws `left` and then `right` from the same top, and moves below the taller. Should
    /// `left` break the page (only something taller than a page does), `right` follows it.
    fn beside(&mut self, left: impl FnOnce(&mut Self), right: impl FnOnce(&mut Self)) {
        let top = self.y;
        let page = self.pages.len();
        left(self);
        let (left_page, below_left) = (self.pages.len(), self.y);
        if left_page == page {
            self.y = top;
        }
        right(self);
        if self.pages.len() == left_page {
            self.y = self.y.min(below_left);
        }
    }

    /// Starts a new page unless `height` still fits on this one (or nothing would fit better
    /// on a new one).
    fn ensure(&mut self, height: f32) {
        if self.y - height >= BOTTOM || self.fresh {
            return;
        }
        self.pages.push(Content::new());
        self.y = TOP;
        let running = format!("{} {} (continued)", self.doc.title, self.doc.number);
        self.paragraph(LEFT, RIGHT - LEFT, &running, NOTE);
        self.y -= 12.0;
        if self.in_table {
            self.table_header();
        }
        self.fresh = true;
    }

    /// `text` wrapped to `width`, a line at a time from the top.
    fn paragraph(&mut self, x: f32, width: f32, text: &str, style: Style) {
        for line in wrap(&encode(text), style, width) {
            self.line(x, &line, style);
        }
    }

    /// `text` wrapped to `width` with each line's end at `right`.
    fn right_aligned(&mut self, right: f32, width: f32, text: &str, style: Style) {
        for line in wrap(&encode(text), style, width) {
            self.right_line(right, &line, style);
        }
    }

    fn right_line(&mut self, right: f32, text: &[u8], style: Style) {
        let x = right - width(text, style.face, style.size);
        self.line(x, text, style);
    }

    /// One line of already wrapped text whose top is the current position.
    fn line(&mut self, x: f32, text: &[u8], style: Style) {
        self.ensure(style.leading());
        if text.is_empty() {
            // Nothing to draw, but the space is taken all the same.
            self.fresh = false;
            self.y -= style.leading();
            return;
        }
        let baseline = self.y - style.ascent();
        let font = match style.face {
            Face::Regular => REGULAR_FONT,
            Face::Bold => BOLD_FONT,
        };
        let content = self.page();
        content.begin_text();
        content.set_fill_gray(style.gray);
        content.set_font(font, style.size);
        content.next_line(x, baseline);
        content.show(Str(text));
        content.end_text();
        self.y -= style.leading();
    }

    /// A horizontal rule across the frame at the current position.
    fn rule(&mut self, gray: f32, thickness: f32) {
        let y = self.y;
        let content = self.page();
        content.set_stroke_gray(gray);
        content.set_line_width(thickness);
        content.move_to(LEFT, y);
        content.line_to(RIGHT, y);
        content.stroke();
    }

    /// The content of the last page, which is no longer fresh once drawn on.
    fn page(&mut self) -> &mut Content {
        self.fresh = false;
        self.pages.last_mut().expect("a layout has a page")
    }

    /// The PDF file: the catalog, the page tree, both fonts, and each page with its number.
    fn finish(self) -> Vec<u8> {
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let info = Ref::new(5);
        let first_page = 6;
        let count = self.pages.len();
        let page_ref = |i: usize| Ref::new(first_page + 2 * i as i32);
        let content_ref = |i: usize| Ref::new(first_page + 2 * i as i32 + 1);

        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids((0..count).map(page_ref))
            .count(count as i32);
        for (id, base) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
            pdf.type1_font(id)
                .base_font(Name(base.as_bytes()))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        let title = format!("{} {}", self.doc.title, self.doc.number);
        pdf.document_info(info).title(TextStr(title.trim()));

        for (i, mut content) in self.pages.into_iter().enumerate() {
            page_number(&mut content, self.doc, i + 1, count);
            let mut page = pdf.page(page_ref(i));
            page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
                .parent(tree)
                .contents(content_ref(i));
            let mut resources = page.resources();
            resources
                .fonts()
                .pair(REGULAR_FONT, regular)
                .pair(BOLD_FONT, bold);
            resources.finish();
            page.finish();
            pdf.stream(content_ref(i), &content.finish());
        }
        pdf.finish()
    }
}

/// The foot of every page: the document at the left, "Page n of m" at the right.
fn page_number(content: &mut Content, doc: &InvoiceDocument, page: usize, count: usize) {
    let style = NOTE;
    let number = encode(&format!("Page {page} of {count}"));
    let right_x = RIGHT - width(&number, style.face, style.size);
    let name = wrap(
        &encode(&format!("{} {}", doc.title, doc.number)),
        style,
        right_x - LEFT - COLUMN_GAP,
    );
    for (x, text) in [(LEFT, &name[0]), (right_x, &number)] {
        content.begin_text();
        content.set_fill_gray(style.gray);
        content.set_font(REGULAR_FONT, style.size);
        content.next_line(x, PAGE_NUMBER_BASELINE);
        content.show(Str(text));
        content.end_text();
    }
}

/// `text` (WinAnsi bytes) broken into lines no wider than `max`: at spaces where it can be,
/// inside a word that is wider than a line by itself. Runs of spaces collapse; the result
/// always has at least one (perhaps empty) line.
fn wrap(text: &[u8], style: Style, max: f32) -> Vec<Vec<u8>> {
    let fits = |line: &[u8]| width(line, style.face, style.size) <= max;
    let mut lines = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        if !current.is_empty() {
            let mut longer = current.clone();
            longer.push(b' ');
            longer.extend_from_slice(word);
            if fits(&longer) {
                current = longer;
                continue;
            }
            lines.push(std::mem::take(&mut current));
        }
        for &byte in word {
            current.push(byte);
            if current.len() > 1 && !fits(&current) {
                current.pop();
                lines.push(std::mem::replace(&mut current, vec![byte]));
            }
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: Vec<Vec<u8>>) -> Vec<String> {
        lines
            .into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect()
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_inside_long_words() {
        // A digit is 5.56 pt wide at 10 pt: nine fit in 52 pt, ten do not.
        let lines = wrap(b"1234 5678  90 123456789012345", TEXT, 52.0);
        assert_eq!(
            texts(lines),
            ["1234 5678", "90", "123456789", "012345"].map(String::from)
        );
        assert_eq!(texts(wrap(b"", TEXT, 52.0)), [String::new()]);
        assert_eq!(texts(wrap(b"   ", TEXT, 52.0)), [String::new()]);
    }

    #[test]
    fn a_line_too_narrow_for_one_character_still_takes_one() {
        assert_eq!(
            texts(wrap(b"WW", STRONG, 1.0)),
            ["W", "W"].map(String::from)
        );
    }

    #[test]
    fn no_wrapped_line_is_wider_than_asked() {
        let text = encode(&"Unused time on Pro × 5 seats after Dec 7, 2026 ".repeat(20));
        for line in wrap(&text, TEXT, DESCRIPTION_WIDTH) {
            assert!(width(&line, Face::Regular, BODY) <= DESCRIPTION_WIDTH);
            assert!(!line.is_empty());
        }
    }
}
