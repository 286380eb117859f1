//! The API document's descriptions as HTML: CommonMark (what utoipa takes from the doc
//! comments) rendered by `pulldown-cmark`, made safe to put in a page as it is.
//!
//! Safe means: raw HTML in the text is shown as text, never interpreted; a link keeps its
//! target only for `http`, `https`, a path of this site or a fragment (a `javascript:` link
//! becomes plain text); images become their text. A rustdoc link with no target
//! (``[`Event`]``) is shown as its text (`Event` as code), without the brackets.

use pulldown_cmark::{BrokenLink, CowStr, Event, Options, Parser, Tag, TagEnd, html};

/// `text` (CommonMark) as safe HTML: blocks (`<p>`, `<ul>`, one `<pre><code>` per code
/// block) for a description.
pub fn to_html(text: &str) -> String {
    if text.trim().is_empty() {
        return String::new();
    }
    // A reference with no definition still parses as a link (with an empty target), which
    // `events` then drops, keeping its text.
    let mut unresolved = |_: BrokenLink<'_>| Some((CowStr::Borrowed(""), CowStr::Borrowed("")));
    let parser = Parser::new_with_broken_link_callback(
        text,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
        Some(&mut unresolved),
    );
    let mut out = String::with_capacity(text.len() * 2);
    html::push_html(&mut out, safe(parser));
    out
}

/// `text` as safe inline HTML: [`to_html`] without the paragraph around a single paragraph
/// (for a table cell or a list item).
pub fn to_inline_html(text: &str) -> String {
    let block = to_html(text);
    let trimmed = block.trim_end();
    match trimmed
        .strip_prefix("<p>")
        .and_then(|s| s.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") => inner.to_string(),
        _ => block,
    }
}

/// Whether a link target may stay a link.
fn allowed(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with('#')
        || (lower.starts_with('/') && !lower.starts_with("//"))
}

/// The events with raw HTML turned into text, and links or images that may not stay
/// dropped (their text stays).
fn safe<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    // Whether each open link or image was kept, so its end is kept or dropped alike.
    let mut open: Vec<bool> = Vec::new();
    events.filter_map(move |e| match e {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link { ref dest_url, .. }) => {
            let keep = allowed(dest_url);
            open.push(keep);
            keep.then_some(e)
        }
        Event::Start(Tag::Image { .. }) => {
            open.push(false);
            None
        }
        Event::End(TagEnd::Link) | Event::End(TagEnd::Image) => {
            open.pop().unwrap_or(false).then_some(e)
        }
        other => Some(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_emphasis_and_lists_render() {
        assert_eq!(
            to_inline_html("It starts `stopped`."),
            "It starts <code>stopped</code>."
        );
        assert_eq!(
            to_html("One.\n\n- a\n- *b*\n"),
            "<p>One.</p>\n<ul>\n<li>a</li>\n<li><em>b</em></li>\n</ul>\n"
        );
    }

    #[test]
    fn a_code_block_is_one_box() {
        let html = to_html("Example:\n\n```sh\ncurl a\ncurl b\n```\n");
        assert_eq!(html.matches("<pre>").count(), 1, "{html}");
        assert!(html.contains("curl a\ncurl b"), "{html}");
    }

    #[test]
    fn rustdoc_links_without_targets_become_their_text() {
        assert_eq!(
            to_inline_html("One [`Event`] per line."),
            "One <code>Event</code> per line."
        );
        assert_eq!(to_inline_html("See [the docs]."), "See the docs.");
    }

    #[test]
    fn raw_html_and_script_links_are_shown_as_text() {
        let html = to_html("<script>alert(1)</script> <img src=x onerror=alert(1)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        let link = to_inline_html("[click](javascript:alert(1)) and ![x](https://e/x.png)");
        assert_eq!(link, "click and x");
        assert_eq!(
            to_inline_html("[API](https://example.com/a?b=1&c=2)"),
            "<a href=\"https://example.com/a?b=1&amp;c=2\">API</a>"
        );
        assert_eq!(to_inline_html("[x](//evil.example)"), "x");
    }

    #[test]
    fn empty_text_is_empty() {
        assert_eq!(to_html("  \n"), "");
        assert_eq!(to_inline_html(""), "");
    }
}
