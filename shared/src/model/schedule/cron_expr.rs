//! Cron expressions: 5 fields, 6 with seconds, or a shorthand, parsed with
//! the `cron` crate after rewriting what it reads differently from crontab.

use std::str::FromStr;

use chrono::NaiveDateTime;

use crate::model::FieldError;

/// A cron expression: 5 fields (minute hour day-of-month month day-of-week),
/// 6 with a seconds field first, or a shorthand (`@yearly`, `@annually`,
/// `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`).
///
/// Days of the week count the Unix way in both forms: 0–7 with Sunday as 0
/// and 7, or `SUN`–`SAT`. When both day fields are restricted (neither starts
/// with `*` or `?`), a day matching either fires, as in Vixie cron.
#[derive(Debug, Clone)]
pub struct CronExpr {
    source: String,
    /// One schedule, or two (day-of-month, day-of-week) whose fires are merged.
    schedules: Vec<cron::Schedule>,
}

impl CronExpr {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let source = raw.trim();
        let bad = |reason: String| {
            FieldError::new(
                "cron",
                format!("{source:?} is not a valid cron expression: {reason}"),
            )
        };
        let expanded = if source.starts_with('@') {
            shorthand(source).ok_or_else(|| {
                bad(
                    "unknown shorthand; expected @yearly, @annually, @monthly, @weekly, \
                     @daily, @midnight or @hourly"
                        .into(),
                )
            })?
        } else {
            source
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [second, minute, hour, day, month, weekday] = match fields[..] {
            [mi, h, d, mo, w] => ["0", mi, h, d, mo, w],
            [s, mi, h, d, mo, w] => [s, mi, h, d, mo, w],
            _ => {
                return Err(bad(format!(
                    "has {} fields; expected 5 (minute hour day-of-month month day-of-week), \
                     6 with seconds first, or a shorthand such as @hourly",
                    fields.len()
                )))
            }
        };
        let days = weekdays(weekday).map_err(bad)?;
        let either_day = !is_any(day) && !is_any(weekday);
        let variants = if either_day {
            vec![
                format!("{second} {minute} {hour} {day} {month} *"),
                format!("{second} {minute} {hour} * {month} {days}"),
            ]
        } else {
            vec![format!("{second} {minute} {hour} {day} {month} {days}")]
        };
        let schedules = variants
            .iter()
            .map(|v| cron::Schedule::from_str(v))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                let given = [second, minute, hour, day, month, weekday];
                bad(diagnose(given, [second, minute, hour, day, month, &days]))
            })?;
        Ok(Self {
            source: source.to_owned(),
            schedules,
        })
    }

    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The first wall-clock time strictly after `after` that matches. The
    /// calendar is read through UTC, which has no gaps or repeats.
    pub(super) fn next_local(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let after = after.and_utc();
        self.schedules
            .iter()
            .filter_map(|s| s.after(&after).next())
            .min()
            .map(|t| t.naive_utc())
    }
}

/// Names the first field that is wrong on its own (the crate's own message
/// only repeats the expression).
fn diagnose(given: [&str; 6], translated: [&str; 6]) -> String {
    const FIELDS: [(&str, &str); 6] = [
        ("second", "0-59"),
        ("minute", "0-59"),
        ("hour", "0-23"),
        ("day-of-month", "1-31"),
        ("month", "1-12 or JAN-DEC"),
        ("day-of-week", "0-7 or SUN-SAT"),
    ];
    for (i, (name, allowed)) in FIELDS.iter().enumerate() {
        let mut probe = ["*"; 6];
        probe[i] = translated[i];
        if cron::Schedule::from_str(&probe.join(" ")).is_err() {
            return format!(
                "the {name} field {:?} is not valid (allowed: {allowed}, with * , - and /)",
                given[i]
            );
        }
    }
    "its fields do not form a schedule".into()
}

fn shorthand(raw: &str) -> Option<&'static str> {
    Some(match raw.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

fn is_any(field: &str) -> bool {
    field.starts_with('*') || field.starts_with('?')
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Rewrites a Unix day-of-week field (Sunday = 0 or 7) as a list of names,
/// because the cron crate counts Sunday as 1 and would shift every number.
fn weekdays(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok("*".into());
    }
    let day = |raw: &str| -> Result<usize, String> {
        if let Ok(n) = raw.parse::<usize>() {
            return if n <= 7 {
                Ok(n)
            } else {
                Err(format!("day of week {n} is out of range 0-7"))
            };
        }
        DAY_NAMES
            .iter()
            .position(|name| name.eq_ignore_ascii_case(raw))
            .ok_or_else(|| format!("{raw:?} is not a day of the week (0-7 or SUN-SAT)"))
    };
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => match step.parse::<usize>() {
                Ok(step) if step > 0 => (range, Some(step)),
                _ => return Err(format!("{step:?} is not a step (a positive integer)")),
            },
            None => (item, None),
        };
        let (first, last) = match range {
            "*" | "?" => (0, 6),
            _ => match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    // `MON-SUN`: a range may end on Sunday written as 0.
                    (a, if b == 0 && a > 0 { 7 } else { b })
                }
                None if step.is_some() => (day(range)?, 6),
                None => (day(range)?, day(range)?),
            },
        };
        if first > last {
            return Err(format!("day-of-week range {range:?} runs backwards"));
        }
        for d in (first..=last).step_by(step.unwrap_or(1)) {
            days[d % 7] = true;
        }
    }
    let names: Vec<&str> = (0..7).filter(|&d| days[d]).map(|d| DAY_NAMES[d]).collect();
    Ok(names.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_expressions_name_the_cron_field_with_a_reason() {
        for bad in [
            "",
            "* * * *",
            "* * * * * * *",
            "61 * * * *",
            "* 25 * * *",
            "* * * * 8",
            "* * * * FUNDAY",
            "@fortnightly",
            "*/0 * * * *",
        ] {
            let err = CronExpr::parse(bad).expect_err(bad);
            assert_eq!(err.field, "cron", "{bad}");
            assert!(err.message.contains("not a valid cron"), "{bad}: {err}");
        }
    }
}
