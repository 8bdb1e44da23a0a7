//! Results: one row per figure, with the machine's ceiling beside it where there is one and
//! the target where there is one; printed as a table and written as JSON.
//!
//! A verdict is informative only: nothing here fails a run because of a timing.

use std::{io::Write, path::PathBuf};

use serde::Serialize;

use crate::{machine::Machine, procfs::Usage};

/// Whether a bigger or a smaller value is better, for ratios and targets.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// As the issue states it, e.g. "≥ 0.5 × ceiling".
    pub text: String,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: &'static str,
    pub case: String,
    pub metric: String,
    pub value: f64,
    pub unit: &'static str,
    pub better: Better,
    /// The same measurement against the no-op server (or the sink, or the simulator).
    pub ceiling: Option<f64>,
    /// `value / ceiling`.
    pub ratio: Option<f64>,
    pub target: Option<Target>,
    pub note: Option<String>,
}

impl Row {
    pub fn new(scenario: &'static str, case: impl Into<String>, metric: impl Into<String>, value: f64) -> Self {
        Self {
            scenario,
            case: case.into(),
            metric: metric.into(),
            value,
            unit: "",
            better: Better::Higher,
            ceiling: None,
            ratio: None,
            target: None,
            note: None,
        }
    }

    pub fn unit(mut self, unit: &'static str) -> Self {
        self.unit = unit;
        self
    }

    pub fn lower_is_better(mut self) -> Self {
        self.better = Better::Lower;
        self
    }

    pub fn ceiling(mut self, ceiling: f64) -> Self {
        self.ceiling = Some(ceiling);
        self.ratio = (ceiling > 0.0).then(|| self.value / ceiling);
        self
    }

    /// A target on the value itself: at least (or, when lower is better, at most) `bound`.
    pub fn target(mut self, text: impl Into<String>, bound: f64) -> Self {
        let met = match self.better {
            Better::Higher => self.value >= bound,
            Better::Lower => self.value <= bound,
        };
        self.target = Some(Target { text: text.into(), met });
        self
    }

    /// A target on the ratio to the ceiling: at least `bound`.
    pub fn ratio_target(mut self, text: impl Into<String>, bound: f64) -> Self {
        let met = self.ratio.is_some_and(|r| r >= bound);
        self.target = Some(Target { text: text.into(), met });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        let note = note.into();
        self.note = Some(match self.note.take() {
            Some(before) => format!("{before}; {note}"),
            None => note,
        });
        self
    }
}

/// One invocation's results.
#[derive(Debug, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub scenario: String,
    pub database: String,
    pub started_at: String,
    pub command: Vec<String>,
    pub machine: Machine,
    /// The sizes, durations and hub settings the run used.
    pub options: serde_json::Value,
    pub rows: Vec<Row>,
    /// What each measured phase used of the machine, by name.
    pub usage: Vec<(String, Usage)>,
}

impl Report {
    pub fn new(scenario: &str, database: &str, machine: Machine) -> Self {
        Self {
            tool: concat!("tributary-bench ", env!("CARGO_PKG_VERSION")),
            scenario: scenario.to_string(),
            database: database.to_string(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            command: std::env::args().collect(),
            machine,
            options: serde_json::Value::Null,
            rows: Vec::new(),
            usage: Vec::new(),
        }
    }

    /// Adds a row and prints it at once, so a long run shows progress.
    pub fn add(&mut self, row: Row) {
        println!("  {}", format_row(&row));
        self.rows.push(row);
    }

    /// Records a phase's usage, adds the server's peak memory as a row and prints the CPU
    /// each party used. `server` names the process under load.
    pub fn usage(&mut self, scenario: &'static str, case: &str, usage: Usage, server: &str) {
        self.add(
            Row::new(
                scenario,
                case,
                format!("peak RSS ({server})"),
                usage.server_peak_rss_mib,
            )
            .unit("MiB")
            .lower_is_better(),
        );
        let mut cpu = format!(
            "{server} {:.2}, bench {:.2}, others {:.2}, machine busy {:.2}, iowait {:.2}",
            usage.server_cores,
            usage.bench_cores,
            usage.other_cores,
            usage.machine_busy_cores,
            usage.machine_iowait_cores
        );
        if usage.postgres_cores > 0.0 {
            cpu.push_str(&format!(", postgres {:.2}", usage.postgres_cores));
        }
        println!("    cores used over {:.1} s: {cpu}", usage.seconds);
        self.usage.push((format!("{scenario}: {case}"), usage));
    }

    pub fn print_table(&self) {
        println!();
        println!("{}", self.machine.headline());
        println!("scenario {} on {}", self.scenario, self.database);
        let header = format!(
            "{:<9} {:<36} {:<20} {:>10} {:<16} {:>10} {:>8}  {:<24} {}",
            "scenario", "case", "metric", "value", "unit", "ceiling", "ratio", "target", "note"
        );
        println!("{header}");
        println!("{}", "-".repeat(header.len().max(130)));
        for row in &self.rows {
            println!("{}", format_row(row));
        }
    }

    /// Writes `<dir>/<scenario>-<database>-<timestamp>.json` and returns its path.
    pub fn write_json(&self, dir: &std::path::Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let stamp = self.started_at.replace(':', "");
        let path = dir.join(format!("{}-{}-{stamp}.json", self.scenario, self.database));
        let mut file = std::fs::File::create(&path)?;
        serde_json::to_writer_pretty(&mut file, self)?;
        file.write_all(b"\n")?;
        Ok(path)
    }
}

fn format_row(row: &Row) -> String {
    let ceiling = row.ceiling.map(figure).unwrap_or_default();
    let ratio = row.ratio.map(|r| format!("{r:.3}×")).unwrap_or_default();
    let target = row
        .target
        .as_ref()
        .map(|t| format!("{} {}", t.text, if t.met { "MET" } else { "MISSED" }))
        .unwrap_or_default();
    format!(
        "{:<9} {:<36} {:<20} {:>10} {:<16} {:>10} {:>8}  {:<24} {}",
        row.scenario,
        row.case,
        row.metric,
        figure(row.value),
        row.unit,
        ceiling,
        ratio,
        target,
        row.note.as_deref().unwrap_or("")
    )
}

/// Three significant figures at most, without a fraction for large numbers.
fn figure(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}
