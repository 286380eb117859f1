//! What `snapline-bench` reports: each tool's medians, the engine's performance bars, and
//! the table of times and ratios to Snapline.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stats::{mb, median};
use crate::tools::{Measures, TOOLS};
use crate::tree::MODIFIED_FILES;

/// The tree the tools ran on.
#[derive(Debug, Serialize)]
pub struct TreeInfo {
    /// Where it is.
    pub path: String,
    /// What kind of tree it is (given, Debian, generated).
    pub kind: String,
    /// How many copies of the base tree it holds side by side.
    pub scale: u32,
    /// Its regular files.
    pub files: u64,
    /// The sum of its regular files' sizes, in bytes.
    pub logical_bytes: u64,
    /// Bytes the change writes ([`crate::tree::Change::changed_bytes`]).
    pub changed_bytes: u64,
}

/// One of the engine's performance bars and whether this run met it.
#[derive(Debug, Serialize)]
pub struct Bar {
    /// What is measured, e.g. `incremental snapshot`.
    pub measure: String,
    /// The bar, e.g. `<= 0.10 s and <= 0.5x tar`.
    pub bar: String,
    /// The value measured, as printed.
    pub value: String,
    /// Whether the value meets the bar (false when not measured).
    pub met: bool,
    /// False when a tool the bar compares with was left out (`--only`).
    pub measured: bool,
}

/// What `snapline-bench` prints: as JSON with `--json`, else as a table
/// ([`Report::print_table`]).
#[derive(Debug, Serialize)]
pub struct Report {
    /// The tree the tools ran on.
    pub tree: TreeInfo,
    /// Runs per tool.
    pub runs: u32,
    /// Each tool's medians over its runs, by the tool's name in [`TOOLS`]; zeros for a tool
    /// left out.
    pub medians: BTreeMap<String, Measures>,
    /// The engine's performance bars.
    pub bars: Vec<Bar>,
    /// The tools that ran (not in the JSON).
    #[serde(skip)]
    pub ran: Vec<String>,
}

/// The medians of one tool's runs, measure by measure.
pub fn medians(all: &[Measures]) -> Measures {
    let f = |g: fn(&Measures) -> f64| median(all.iter().map(g).collect());
    let u = |g: fn(&Measures) -> u64| median(all.iter().map(|m| g(m) as f64).collect()) as u64;
    Measures {
        first_s: f(|m| m.first_s),
        incremental_s: f(|m| m.incremental_s),
        restore_s: f(|m| m.restore_s),
        copy_s: f(|m| m.copy_s),
        fork_s: f(|m| m.fork_s),
        copies_s: f(|m| m.copies_s),
        first_frozen_s: f(|m| m.first_frozen_s),
        incremental_frozen_s: f(|m| m.incremental_frozen_s),
        stored_after_first: u(|m| m.stored_after_first),
        added_by_incremental: u(|m| m.added_by_incremental),
        peak_rss_kib: u(|m| m.peak_rss_kib),
    }
}

impl Report {
    /// The report of the runs in `results` (each tool's figures, one per run, by the tool's
    /// name in [`TOOLS`]; a tool left out has no entry) on `tree`, `runs` runs per tool.
    pub fn new(tree: TreeInfo, runs: u32, results: &BTreeMap<&str, Vec<Measures>>) -> Report {
        let (logical, changed_bytes) = (tree.logical_bytes, tree.changed_bytes);
        let mut med: BTreeMap<String, Measures> = results
            .iter()
            .map(|(k, v)| (k.to_string(), medians(v)))
            .collect();
        // Tools left out are zeros in the JSON, "-" in the table, and their bars "not measured".
        let ran = |t: &str| results.contains_key(t);
        for t in TOOLS {
            med.entry(t.to_string()).or_default();
        }
        let s = &med["snapline"];
        let (cp, tar) = (&med["cp -a"], &med["tar"]);
        let bar = |measure: &str, bar: &str, value: String, met: bool| Bar {
            measure: measure.into(),
            bar: bar.into(),
            value,
            met,
            measured: true,
        };
        let needs = |tool: &str, b: Bar| Bar {
            measured: ran(tool),
            met: b.met && ran(tool),
            ..b
        };
        let bars = vec![
            needs(
                "tar",
                bar(
                    "incremental snapshot",
                    "<= 0.10 s and <= 0.5x tar",
                    format!(
                        "{:.3} s, {:.2}x tar",
                        s.incremental_s,
                        s.incremental_s / tar.incremental_s
                    ),
                    s.incremental_s <= 0.10 && s.incremental_s <= 0.5 * tar.incremental_s,
                ),
            ),
            bar(
                "frozen, incremental",
                "<= 0.050 s (+ runc pause/resume)",
                format!("{:.3} s", s.incremental_frozen_s),
                s.incremental_frozen_s <= 0.050,
            ),
            bar(
                "restore of that change",
                "<= 0.15 s",
                format!("{:.3} s", s.restore_s),
                s.restore_s <= 0.15,
            ),
            needs(
                "cp -a",
                bar(
                    "first snapshot",
                    "<= 1.0x cp -a",
                    format!("{:.2}x cp -a", s.first_s / cp.first_s),
                    s.first_s <= cp.first_s,
                ),
            ),
            bar(
                "stored after first",
                "<= 0.6x logical",
                format!("{:.2}x", s.stored_after_first as f64 / logical as f64),
                (s.stored_after_first as f64) <= 0.6 * logical as f64,
            ),
            bar(
                "added by incremental",
                "<= 1.2x changed bytes",
                format!(
                    "{:.2}x",
                    s.added_by_incremental as f64 / changed_bytes as f64
                ),
                (s.added_by_incremental as f64) <= 1.2 * changed_bytes as f64,
            ),
            needs(
                "cp -a",
                bar(
                    "copy",
                    "<= 1.5x cp -a",
                    format!("{:.2}x cp -a", s.copy_s / cp.copy_s),
                    s.copy_s <= 1.5 * cp.copy_s,
                ),
            ),
            bar(
                "fork into 10",
                "< 10 single copies",
                format!("{:.2}x 10 single copies", s.fork_s / s.copies_s),
                s.fork_s < s.copies_s,
            ),
        ];
        Report {
            tree,
            runs,
            medians: med,
            bars,
            ran: results.keys().map(|t| t.to_string()).collect(),
        }
    }

