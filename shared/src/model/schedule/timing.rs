//! When a schedule fires: a cron expression read on the wall clock of an IANA
//! time zone, or one instant. The daylight-saving rules live here, in
//! [`Timing::next_after`]; `docs/schedules.md` states them for users.

use std::collections::VecDeque;
use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

use super::CronExpr;
use crate::model::FieldError;

/// What a schedule's time is: a cron expression or one instant.
#[derive(Debug, Clone)]
pub enum When {
    Cron(CronExpr),
    Once(DateTime<Utc>),
}

/// When a schedule fires, and the time zone its wall clock is read in (for a
/// one-time schedule, the zone only shows its time to people).
#[derive(Debug, Clone)]
pub struct Timing {
    pub when: When,
    pub zone: Tz,
}

/// Parses an IANA time zone name (`Europe/Berlin`, `UTC`).
pub fn parse_zone(raw: &str) -> Result<Tz, FieldError> {
    Tz::from_str(raw).map_err(|_| {
        FieldError::new(
            "timezone",
            format!(
                "unknown time zone {raw:?}: expected an IANA name such as Europe/Berlin or UTC"
            ),
        )
    })
}

/// Parses an RFC 3339 time with an offset, to the microsecond Postgres keeps.
pub fn parse_instant(field: &str, raw: &str) -> Result<DateTime<Utc>, FieldError> {
    let at = DateTime::parse_from_rfc3339(raw).map_err(|e| {
        FieldError::new(
            field,
            format!("must be an ISO 8601 time with offset, e.g. 2030-01-01T09:00:00Z ({e})"),
        )
    })?;
    let micros = at.timestamp_micros();
    DateTime::from_timestamp_micros(micros).ok_or_else(|| FieldError::new(field, "is out of range"))
}

