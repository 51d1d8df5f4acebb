//! `target/chaos/chaos.log` and what is printed from it: the tails when a
//! run fails and the WARN/ERROR summary of every run.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;

/// `target/chaos/chaos.log`: the driver's notes and every line the api and
/// workers print, each prefixed with the process name.
#[derive(Clone)]
pub struct Log {
    file: Arc<Mutex<std::fs::File>>,
    started: Instant,
}

impl Log {
    pub fn create(path: PathBuf) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self {
            file: Arc::new(Mutex::new(file)),
            started: Instant::now(),
        })
    }

    pub fn line(&self, who: &str, text: &str) {
        let text = strip_ansi(text);
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "[{who}] {text}");
        }
    }

    /// A driver note: printed with the elapsed time and written to the log.
    pub fn note(&self, text: &str) {
        let text = format!("[{:7.2}s] {text}", self.started.elapsed().as_secs_f64());
        println!("{text}");
        self.line("chaos", &format!("{} {text}", Utc::now().to_rfc3339()));
    }
}

/// Removes terminal colour sequences (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Warnings every run has: each `shell` job fails its first attempt.
const EXPECTED_WARNING: &str = "job failed; will retry";

/// The last `lines` lines of a log, without the expected warnings.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(EXPECTED_WARNING))
        .collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub fn print_tails(log_dir: &Path) {
    for (name, lines) in [("chaos.log", 80), ("postgres.log", 25), ("redis.log", 15)] {
        let path = log_dir.join(name);
        if path.exists() {
            println!(
                "--- tail of {} (without \"{EXPECTED_WARNING}\" lines) ---",
                path.display()
            );
            println!("{}", tail(&path, lines));
        }
    }
    println!("--- end of logs ---");
}

/// Per process, how many WARN and ERROR lines it logged, and how many of the
/// expected warnings there were.
pub fn warn_error_summary(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut expected = 0;
    for line in text.lines() {
        if line.contains(EXPECTED_WARNING) {
            expected += 1;
            continue;
        }
        let Some(who) = line.strip_prefix('[').and_then(|l| l.split(']').next()) else {
            continue;
        };
        if who == "chaos" {
            continue;
        }
        let entry = per.entry(who.to_owned()).or_default();
        if line.contains(" WARN ") {
            entry.0 += 1;
        } else if line.contains(" ERROR ") {
            entry.1 += 1;
        }
    }
    let mut parts: Vec<String> = per
        .iter()
        .filter(|(_, (w, e))| w + e > 0)
        .map(|(who, (w, e))| format!("{who}: {w} WARN, {e} ERROR"))
        .collect();
    if parts.is_empty() {
        parts.push("no WARN or ERROR".into());
    }
    parts.push(format!("plus {expected} expected \"{EXPECTED_WARNING}\""));
    parts.join("; ")
}
