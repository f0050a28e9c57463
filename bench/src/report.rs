//! The results table every scenario produces: one row per measured metric,
//! next to the baseline it is judged against (raw etcd, mostly), their ratio,
//! the target from the issue and whether it was met. Printed aligned for a
//! terminal and as Markdown for a report file; later scenarios append their own
//! reports and `all` concatenates them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const HEADER: [&str; 7] = ["scenario", "metric", "value", "baseline", "ratio", "target", "met?"];

/// One measured metric.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    pub value: String,
    /// What the value is compared with, e.g. `8,120/s (etcd put)`; empty when none.
    pub baseline: String,
    pub ratio: String,
    /// The goal as the issue states it, e.g. `≥ 0.5x`; empty when the row only informs.
    pub target: String,
    /// None for rows without a target.
    pub met: Option<bool>,
}

impl Row {
    pub fn new(scenario: &str, metric: impl Into<String>, value: impl Into<String>) -> Self {
        Row { scenario: scenario.to_string(), metric: metric.into(), value: value.into(), ..Row::default() }
    }

    pub fn baseline(mut self, baseline: impl Into<String>, ratio: impl Into<String>) -> Self {
        self.baseline = baseline.into();
        self.ratio = ratio.into();
        self
    }

    pub fn target(mut self, target: impl Into<String>, met: bool) -> Self {
        self.target = target.into();
        self.met = Some(met);
        self
    }

    fn cells(&self) -> [&str; 7] {
        let met = match self.met {
            None => "",
            Some(true) => "yes",
            Some(false) => "NO",
        };
        [&self.scenario, &self.metric, &self.value, &self.baseline, &self.ratio, &self.target, met]
    }
}

/// A scenario's results: the rows, notes on how they were measured, and the
/// errors that make some of them untrustworthy.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub title: String,
    pub rows: Vec<Row>,
    /// Conditions of the run (sizes, concurrency, caveats), printed under the table.
    pub notes: Vec<String>,
    /// What failed: a phase that could not run, operations that returned errors.
    pub errors: Vec<String>,
}

impl Report {
    pub fn new(title: impl Into<String>) -> Self {
        Report { title: title.into(), ..Report::default() }
    }

    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn error(&mut self, error: impl Into<String>) {
        self.errors.push(error.into());
    }

    /// Whether every row that has a target met it.
    pub fn targets_met(&self) -> bool {
        self.rows.iter().all(|r| r.met != Some(false))
    }

    /// The first row reporting `metric`.
    pub fn row(&self, metric: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.metric == metric)
    }

    /// The table for a terminal: columns padded to their widest cell.
    pub fn to_text(&self) -> String {
        let mut widths = HEADER.map(width);
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row.cells()) {
                *w = (*w).max(width(cell));
            }
        }
        let mut out = String::new();
        writeln!(out, "{}", self.title).expect("write to String");
        let line = |out: &mut String, cells: [&str; 7]| {
            let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| pad(c, w)).collect();
            writeln!(out, "{}", padded.join(" | ").trim_end()).expect("write to String");
        };
        line(&mut out, HEADER);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        writeln!(out, "{}", rule.join("-+-")).expect("write to String");
        for row in &self.rows {
            line(&mut out, row.cells());
        }
        self.write_trailer(&mut out, "");
        out
    }

    /// The table as Markdown, for report files.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        writeln!(out, "## {}\n", self.title).expect("write to String");
        writeln!(out, "| {} |", HEADER.join(" | ")).expect("write to String");
        writeln!(out, "|{}", "---|".repeat(HEADER.len())).expect("write to String");
        for row in &self.rows {
            let cells: Vec<String> = row.cells().iter().map(|c| c.replace('|', "\\|")).collect();
            writeln!(out, "| {} |", cells.join(" | ")).expect("write to String");
        }
        if !self.notes.is_empty() || !self.errors.is_empty() {
            out.push('\n');
        }
        self.write_trailer(&mut out, "- ");
        out
    }

    fn write_trailer(&self, out: &mut String, bullet: &str) {
        for note in &self.notes {
            writeln!(out, "{bullet}{note}").expect("write to String");
        }
        for error in &self.errors {
            writeln!(out, "{bullet}ERROR: {error}").expect("write to String");
        }
    }

    /// Writes the Markdown table to `<dir>/<file>`, creating `dir`. Returns the path.
    pub fn write_markdown(&self, dir: &Path, file: &str) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(file);
        std::fs::write(&path, self.to_markdown())?;
        Ok(path)
    }
}

/// Display width in characters: `µs` is two bytes but one column.
fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::new("api: apiserver vs raw etcd");
        r.push(
            Row::new("api", "creates/s", "4,100/s").baseline("8,000/s (etcd put)", "0.51x").target("≥ 0.5x etcd", true),
        );
        r.push(Row::new("api", "watch delivery p99", "35.0 ms").target("< 20 ms", false));
        r.push(Row::new("api", "list 1000 pods p50", "850 µs"));
        r.note("50 clients");
        r
    }

    #[test]
    fn text_columns_line_up() {
        let text = sample().to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "api: apiserver vs raw etcd");
        // Every separator of the header sits at the same column in every row.
        let bars = |l: &str| l.chars().enumerate().filter(|(_, c)| *c == '|').map(|(i, _)| i).collect::<Vec<_>>();
        let header = bars(lines[1]);
        assert_eq!(header.len(), 6);
        for line in &lines[3..6] {
            assert_eq!(bars(line), header, "{line}");
        }
        assert!(lines[2].starts_with("---"), "{}", lines[2]);
        assert!(text.contains("| yes"), "{text}");
        assert!(text.contains("| NO"), "{text}");
        assert_eq!(lines[6], "50 clients");
    }

    #[test]
    fn markdown_is_a_table_and_escapes_pipes() {
        let mut r = sample();
        r.push(Row::new("api", "a|b", "1"));
        r.error("gets: 2 of 10 failed");
        let md = r.to_markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "## api: apiserver vs raw etcd");
        assert_eq!(lines[2], "| scenario | metric | value | baseline | ratio | target | met? |");
        assert_eq!(lines[3], "|---|---|---|---|---|---|---|");
        assert_eq!(lines[4], "| api | creates/s | 4,100/s | 8,000/s (etcd put) | 0.51x | ≥ 0.5x etcd | yes |");
        assert!(md.contains("| api | a\\|b | 1 |"), "{md}");
        assert!(md.contains("- 50 clients"), "{md}");
        assert!(md.contains("- ERROR: gets: 2 of 10 failed"), "{md}");
    }

    #[test]
    fn targets_met_only_when_no_row_missed() {
        let mut r = sample();
        assert!(!r.targets_met());
        r.rows.retain(|row| row.met != Some(false));
        assert!(r.targets_met());
        assert_eq!(r.row("creates/s").map(|row| row.value.as_str()), Some("4,100/s"));
    }

    #[test]
    fn markdown_is_written_to_the_out_dir() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("bench-report");
        let path = sample().write_markdown(&out, "api.md").expect("write");
        assert_eq!(path, out.join("api.md"));
        assert_eq!(std::fs::read_to_string(path).expect("read"), sample().to_markdown());
    }
}
