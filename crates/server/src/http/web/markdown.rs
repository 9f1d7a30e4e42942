//! Descriptions in collections are markdown (Postman writes them so):
//! rendered to HTML and then sanitised, since a collection is anyone's
//! writing and a link page shows it to strangers. Images are dropped: the
//! pages load nothing from other sites.

use pulldown_cmark::{html, Options, Parser};
use std::sync::OnceLock;

fn cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.rm_tags(["img"])
            .link_rel(Some("noopener noreferrer nofollow"))
            .url_schemes(["http", "https", "mailto"].into_iter().collect());
        b
    })
}

/// `text` as safe HTML.
pub fn to_html(text: &str) -> String {
    let parser = Parser::new_ext(
        text,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS,
    );
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, parser);
    cleaner().clean(&out).to_string()
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn markdown_is_rendered_and_sanitised() {
        assert_eq!(to_html("**bold**"), "<p><strong>bold</strong></p>\n");
        let evil = to_html(
            "<script>alert(1)</script><a href=\"javascript:alert(1)\" onclick=\"x()\">a</a>\
             <img src=\"https://evil.example/x.png\"><span style=\"color:red\">s</span>",
        );
        for bad in ["<script", "javascript:", "onclick", "<img", "style="] {
            assert!(!evil.contains(bad), "{bad} in {evil}");
        }
        let link = to_html("[docs](https://example.com)");
        assert!(link.contains("href=\"https://example.com\""), "{link}");
        assert!(
            link.contains("rel=\"noopener noreferrer nofollow\""),
            "{link}"
        );
    }
}
