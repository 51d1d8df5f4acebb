//! The command line:
//! `chaos [--short] [--full-speed] [--jobs N] [--timeout SECS] [--seed S]`.

use std::time::Duration;

use chrono::Utc;

pub struct Options {
    pub jobs: usize,
    pub timeout: Duration,
    pub seed: u64,
    /// No-op jobs only, all submitted before the workers start, drained by
    /// the benchmark's workers (2 x 256 slots) while the faults fire.
    pub full_speed: bool,
}

impl Options {
    /// The workers started at first (a killed one is replaced) and the
    /// slots of each.
    pub fn shape(&self) -> (usize, usize) {
        if self.full_speed {
            (2, 256)
        } else {
            (3, 16)
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: chaos [--short] [--full-speed] [--jobs N] [--timeout SECS] [--seed S]");
    std::process::exit(2);
}

/// Parses the arguments; prints the usage and exits with status 2 on a bad
/// one.
pub fn options() -> Options {
    let mut o = Options {
        jobs: 10_000,
        timeout: Duration::from_secs(600),
        seed: Utc::now().timestamp_micros() as u64,
        full_speed: false,
    };
    let mut jobs = None;
    let mut short = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || -> u64 {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("chaos: {arg} needs a non-negative integer");
                usage()
            })
        };
        match arg.as_str() {
            "--short" => short = true,
            "--full-speed" => o.full_speed = true,
            "--jobs" => jobs = Some(value() as usize),
            "--timeout" => o.timeout = Duration::from_secs(value()),
            "--seed" => o.seed = value(),
            "-h" | "--help" => usage(),
            other => {
                eprintln!("chaos: unknown option {other}");
                usage()
            }
        }
    }
    o.jobs = jobs.unwrap_or(match (o.full_speed, short) {
        (true, true) => 50_000,
        (true, false) => 200_000,
        (false, true) => 2_000,
        (false, false) => 10_000,
    });
    if o.jobs == 0 {
        eprintln!("chaos: --jobs must be at least 1");
        usage()
    }
    o
}
