//! Rendered files checked from the outside: a sound file structure and the same bytes for the
//! same document always, and, where poppler-utils is installed, the text a reader extracts,
//! where it sits, and how many pages the lines flow onto.

use std::io::Write;
use std::process::{Command, Stdio};

use postroom_pdf::{render, DocLine, InvoiceDocument};

fn sample() -> InvoiceDocument {
    InvoiceDocument {
        title: "Invoice".into(),
        number: "PR-2026-0042".into(),
        status: "Paid Dec 7, 2026".into(),
        issued: "Dec 7, 2026".into(),
        due: Some("Dec 21, 2026".into()),
        seller: vec![
            "Postroom Hosting Ltd".into(),
            "12 Harbour Street".into(),
            "Zürich 8001".into(),
            "VAT CHE-123.456.789".into(),
        ],
        bill_to: vec![
            "Acme Tools".into(),
            "billing@acme.test".into(),
            "1 Main Road, Springfield".into(),
        ],
        lines: vec![
            DocLine {
                description: "Unused time on Pro × 5 seats after Dec 7, 2026".into(),
                period: Some("Dec 7, 2026 – Jan 1, 2027".into()),
                amount: "-$3.64".into(),
            },
            DocLine {
                description: "Remaining time on Business × 5 seats after Dec 7, 2026".into(),
                period: Some("Dec 7, 2026 – Jan 1, 2027".into()),
                amount: "$1,200.00".into(),
            },
        ],
        totals: vec![
            ("Subtotal".into(), "$1,196.36".into()),
            ("From balance".into(), "-$10.00".into()),
            ("From card".into(), "$1,186.36".into()),
            ("Total".into(), "$1,196.36".into()),
        ],
        footer: vec!["Thank you for using Postroom. Questions: billing@postroom.test".into()],
    }
}

fn numbered_lines(count: usize) -> Vec<DocLine> {
    (1..=count)
        .map(|i| DocLine {
            description: format!("Line {i} of the long invoice"),
            period: (i % 3 == 0).then(|| format!("Period of line {i}")),
            amount: format!("${i}.00"),
        })
        .collect()
}

/// Input a formatter should never produce, and the renderer must take all the same.
fn odd() -> InvoiceDocument {
    let long_word = "x".repeat(700);
    InvoiceDocument {
        title: "Credit note (draft) \\ 日本語".into(),
        number: String::new(),
        status: ")) unbalanced ((( \\ endstream >> %%EOF".into(),
        issued: "\n\t\r\u{0}".into(),
        due: Some(String::new()),
        seller: vec![
            String::new(),
            "Ünïcødé – “quoted” €".into(),
            long_word.clone(),
        ],
        bill_to: vec!["😀 e\u{301} עברית".into(); 3],
        lines: vec![
            DocLine::default(),
            DocLine {
                description: format!("(a) \\ b) {long_word}"),
                period: Some(long_word.clone()),
                amount: long_word.clone(),
            },
        ],
        totals: vec![
            (String::new(), String::new()),
            (long_word.clone(), "\\".into()),
        ],
        footer: vec![String::new(), long_word],
    }
}