impl Timing {
    /// The timing fields of a request: `cron` or `run_at` (exactly one), and
    /// `timezone` (default UTC). Errors name the field.
    pub fn parse(
        cron: Option<&str>,
        timezone: Option<&str>,
        run_at: Option<&str>,
    ) -> Result<Self, FieldError> {
        let zone = parse_zone(timezone.unwrap_or("UTC"))?;
        let when = match (cron, run_at) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "run_at",
                    "give either cron (repeating) or run_at (once), not both",
                ))
            }
            (Some(expr), None) => When::Cron(CronExpr::parse(expr)?),
            (None, Some(raw)) => When::Once(parse_instant("run_at", raw)?),
            (None, None) => {
                return Err(FieldError::new(
                    "cron",
                    "give cron (a repeating schedule) or run_at (a single time)",
                ))
            }
        };
        Ok(Self { when, zone })
    }

    /// The cron expression, if it repeats.
    pub fn cron(&self) -> Option<&str> {
        match &self.when {
            When::Cron(expr) => Some(expr.as_str()),
            When::Once(_) => None,
        }
    }

    /// The single fire time, if it is a one-time schedule.
    pub fn run_at(&self) -> Option<DateTime<Utc>> {
        match self.when {
            When::Cron(_) => None,
            When::Once(at) => Some(at),
        }
    }

    /// The first fire strictly after `after`, or None when there is none.
    ///
    /// A cron expression matches wall-clock times in the zone. A time that
    /// occurs once fires then; one that occurs twice (the clocks went back)
    /// fires once, at its first occurrence; one that does not exist (the
    /// clocks went forward) fires at the end of the gap. Several wall-clock
    /// times that land on the same instant fire once.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        /// Enough to step over every second of a repeated hour or two.
        const MAX_STEPS: usize = 20_000;
        let expr = match &self.when {
            When::Once(at) => return (*at > after).then_some(*at),
            When::Cron(expr) => expr,
        };
        // The wall-clock time of `after` stands for an instant at or before
        // `after` (the first occurrence, if it repeats), so no fire is missed.
        let mut local = after.with_timezone(&self.zone).naive_local();
        for _ in 0..MAX_STEPS {
            local = expr.next_local(local)?;
            if let Some(at) = instant_of(self.zone, local).filter(|at| *at > after) {
                return Some(at);
            }
        }
        None
    }

    /// The first fire after `now`, or an error naming why there is none: a
    /// `run_at` in the past (unless it equals `kept`, a stored time an update
    /// leaves alone), or an expression that never matches again.
    pub fn first_after(
        &self,
        now: DateTime<Utc>,
        kept: Option<DateTime<Utc>>,
    ) -> Result<Option<DateTime<Utc>>, FieldError> {
        match (&self.when, self.next_after(now)) {
            (_, Some(at)) => Ok(Some(at)),
            (When::Once(at), None) if kept == Some(*at) => Ok(None),
            (When::Once(at), None) => Err(FieldError::new(
                "run_at",
                format!(
                    "{} is in the past; a one-time schedule needs a future time",
                    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
                ),
            )),
            (When::Cron(_), None) => Err(FieldError::new(
                "cron",
                "never matches a future time (such as the 30th of February)",
            )),
        }
    }

    /// The next `count` fires after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut fires = Vec::with_capacity(count);
        let mut cursor = after;
        while fires.len() < count {
            let Some(at) = self.next_after(cursor) else {
                break;
            };
            fires.push(at);
            cursor = at;
        }
        fires
    }

    /// The fires in `[from, to]`, oldest first, at most `limit`.
    pub fn fires_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut fires = Vec::new();
        let mut cursor = from - Duration::microseconds(1);
        while fires.len() < limit {
            match self.next_after(cursor) {
                Some(at) if at <= to => {
                    fires.push(at);
                    cursor = at;
                }
                _ => break,
            }
        }
        fires
    }

    /// The last `count` fires in `[from, before)`, oldest first. Looks back
    /// over a window that doubles until it holds enough, so a long outage of
    /// a frequent schedule costs no more than the fires it keeps.
    pub fn latest_fires(
        &self,
        from: DateTime<Utc>,
        before: DateTime<Utc>,
        count: usize,
    ) -> Vec<DateTime<Utc>> {
        if count == 0 || from >= before {
            return Vec::new();
        }
        let mut window = Duration::minutes(1);
        loop {
            let start = before
                .checked_sub_signed(window)
                .map_or(from, |s| s.max(from));
            let mut kept = VecDeque::with_capacity(count);
            let mut cursor = start - Duration::microseconds(1);
            while let Some(at) = self.next_after(cursor).filter(|at| *at < before) {
                if kept.len() == count {
                    kept.pop_front();
                }
                kept.push_back(at);
                cursor = at;
            }
            if kept.len() == count || start == from {
                return kept.into();
            }
            window = window * 2;
        }
    }

    /// `at` on the wall clock of the zone, RFC 3339 with its offset.
    pub fn local(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .to_rfc3339_opts(SecondsFormat::AutoSi, false)
    }
}

/// The instant a wall-clock time stands for in `zone`: the first of two when
/// it repeats, the end of the gap when it was skipped.
fn instant_of(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Some(at.with_timezone(&Utc)),
        LocalResult::None => gap_end(zone, local),
    }
}