    /// Prints the report as a table on stdout: the tree and the change (`deleted` is how many
    /// files the change deleted), each measure's medians with the ratio to Snapline, stored
    /// bytes and peak RSS, then the bars.
    pub fn print_table(&self, deleted: usize) {
        let med = &self.medians;
        let s = &med["snapline"];
        let ran = |t: &str| self.ran.iter().any(|r| r == t);
        println!(
            "Tree: {} ({}), scale {}, {} files, {} logical; change: {} files modified, {} deleted, 5 MiB added ({} changed)",
            self.tree.path,
            self.tree.kind,
            self.tree.scale,
            self.tree.files,
            mb(self.tree.logical_bytes),
            MODIFIED_FILES,
            deleted,
            mb(self.tree.changed_bytes)
        );
        println!("Medians of {} runs (ratio = tool / snapline):\n", self.runs);
        println!(
            "{:<24}{:>16}{:>22}{:>22}{:>22}",
            "measure", "snapline", "cp -a", "tar", "restic"
        );
        let row_s = |name: &str, g: fn(&Measures) -> f64| {
            let base = g(s);
            let cell = |t: &str| {
                let v = g(&med[t]);
                if ran(t) {
                    format!("{v:.3} s ({:.1}x)", v / base)
                } else {
                    "-".to_string()
                }
            };
            println!(
                "{:<24}{:>16}{:>22}{:>22}{:>22}",
                name,
                format!("{base:.3} s"),
                cell("cp -a"),
                cell("tar"),
                cell("restic")
            );
        };
        row_s("first snapshot", |m| m.first_s);
        row_s("incremental snapshot", |m| m.incremental_s);
        // Only Snapline freezes a running container; the others read it as it changes.
        for (name, g) in [
            (
                "  frozen (first)",
                (|m: &Measures| m.first_frozen_s) as fn(&Measures) -> f64,
            ),
            ("  frozen (incremental)", |m: &Measures| {
                m.incremental_frozen_s
            }),
        ] {
            println!(
                "{:<24}{:>16}{:>22}{:>22}{:>22}",
                name,
                format!("{:.3} s", g(s)),
                "no freeze",
                "no freeze",
                "no freeze"
            );
        }
        row_s("restore", |m| m.restore_s);
        row_s("copy", |m| m.copy_s);
        // Forks: Snapline's one call against its own single copies and cp -a; tar and
        // restic have no such operation here.
        for (name, g) in [
            (
                "fork into 10",
                (|m: &Measures| m.fork_s) as fn(&Measures) -> f64,
            ),
            ("10 single copies", |m: &Measures| m.copies_s),
        ] {
            let base = g(s);
            let cp = if ran("cp -a") {
                let v = g(&med["cp -a"]);
                format!("{v:.3} s ({:.1}x)", v / base)
            } else {
                "-".to_string()
            };
            println!(
                "{:<24}{:>16}{:>22}{:>22}{:>22}",
                name,
                format!("{base:.3} s"),
                cp,
                "n/a",
                "n/a"
            );
        }
        let row_b = |name: &str, g: fn(&Measures) -> u64| {
            let cell = |t: &str| {
                if ran(t) {
                    mb(g(&med[t]))
                } else {
                    "-".to_string()
                }
            };
            println!(
                "{:<24}{:>16}{:>22}{:>22}{:>22}",
                name,
                mb(g(s)),
                cell("cp -a"),
                cell("tar"),
                cell("restic")
            );
        };
        row_b("stored after first", |m| m.stored_after_first);
        row_b("added by incremental", |m| m.added_by_incremental);
        row_b("peak RSS", |m| m.peak_rss_kib * 1024);
        println!("\nBars:");
        for b in &self.bars {
            println!(
                "  [{}] {:<24} {:<28} measured {}",
                match (b.measured, b.met) {
                    (false, _) => "not measured",
                    (true, true) => "met",
                    (true, false) => "NOT MET",
                },
                b.measure,
                b.bar,
                b.value
            );
        }
    }
}
