//! The storage chart of a timeline: stored bytes added over time, and what each snapshot
//! alone holds (the bytes deleting it would free).
//!
//! Drawn as SVG markup (every user string escaped), like the time axis: the same string on
//! both sides and little code in the browser's bundle.

use std::fmt::Write;

use leptos::prelude::*;

use crate::model::{AxisPoint, escape_html, human_bytes, short_time, snapshot_label, tenths};

/// Chart width and heights in SVG units (the SVG scales to its box; the viewBox below
/// is W + 24 by LINE_H + BAR_H + 16).
const W: f64 = 1000.0;
const LINE_H: f64 = 70.0;
const BAR_H: f64 = 40.0;
/// Bars drawn at most.
const MAX_BARS: usize = 120;

#[component]
pub fn StorageChart(points: Vec<AxisPoint>) -> impl IntoView {
    let (summary, svg, legend) = chart(points);
    view! {
        <section class="card storage" aria-labelledby="storage-title">
            <h2 id="storage-title">"Storage"</h2>
            <p class="muted small" data-testid="storage-summary">{summary}</p>
            <div class="storage-svg" inner_html=svg></div>
            <p class="storage-legend small">{legend}</p>
        </section>
    }
}

/// The summary sentence, the SVG markup and the legend.
fn chart(mut pts: Vec<AxisPoint>) -> (String, String, String) {
    if pts.is_empty() {
        return (
            "Nothing stored yet: the chart starts with the first snapshot.".into(),
            String::new(),
            String::new(),
        );
    }
    // Oldest first; evenly spaced, so a burst of snapshots stays readable.
    pts.reverse();
    let n = pts.len();
    let step = if n > 1 { W / (n - 1) as f64 } else { 0.0 };
    let x = |i: usize| if n > 1 { i as f64 * step } else { W / 2.0 };
    // What the history occupies after each snapshot; where the backend cannot say (a
    // remote one), what the snapshots added as they were taken.
    let measured = pts.iter().all(|p| p.stored_bytes.is_some());
    let mut total = 0u64;
    let mut line = String::new();
    let cumulative: Vec<u64> = pts
        .iter()
        .map(|p| {
            total = if measured {
                p.stored_bytes.unwrap_or(0)
            } else {
                total + p.added_bytes
            };
            total
        })
        .collect();
    let top = total.max(1) as f64;
    for (i, c) in cumulative.iter().enumerate() {
        let _ = write!(
            line,
            "{},{} ",
            tenths(x(i)),
            tenths(LINE_H - LINE_H * (*c as f64 / top))
        );
    }
    // At most MAX_BARS bars: a long history is grouped into buckets of neighbours, each bar
    // showing the bucket's largest "frees if deleted" (a page of 1,000 bars would be
    // hundreds of kilobytes of markup for no more information).
    let per_bar = n.div_ceil(MAX_BARS);
    let max_excl = pts
        .iter()
        .filter_map(|p| p.exclusive_bytes)
        .max()
        .unwrap_or(0);
    let bar_w = (step * per_bar as f64 * 0.7).clamp(1.0, 24.0);
    let mut svg = format!(
        r#"<svg viewBox="-12 -4 1024 126" preserveAspectRatio="none" role="img" aria-label="Stored bytes over time (line) and each snapshot's exclusive bytes (bars)"><polygon points="0,70 {line}{},70" class="storage-area"/><polyline points="{line}" class="storage-line"/>"#,
        tenths(x(n - 1)),
    );
    for (b, group) in pts.chunks(per_bar).enumerate() {
        let Some(top) = group
            .iter()
            .filter(|p| p.exclusive_bytes.is_some())
            .max_by_key(|p| p.exclusive_bytes)
        else {
            continue;
        };
        let bytes = top.exclusive_bytes.unwrap_or(0);
        let h = if max_excl == 0 {
            0.0
        } else {
            BAR_H * (bytes as f64 / max_excl as f64)
        };
        let label = if group.len() == 1 {
            format!(
                "{} · {}: frees {} if deleted",
                snapshot_label(top.alias.as_deref(), &top.name),
                short_time(&top.created_at),
                human_bytes(bytes)
            )
        } else {
            format!(
                "{} snapshots from {}: the largest, {}, frees {} if deleted",
                group.len(),
                short_time(&group[0].created_at),
                snapshot_label(top.alias.as_deref(), &top.name),
                human_bytes(bytes)
            )
        };
        let centre = x(b * per_bar + (group.len() - 1) / 2);
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="{}" height="{}" class="storage-bar"><title>{}</title></rect>"#,
            tenths((centre - bar_w / 2.0).max(0.0)),
            tenths(LINE_H + 10.0 + BAR_H - h),
            tenths(bar_w),
            tenths(h.max(0.5)),
            escape_html(&label)
        );
    }
    svg.push_str("</svg>");
    let biggest = pts
        .iter()
        .filter(|p| p.exclusive_bytes.is_some())
        .max_by_key(|p| p.exclusive_bytes)
        .map(|p| {
            format!(
                " The snapshot holding the most on its own is {} ({}).",
                snapshot_label(p.alias.as_deref(), &p.name),
                human_bytes(p.exclusive_bytes.unwrap_or(0))
            )
        })
        .unwrap_or_default();
    let summary = format!(
        "{} stored by {n} snapshot{}{}.{biggest}",
        human_bytes(total),
        if n == 1 { "" } else { "s" },
        if measured { "" } else { " as they were taken" }
    );
    let legend = format!(
        "Line: stored, cumulative (up to {}). Bars: frees if deleted (up to {}).",
        human_bytes(total),
        human_bytes(max_excl)
    );
    (summary, svg, legend)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(name: &str, at: &str, added: u64, excl: Option<u64>) -> AxisPoint {
        AxisPoint {
            name: name.into(),
            alias: None,
            created_at: at.into(),
            added_bytes: added,
            exclusive_bytes: excl,
            stored_bytes: None,
        }
    }

    #[test]
    fn chart_sums_what_was_stored_and_names_the_biggest_snapshot() {
        // Newest first, as the timeline carries them.
        let pts = vec![
            point("snap-3", "2025-11-09T12:00:00.000Z", 1_000, Some(10)),
            point(
                "snap-2",
                "2025-11-09T11:00:00.000Z",
                2_000_000,
                Some(900_000),
            ),
            point("snap-<1>", "2025-11-09T10:00:00.000Z", 3_000, Some(5)),
            point("snap-0", "2025-11-09T09:00:00.000Z", 0, None),
        ];
        let (summary, svg, _) = chart(pts);
        assert!(
            summary.starts_with("2.0 MB stored by 4 snapshots"),
            "{summary}"
        );
        assert!(summary.contains("snap-2 (900.0 kB)"), "{summary}");
        assert_eq!(svg.matches("<rect").count(), 3, "{svg}");
        assert!(svg.contains("snap-&lt;1&gt;"), "names are escaped: {svg}");
        assert!(!svg.contains("snap-<1>"), "names are escaped: {svg}");
    }

    #[test]
    fn measured_history_is_drawn_as_it_is() {
        let mut a = point("snap-2", "2025-11-09T11:00:00.000Z", 0, Some(1));
        a.stored_bytes = Some(5_000_000);
        let mut b = point("snap-1", "2025-11-09T10:00:00.000Z", 0, Some(1));
        b.stored_bytes = Some(4_000_000);
        let (summary, _, _) = chart(vec![a, b]);
        assert!(
            summary.starts_with("5.0 MB stored by 2 snapshots."),
            "{summary}"
        );
    }

    #[test]
    fn a_long_history_is_grouped_into_at_most_max_bars() {
        let pts: Vec<AxisPoint> = (0..1000)
            .map(|i| {
                point(
                    &format!("snap-{i}"),
                    "2025-11-09T10:00:00.000Z",
                    10,
                    Some(i),
                )
            })
            .collect();
        let (_, svg, _) = chart(pts);
        let bars = svg.matches("<rect").count();
        assert!((100..=MAX_BARS).contains(&bars), "{bars}");
        assert!(svg.contains("9 snapshots from"), "{}", &svg[..400]);
    }

    #[test]
    fn an_empty_history_says_so() {
        let (summary, svg, _) = chart(Vec::new());
        assert!(summary.starts_with("Nothing stored yet"));
        assert!(svg.is_empty());
    }
}