/// The instant the clocks were set forward across `local`: minute steps to
/// the first wall-clock time that exists, then second steps back to the
/// exact end of the gap. (Gaps last at most a day.)
fn gap_end(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let exists = |t: NaiveDateTime| zone.from_local_datetime(&t).earliest();
    let mut probe = local;
    let mut end = None;
    for _ in 0..2 * 24 * 60 {
        probe += Duration::minutes(1);
        if let Some(at) = exists(probe) {
            end = Some(at);
            break;
        }
    }
    let mut end = end?;
    for _ in 0..60 {
        probe -= Duration::seconds(1);
        match exists(probe) {
            Some(at) if probe > local => end = at,
            _ => break,
        }
    }
    Some(end.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn timing(cron: &str, zone: &str) -> Timing {
        Timing::parse(Some(cron), Some(zone), None).expect("timing")
    }

    fn fires(cron: &str, zone: &str, from: &str, to: &str) -> Vec<String> {
        timing(cron, zone)
            .fires_between(utc(from), utc(to), 1000)
            .into_iter()
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .collect()
    }

    #[test]
    fn five_fields_equal_six_with_second_zero() {
        for (five, six) in [
            ("*/10 * * * *", "0 */10 * * * *"),
            ("30 9 * * 1-5", "0 30 9 * * 1-5"),
            ("0 0 1,15 * *", "0 0 0 1,15 * *"),
            ("15 3 * * 0", "0 15 3 * * 7"),
        ] {
            let from = "2026-01-01T00:00:00Z";
            let to = "2026-03-01T00:00:00Z";
            let a = fires(five, "Europe/Berlin", from, to);
            assert!(!a.is_empty(), "{five}");
            assert_eq!(a, fires(six, "Europe/Berlin", from, to), "{five} vs {six}");
        }
    }

    #[test]
    fn shorthands_mean_their_five_field_forms() {
        for (short, long) in [
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
            ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@hourly", "0 * * * *"),
        ] {
            let from = "2026-01-01T00:00:00Z";
            let to = "2028-01-01T00:00:00Z";
            let a = timing(short, "UTC").fires_between(utc(from), utc(to), 5000);
            let b = timing(long, "UTC").fires_between(utc(from), utc(to), 5000);
            assert!(!a.is_empty(), "{short}");
            assert_eq!(a, b, "{short}");
        }
        assert_eq!(
            fires(
                "@weekly",
                "UTC",
                "2026-11-20T00:00:00Z",
                "2026-11-30T00:00:00Z"
            ),
            ["2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"] // Sundays
        );
    }

    #[test]
    fn days_of_week_count_from_sunday_zero() {
        // 2026-11-23 is a Monday.
        let week = ("2026-11-22T00:00:00Z", "2026-11-28T23:59:59Z");
        assert_eq!(
            fires("0 12 * * 1-5", "UTC", week.0, week.1).len(),
            5,
            "Monday to Friday"
        );
        assert_eq!(
            fires("0 12 * * MON-FRI", "UTC", week.0, week.1),
            fires("0 12 * * 1-5", "UTC", week.0, week.1)
        );
        assert_eq!(
            fires("0 12 * * 0", "UTC", week.0, week.1),
            ["2026-11-22T12:00:00Z"]
        );
        assert_eq!(
            fires("0 12 * * 5-7", "UTC", week.0, week.1),
            [
                "2026-11-22T12:00:00Z",
                "2026-11-27T12:00:00Z",
                "2026-11-28T12:00:00Z"
            ]
        );
    }

    #[test]
    fn both_day_fields_restricted_fire_on_either() {
        // The 1st of the month, and every Monday (Vixie cron).
        let got = fires(
            "0 9 1 * 1",
            "UTC",
            "2026-11-25T00:00:00Z",
            "2026-12-10T00:00:00Z",
        );
        assert_eq!(
            got,
            [
                "2026-11-30T09:00:00Z",
                "2026-12-01T09:00:00Z",
                "2026-12-07T09:00:00Z"
            ]
        );
    }

    #[test]
    fn timing_needs_exactly_one_of_cron_and_run_at_and_a_known_zone() {
        let field = |r: Result<Timing, FieldError>| r.expect_err("invalid").field;
        assert_eq!(field(Timing::parse(None, None, None)), "cron");
        assert_eq!(
            field(Timing::parse(
                Some("* * * * *"),
                None,
                Some("2030-01-01T00:00:00Z")
            )),
            "run_at"
        );
        assert_eq!(
            field(Timing::parse(Some("* * * * *"), Some("Mars/Olympus"), None)),
            "timezone"
        );
        assert_eq!(field(Timing::parse(None, None, Some("tomorrow"))), "run_at");
    }

    #[test]
    fn berlin_spring_forward_fires_once_at_the_end_of_the_gap() {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00Z).
        assert_eq!(
            fires(
                "30 2 * * *",
                "Europe/Berlin",
                "2026-03-27T12:00:00Z",
                "2026-03-30T12:00:00Z"
            ),
            [
                "2026-03-28T01:30:00Z", // 02:30 CET
                "2026-03-29T01:00:00Z", // 02:30 does not exist: 03:00 CEST
                "2026-03-30T00:30:00Z", // 02:30 CEST
            ]
        );
        // Every quarter hour: 02:00-02:45 all land on 03:00, which fires once.
        assert_eq!(
            fires(
                "*/15 * * * *",
                "Europe/Berlin",
                "2026-03-29T00:30:00Z",
                "2026-03-29T01:30:00Z"
            ),
            [
                "2026-03-29T00:30:00Z", // 01:30 CET
                "2026-03-29T00:45:00Z", // 01:45 CET
                "2026-03-29T01:00:00Z", // 03:00 CEST
                "2026-03-29T01:15:00Z",
                "2026-03-29T01:30:00Z",
            ]
        );
    }

    #[test]
    fn berlin_fall_back_fires_a_repeated_time_once_at_the_first() {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:00-02:59 happen twice.
        assert_eq!(
            fires(
                "30 2 * * *",
                "Europe/Berlin",
                "2026-10-24T12:00:00Z",
                "2026-10-26T12:00:00Z"
            ),
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
        );
        assert_eq!(
            fires(
                "0 * * * *",
                "Europe/Berlin",
                "2026-10-24T23:00:00Z",
                "2026-10-25T03:00:00Z"
            ),
            [
                "2026-10-24T23:00:00Z", // 01:00 CEST
                "2026-10-25T00:00:00Z", // 02:00 CEST; 02:00 CET (01:00Z) is a repeat
                "2026-10-25T02:00:00Z", // 03:00 CET
                "2026-10-25T03:00:00Z",
            ]
        );
    }

    #[test]
    fn new_york_spring_forward_and_fall_back() {
        // 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z).
        assert_eq!(
            fires(
                "30 2 * * *",
                "America/New_York",
                "2026-03-07T00:00:00Z",
                "2026-03-09T23:00:00Z"
            ),
            [
                "2026-03-07T07:30:00Z",
                "2026-03-08T07:00:00Z",
                "2026-03-09T06:30:00Z"
            ]
        );
        // 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:00-01:59 happen twice.
        assert_eq!(
            fires(
                "30 1 * * *",
                "America/New_York",
                "2026-10-31T00:00:00Z",
                "2026-11-02T23:00:00Z"
            ),
            [
                "2026-10-31T05:30:00Z",
                "2026-11-01T05:30:00Z", // 01:30 EDT, not 01:30 EST (06:30Z)
                "2026-11-02T06:30:00Z"
            ]
        );
    }

    #[test]
    fn a_fire_after_an_instant_in_a_repeated_hour_is_the_next_new_time() {
        // 01:45Z is 02:45 CET, the second 02:45 of the night: 02:50 has
        // already fired (at 00:50Z), so the next fire is the next day's.
        let t = timing("50 2 * * *", "Europe/Berlin");
        assert_eq!(
            t.next_after(utc("2026-10-25T01:45:00Z")),
            Some(utc("2026-10-26T01:50:00Z"))
        );
        assert_eq!(
            t.next_after(utc("2026-10-25T00:45:00Z")),
            Some(utc("2026-10-25T00:50:00Z"))
        );
    }

    #[test]
    fn one_time_fires_once() {
        let t = Timing::parse(
            None,
            Some("Europe/Berlin"),
            Some("2030-06-01T09:00:00+02:00"),
        )
        .expect("timing");
        let at = utc("2030-06-01T07:00:00Z");
        assert_eq!(t.next_after(utc("2030-01-01T00:00:00Z")), Some(at));
        assert_eq!(t.next_after(at), None);
        assert_eq!(t.local(at), "2030-06-01T09:00:00+02:00");
    }

    #[test]
    fn latest_fires_finds_the_end_of_a_long_outage() {
        let t = timing("* * * * * *", "UTC");
        let from = utc("2026-01-01T00:00:00Z");
        let before = utc("2026-02-01T00:00:00Z");
        assert_eq!(
            t.latest_fires(from, before, 3),
            [
                utc("2026-01-31T23:59:57Z"),
                utc("2026-01-31T23:59:58Z"),
                utc("2026-01-31T23:59:59Z")
            ]
        );
        let daily = timing("0 6 * * *", "UTC");
        assert_eq!(
            daily.latest_fires(from, before, 1),
            [utc("2026-01-31T06:00:00Z")]
        );
        assert_eq!(daily.latest_fires(from, before, 100).len(), 31);
    }
}
