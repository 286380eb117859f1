//! The storage chart of a timeline: stored bytes added over time, and what each snapshot
//! alone holds (the bytes deleting it would free).

use leptos::prelude::*;

use crate::model::{AxisPoint, human_bytes, short_time};

/// Chart width and heights in SVG units (the SVG scales to its box).
const W: f64 = 1000.0;
const LINE_H: f64 = 70.0;
const BAR_H: f64 = 40.0;

#[component]
pub fn StorageChart(points: Vec<AxisPoint>) -> impl IntoView {
    if points.is_empty() {
        return view! {
            <section class="card storage" aria-labelledby="storage-title">
                <h2 id="storage-title">"Storage"</h2>
                <p class="muted empty-state">"Nothing stored yet: the chart starts with the first snapshot."</p>
            </section>
        }
        .into_any();
    }
    // Oldest first; evenly spaced, so a burst of snapshots stays readable.
    let mut pts = points;
    pts.reverse();
    let n = pts.len();
    let step = if n > 1 { W / (n - 1) as f64 } else { 0.0 };
    let x = move |i: usize| if n > 1 { i as f64 * step } else { W / 2.0 };
    let mut total = 0u64;
    let cumulative: Vec<u64> = pts
        .iter()
        .map(|p| {
            total += p.added_bytes;
            total
        })
        .collect();
    let top = total.max(1) as f64;
    let line = cumulative
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{:.1},{:.1}", x(i), LINE_H - LINE_H * (*c as f64 / top)))
        .collect::<Vec<_>>()
        .join(" ");
    let area = format!("0,{LINE_H} {line} {:.1},{LINE_H}", x(n - 1));
    let max_excl = pts
        .iter()
        .filter_map(|p| p.exclusive_bytes)
        .max()
        .unwrap_or(0);
    let bar_w = (step * 0.7).clamp(1.0, 24.0);
    let bars = pts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let b = p.exclusive_bytes?;
            let h = if max_excl == 0 { 0.0 } else { BAR_H * (b as f64 / max_excl as f64) };
            let label = format!("{} · {}: frees {} if deleted", p.name, short_time(&p.created_at), human_bytes(b));
            Some(view! {
                <rect x=format!("{:.1}", (x(i) - bar_w / 2.0).max(0.0)) y=format!("{:.1}", LINE_H + 10.0 + BAR_H - h)
                    width=format!("{bar_w:.1}") height=format!("{:.1}", h.max(0.5)) class="storage-bar">
                    <title>{label}</title>
                </rect>
            })
        })
        .collect_view();
    let biggest = pts
        .iter()
        .filter(|p| p.exclusive_bytes.is_some())
        .max_by_key(|p| p.exclusive_bytes)
        .map(|p| {
            format!(
                " The snapshot holding the most on its own is {} ({}).",
                p.name,
                human_bytes(p.exclusive_bytes.unwrap_or(0))
            )
        })
        .unwrap_or_default();
    let summary = format!(
        "{} stored by {n} snapshot{} as they were taken.{biggest}",
        human_bytes(total),
        if n == 1 { "" } else { "s" }
    );
    view! {
        <section class="card storage" aria-labelledby="storage-title">
            <h2 id="storage-title">"Storage"</h2>
            <p class="muted small" data-testid="storage-summary">{summary}</p>
            <svg viewBox=format!("-12 -4 {} {}", W + 24.0, LINE_H + BAR_H + 16.0) preserveAspectRatio="none"
                role="img" aria-label="Stored bytes over time (line) and each snapshot's exclusive bytes (bars)">
                <polygon points=area class="storage-area"/>
                <polyline points=line class="storage-line"/>
                {bars}
            </svg>
            <p class="storage-legend small">
                <span class="legend-line">"stored, cumulative (max "{human_bytes(total)}")"</span>
                <span class="legend-bar">"frees if deleted (max "{human_bytes(max_excl)}")"</span>
            </p>
        </section>
    }
    .into_any()
}
