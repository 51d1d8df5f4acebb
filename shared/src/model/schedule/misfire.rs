//! Which fires a due schedule makes now: the fires that are on time, and the
//! late ones (missed while nothing ran, or while paused) as its policy says.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timing;

/// A fire found later than this after its time is late (a misfire); one found
/// sooner is on time and always fires. Covers a housekeeping tick and a
/// leader failover.
pub const MISFIRE_GRACE: Duration = Duration::seconds(60);

/// Most fires one schedule makes in one pass (`fire_all` after a long outage).
pub const MAX_FIRES: usize = 100;

/// What to do with fires that were missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// Drop them; the schedule goes on from its next time.
    Skip,
    /// Fire once, for the latest missed time (the default).
    #[default]
    FireOnce,
    /// Fire each of them, oldest first; the latest 100 at most.
    FireAll,
}

impl Misfire {
    pub fn as_str(self) -> &'static str {
        match self {
            Misfire::Skip => "skip",
            Misfire::FireOnce => "fire_once",
            Misfire::FireAll => "fire_all",
        }
    }
}

impl TryFrom<String> for Misfire {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        match raw.as_str() {
            "skip" => Ok(Misfire::Skip),
            "fire_once" => Ok(Misfire::FireOnce),
            "fire_all" => Ok(Misfire::FireAll),
            _ => Err(format!("unknown misfire policy {raw:?}")),
        }
    }
}

/// The fires to make now, and what `next_fire_at` becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct FirePlan {
    /// Fire times, oldest first.
    pub fires: Vec<DateTime<Utc>>,
    /// The first fire after now; None when a one-time schedule is done.
    pub next: Option<DateTime<Utc>>,
    /// Whether some fires were late (and so went by the policy).
    pub late: bool,
}

/// Plans a schedule that was due at `due` (its `next_fire_at`) and is found
/// at `now`. Fires within `grace` of `now` are on time; earlier ones are late.
pub fn plan(
    timing: &Timing,
    misfire: Misfire,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    grace: Duration,
) -> FirePlan {
    let cutoff = now - grace;
    let on_time = timing.fires_between(due.max(cutoff), now, MAX_FIRES);
    let late_kept = match misfire {
        Misfire::Skip => 0,
        Misfire::FireOnce => 1,
        Misfire::FireAll => MAX_FIRES,
    };
    let mut fires = timing.latest_fires(due, cutoff.min(now), late_kept);
    fires.extend(on_time);
    if fires.len() > MAX_FIRES {
        fires.drain(..fires.len() - MAX_FIRES);
    }
    FirePlan {
        fires,
        next: timing.next_after(now),
        late: due < cutoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn hourly() -> Timing {
        Timing::parse(Some("0 * * * *"), None, None).expect("timing")
    }

    /// Due at 11:00, found at 13:30: 11:00, 12:00 and 13:00 were missed.
    fn after_outage(misfire: Misfire) -> FirePlan {
        plan(
            &hourly(),
            misfire,
            utc("2026-01-01T11:00:00Z"),
            utc("2026-01-01T13:30:00Z"),
            MISFIRE_GRACE,
        )
    }

    #[test]
    fn an_outage_of_three_periods_follows_the_policy() {
        assert!(after_outage(Misfire::Skip).fires.is_empty());
        assert_eq!(
            after_outage(Misfire::FireOnce).fires,
            [utc("2026-01-01T13:00:00Z")]
        );
        assert_eq!(
            after_outage(Misfire::FireAll).fires,
            [
                utc("2026-01-01T11:00:00Z"),
                utc("2026-01-01T12:00:00Z"),
                utc("2026-01-01T13:00:00Z")
            ]
        );
        for misfire in [Misfire::Skip, Misfire::FireOnce, Misfire::FireAll] {
            let plan = after_outage(misfire);
            assert_eq!(plan.next, Some(utc("2026-01-01T14:00:00Z")));
            assert!(plan.late);
        }
    }

    #[test]
    fn a_fire_found_within_the_grace_is_on_time_under_every_policy() {
        for misfire in [Misfire::Skip, Misfire::FireOnce, Misfire::FireAll] {
            let plan = plan(
                &hourly(),
                misfire,
                utc("2026-01-01T11:00:00Z"),
                utc("2026-01-01T11:00:01.5Z"),
                MISFIRE_GRACE,
            );
            assert_eq!(plan.fires, [utc("2026-01-01T11:00:00Z")], "{misfire:?}");
            assert!(!plan.late);
        }
    }

    #[test]
    fn every_second_fires_each_second_on_time_not_coalesced() {
        let every_second = Timing::parse(Some("* * * * * *"), None, None).expect("timing");
        let plan = plan(
            &every_second,
            Misfire::FireOnce,
            utc("2026-01-01T11:00:00Z"),
            utc("2026-01-01T11:00:02.2Z"),
            MISFIRE_GRACE,
        );
        assert_eq!(plan.fires.len(), 3);
        assert_eq!(plan.next, Some(utc("2026-01-01T11:00:03Z")));
    }

    #[test]
    fn fire_all_keeps_the_latest_hundred() {
        let minutely = Timing::parse(Some("* * * * *"), None, None).expect("timing");
        let plan = plan(
            &minutely,
            Misfire::FireAll,
            utc("2026-01-01T00:00:00Z"),
            utc("2026-01-02T00:00:30Z"),
            MISFIRE_GRACE,
        );
        assert_eq!(plan.fires.len(), MAX_FIRES);
        assert_eq!(plan.fires.last(), Some(&utc("2026-01-02T00:00:00Z")));
        assert_eq!(plan.fires.first(), Some(&utc("2026-01-01T22:21:00Z")));
    }

    #[test]
    fn a_one_time_schedule_fires_once_and_then_has_no_next() {
        let once = Timing::parse(None, None, Some("2026-01-01T11:00:00Z")).expect("timing");
        let due = utc("2026-01-01T11:00:00Z");
        let found = utc("2026-01-01T11:00:00.3Z");
        let plan = plan(&once, Misfire::FireOnce, due, found, MISFIRE_GRACE);
        assert_eq!(plan.fires, [due]);
        assert_eq!(plan.next, None);
        let late = super::plan(
            &once,
            Misfire::Skip,
            due,
            utc("2026-01-02T00:00:00Z"),
            MISFIRE_GRACE,
        );
        assert!(late.fires.is_empty());
        assert_eq!(late.next, None);
    }
}
