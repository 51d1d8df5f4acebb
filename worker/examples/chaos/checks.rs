//! The verdict: every check with its outcome, the final SQL checks on the
//! figures, and the closing `chaos: N passed, M failed` line.

use std::process::ExitCode;

use crate::report::Figures;

#[derive(Default)]
pub struct Checks {
    items: Vec<(bool, String)>,
}

impl Checks {
    pub fn check(&mut self, ok: bool, what: impl Into<String>) {
        self.items.push((ok, what.into()));
    }

    pub fn failed(&self) -> usize {
        self.items.iter().filter(|(ok, _)| !ok).count()
    }

    /// Every job succeeded exactly once, the counts add up, every fault
    /// fired, and the processes neither died nor refused to stop.
    pub fn judge(&mut self, f: &Figures, exits: &[String], shutdown_problems: &[String]) {
        let Figures {
            n,
            submission_finished,
            sum,
            rows,
            not_succeeded,
            duplicates,
            without_success,
            open_attempts,
            unknown_rows,
            missing_rows,
            foreign,
            kills,
            flushes,
            restarts,
        } = *f;
        self.check(
            not_succeeded == 0,
            format!("all succeeded: {not_succeeded} jobs should have succeeded but did not"),
        );
        self.check(duplicates == 0, format!("duplicates: {duplicates}"));
        self.check(
            without_success == 0,
            format!("{without_success} succeeded jobs have no succeeded attempt"),
        );
        self.check(
            open_attempts == 0,
            format!("{open_attempts} attempts still open (outcome running)"),
        );
        self.check(
            sum == n && rows == n && unknown_rows == 0 && missing_rows == 0 && foreign == 0,
            if submission_finished {
                format!(
                    "counts add up: statuses sum to {sum}, {rows} rows, {n} submitted, {unknown_rows} rows the api did not return, {missing_rows} returned ids missing, {foreign} rows not planned"
                )
            } else {
                format!(
                    "counts add up: statuses sum to {sum}, {rows} rows, {n} planned (submission unfinished), {foreign} rows not planned"
                )
            },
        );
        self.check(
            kills == 2 && flushes == 1 && restarts == 1,
            format!("events: kills {kills}/2, flushes {flushes}/1, pg restarts {restarts}/1"),
        );
        self.check(
            exits.is_empty(),
            if exits.is_empty() {
                "no process exited unexpectedly".to_owned()
            } else {
                format!("unexpected exits: {}", exits.join("; "))
            },
        );
        self.check(
            shutdown_problems.is_empty(),
            if shutdown_problems.is_empty() {
                "clean shutdown on SIGTERM".to_owned()
            } else {
                format!("shutdown: {}", shutdown_problems.join("; "))
            },
        );
    }

    /// Prints every check and the closing line; the exit status is success
    /// only if every check passed.
    pub fn print(&self) -> ExitCode {
        println!();
        println!("checks:");
        for (ok, what) in &self.items {
            println!("  {} {what}", if *ok { "ok  " } else { "FAIL" });
        }
        let failed = self.failed();
        println!(
            "chaos: {} passed, {failed} failed",
            self.items.len() - failed
        );
        if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}
