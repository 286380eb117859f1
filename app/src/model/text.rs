//! How values read on a page: relative and short times, sizes, counts, escaped HTML. The
//! server and the browser format them alike, so hydration matches.

pub use types::time::epoch_seconds;

/// "3 hours ago", "in 29 days", "just now".
pub fn relative(t: &str, now: &str) -> String {
    let (Some(t), Some(now)) = (epoch_seconds(t), epoch_seconds(now)) else {
        return t.to_string();
    };
    let d = now - t;
    let (future, s) = (d < 0, d.unsigned_abs());
    // Rounded to the nearest unit: a 7-day expiry read a second later is "in 7 days".
    let round = |unit: u64| (s + unit / 2) / unit;
    let (n, unit) = match s {
        0..45 => return "just now".into(),
        45..5_400 => (round(60).max(1), "minute"),
        5_400..129_600 => (round(3600), "hour"),
        129_600..5_184_000 => (round(86_400), "day"),
        5_184_000..63_072_000 => (round(2_592_000), "month"),
        _ => (round(31_536_000), "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if future {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// `2025-11-09 14:30 UTC`.
pub fn short_time(t: &str) -> String {
    match (t.get(0..10), t.get(11..16)) {
        (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
        _ => t.to_string(),
    }
}

pub use types::units::human_bytes;

/// A coordinate with one decimal (`12.3`), without float formatting (see [`types::units::human_bytes`]).
pub fn tenths(v: f64) -> String {
    let t = (v * 10.0).round() as i64;
    let sign = if t < 0 { "-" } else { "" };
    format!("{sign}{}.{}", (t / 10).abs(), (t % 10).abs())
}

/// Escapes text for HTML (element content and quoted attributes). The timeline's charts
/// are drawn as SVG markup strings, and every user string in them goes through here.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `n` and the noun in the right number: `1 entry`, `0 entries`, `2 entries`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(count(1, "entry", "entries"), "1 entry");
        assert_eq!(count(0, "entry", "entries"), "0 entries");
        assert_eq!(count(2, "container", "containers"), "2 containers");
    }

    #[test]
    fn times_parse_and_read_naturally() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            epoch_seconds("2025-11-09T14:30:45.000Z"),
            Some(1_762_698_645)
        );
        assert_eq!(epoch_seconds("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(epoch_seconds("yesterday"), None);
        let now = "2025-11-09T14:30:45.000Z";
        assert_eq!(relative("2025-11-09T14:30:40.000Z", now), "just now");
        assert_eq!(relative("2025-11-09T11:30:45.000Z", now), "3 hours ago");
        assert_eq!(relative("2025-11-08T14:30:45.000Z", now), "24 hours ago");
        assert_eq!(relative("2025-11-07T14:30:45.000Z", now), "2 days ago");
        assert_eq!(relative("2025-12-09T14:30:45.000Z", now), "in 30 days");
        assert_eq!(relative("2025-11-16T14:30:44.000Z", now), "in 7 days");
        assert_eq!(short_time(now), "2025-11-09 14:30 UTC");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<img src=x onerror=alert(1)> & 'q' \"d\""),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &#39;q&#39; &quot;d&quot;"
        );
    }

    #[test]
    fn bytes_read_naturally() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
        assert_eq!(human_bytes(999_950), "1000.0 kB");
        assert_eq!(human_bytes(1_000), "1.0 kB");
        assert_eq!(human_bytes(u64::MAX), "18446.7 PB");
        assert_eq!(tenths(12.34), "12.3");
        assert_eq!(tenths(-0.56), "-0.6");
        assert_eq!(tenths(980.0), "980.0");
    }
}