/// Checks what every reader relies on: the header, a cross-reference table whose every
/// entry points at its object, and the trailer. Returns the page count of the page tree.
fn check_structure(pdf: &[u8]) -> usize {
    // One character per byte, so that offsets in the text are offsets in the file.
    let text: String = pdf
        .iter()
        .map(|&b| if b.is_ascii() { char::from(b) } else { '?' })
        .collect();
    assert!(pdf.starts_with(b"%PDF-1."), "no PDF header");
    assert!(text.trim_end().ends_with("%%EOF"), "no end-of-file marker");
    let startxref = text.rfind("startxref").expect("no startxref");
    let xref_at: usize = text[startxref + "startxref".len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("startxref without an offset");
    assert!(text[xref_at..].starts_with("xref"), "startxref is off");
    let mut xref = text[xref_at..].lines().skip(1);
    let header = xref.next().expect("an xref section header");
    let (first, count) = header.split_once(' ').expect("an xref section header");
    assert_eq!(first, "0");
    let count: usize = count.trim().parse().expect("an object count");
    for (id, entry) in xref.by_ref().take(count).enumerate() {
        let fields: Vec<&str> = entry.split_whitespace().collect();
        if fields[2] == "n" {
            let offset: usize = fields[0].parse().expect("an offset");
            let object = format!("{id} 0 obj");
            assert!(
                text[offset..].starts_with(&object),
                "object {id} is not at {offset}"
            );
        }
    }
    assert_eq!(xref.next(), Some("trailer"));
    assert!(text.contains(&format!("/Size {count}")));
    let pages = text.find("/Type /Pages").expect("a page tree");
    let after = &text[pages..];
    let count_at = after.find("/Count ").expect("a page count") + "/Count ".len();
    after[count_at..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a page count")
}

/// Says that a test did not run and why, where a plain `cargo test` shows it (the test
/// harness keeps what `println!` prints, not what goes to the standard error stream).
fn skip(test: &str, reason: &str) {
    let _ = writeln!(std::io::stderr(), "skipped {test}: {reason}");
}

/// What `pdftotext` (poppler-utils) reads from `pdf` with `args`, or `None` (and a skip line)
/// where it is not installed. Poppler complaining about the file fails the test.
fn pdftotext(test: &str, pdf: &[u8], args: &[&str]) -> Option<String> {
    let child = Command::new("pdftotext")
        .args(args)
        .args(["-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            skip(
                test,
                "pdftotext is not installed (apt-get install poppler-utils)",
            );
            return None;
        }
        Err(e) => panic!("cannot run pdftotext: {e}"),
    };
    child
        .stdin
        .take()
        .expect("a pipe")
        .write_all(pdf)
        .expect("pdftotext reads the file");
    let output = child.wait_with_output().expect("pdftotext ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "pdftotext failed: {stderr}");
    assert!(stderr.trim().is_empty(), "poppler complained: {stderr}");
    Some(String::from_utf8(output.stdout).expect("pdftotext writes UTF-8"))
}

/// The words `pdftotext -bbox` finds, each with its left and right edge in points.
fn words(test: &str, pdf: &[u8]) -> Option<Vec<(String, f32, f32)>> {
    let html = pdftotext(test, pdf, &["-bbox"])?;
    let attribute = |line: &str, name: &str| -> f32 {
        let start = line.find(&format!("{name}=\"")).expect("an attribute") + name.len() + 2;
        let end = start + line[start..].find('"').expect("a closing quote");
        line[start..end].parse().expect("a number")
    };
    Some(
        html.lines()
            .filter(|line| line.trim_start().starts_with("<word "))
            .map(|line| {
                let start = line.find('>').expect("a word") + 1;
                let end = line.rfind("</word>").expect("a word");
                let word = line[start..end]
                    .replace("&amp;", "&")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"");
                (word, attribute(line, "xMin"), attribute(line, "xMax"))
            })
            .collect(),
    )
}

#[test]
fn the_same_document_gives_the_same_bytes() {
    let doc = sample();
    let first = render(&doc);
    assert_eq!(first, render(&doc));
    assert_eq!(check_structure(&first), 1);
    let text = String::from_utf8_lossy(&first);
    assert!(!text.contains("/CreationDate") && !text.contains("/ID"));

    let mut other = doc.clone();
    other.number = "PR-2026-0043".into();
    assert_ne!(first, render(&other));
}

#[test]
fn a_reader_finds_every_piece_of_text() {
    let Some(text) = pdftotext(
        "a_reader_finds_every_piece_of_text",
        &render(&sample()),
        &[],
    ) else {
        return;
    };
    for expected in [
        "Invoice",
        "PR-2026-0042",
        "Issued",
        "Dec 7, 2026",
        "Due",
        "Dec 21, 2026",
        "Paid Dec 7, 2026",
        "Postroom Hosting Ltd",
        "Zürich 8001",
        "Bill to",
        "Acme Tools",
        "Unused time on Pro × 5 seats after Dec 7, 2026",
        "Dec 7, 2026 – Jan 1, 2027",
        "-$3.64",
        "Remaining time on Business × 5 seats after Dec 7, 2026",
        "$1,200.00",
        "Subtotal",
        "From balance",
        "-$10.00",
        "From card",
        "$1,186.36",
        "Total",
        "$1,196.36",
        "Thank you for using Postroom. Questions: billing@postroom.test",
        "Page 1 of 1",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
}

#[test]
fn amounts_share_one_right_edge() {
    let test = "amounts_share_one_right_edge";
    let Some(words) = words(test, &render(&sample())) else {
        return;
    };
    let right_edges: Vec<f32> = ["Amount", "-$3.64", "$1,200.00", "-$10.00", "$1,186.36"]
        .iter()
        .map(|amount| {
            words
                .iter()
                .find(|(word, _, _)| word == amount)
                .unwrap_or_else(|| panic!("{amount} not found"))
                .2
        })
        .collect();
    for edge in &right_edges {
        assert!((edge - 545.28).abs() < 0.01, "right edges {right_edges:?}");
    }
}

#[test]
fn many_lines_flow_onto_several_pages() {
    let doc = InvoiceDocument {
        lines: numbered_lines(200),
        ..sample()
    };
    let pdf = render(&doc);
    let pages = check_structure(&pdf);
    assert!(pages >= 4, "200 lines on {pages} pages");

    let test = "many_lines_flow_onto_several_pages";
    let Some(text) = pdftotext(test, &pdf, &[]) else {
        return;
    };
    let mut from = 0;
    for i in 1..=200 {
        let line = format!("Line {i} of the long invoice");
        assert_eq!(text.matches(&format!("{line}\n")).count(), 1, "{line}");
        let at = text.find(&line).expect("every line");
        assert!(at > from, "{line} out of order");
        from = at;
    }
    for page in 1..=pages {
        let n = page.to_string();
        let text = pdftotext(test, &pdf, &["-f", &n, "-l", &n]).expect("pdftotext ran before");
        assert!(
            text.contains(&format!("Page {page} of {pages}")),
            "page {page}"
        );
        assert!(
            text.contains("Description"),
            "no table header on page {page}"
        );
        if page > 1 {
            assert!(text.contains("Invoice PR-2026-0042 (continued)"));
        }
        if page == pages {
            assert!(text.contains("Total") && text.contains("Thank you"));
        }
    }
}

#[test]
fn odd_input_still_makes_a_sound_file() {
    for doc in [odd(), InvoiceDocument::default()] {
        let pdf = render(&doc);
        assert_eq!(pdf, render(&doc));
        check_structure(&pdf);
    }
    let pdf = render(&odd());
    let test = "odd_input_still_makes_a_sound_file";
    let Some(text) = pdftotext(test, &pdf, &[]) else {
        return;
    };
    for expected in [
        "Credit note (draft) \\ ???",
        ")) unbalanced ((( \\ endstream >> %%EOF",
        "Ünïcødé – “quoted” €",
        "? e? ?????",
        "(a) \\ b)",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    // The long word is broken across lines, never cut off: every piece of it is there.
    let xs = text.chars().filter(|&c| c == 'x').count();
    assert_eq!(xs, 700 * 6, "the 700-character word appears six times");
}
