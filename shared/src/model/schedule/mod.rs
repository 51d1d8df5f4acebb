//! Schedules: what a client submits (`ScheduleSpec`), the validated schedule
//! it becomes (`NewSchedule`), and the stored row (`Schedule`). The rules are
//! written out for users in `docs/schedules.md`.

mod cron_expr;
mod misfire;
mod timing;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{FieldError, JobSpec, JobStatus, Limits, NewJob, Origin};

pub use cron_expr::CronExpr;
pub use misfire::{plan, FirePlan, Misfire, MAX_FIRES, MISFIRE_GRACE};
pub use timing::{parse_instant, parse_zone, Timing, When};

/// A schedule as a client submits it (`POST /api/v1/schedules`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Unique, 1-200 characters. Also the name of the jobs it creates,
    /// unless the job template names them.
    pub name: String,
    /// A repeating schedule: 5 fields (minute hour day-of-month month
    /// day-of-week), 6 with seconds first, or @yearly, @monthly, @weekly,
    /// @daily, @hourly. Give `cron` or `run_at`, not both.
    pub cron: Option<String>,
    /// The IANA time zone whose wall clock `cron` is read on (default UTC).
    pub timezone: Option<String>,
    /// A single fire time in the future, RFC 3339 with an offset.
    pub run_at: Option<String>,
    pub target: TargetSpec,
    /// What happens to fires missed while nothing ran or while paused:
    /// `skip`, `fire_once` (default) or `fire_all` (at most 100).
    pub misfire: Option<Misfire>,
    /// Create the schedule paused (default false).
    pub paused: Option<bool>,
}

/// What a fire creates: `{"job": {…}}` or `{"workflow": "<name>"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetSpec {
    /// A job template: the fields of `POST /jobs` except `run_at`, `delay_ms`
    /// and `idempotency_key`.
    Job(Box<JobSpec>),
    /// The name of a workflow to start a run of.
    Workflow(String),
}

/// What a validation may rely on.
pub struct Rules<'a> {
    pub now: DateTime<Utc>,
    pub limits: Limits,
    /// Whether some worker runs a kind.
    pub is_known_kind: &'a dyn Fn(&str) -> bool,
    /// A `run_at` equal to this is accepted although past: an update that
    /// leaves a one-time schedule's time as it was.
    pub kept_run_at: Option<DateTime<Utc>>,
    /// Definitions a job template may name, by name.
    pub definitions: &'a std::collections::HashMap<String, JobSpec>,
}

/// A validated schedule, ready to store.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub id: Uuid,
    pub name: String,
    pub timing: Timing,
    pub target: Target,
    pub misfire: Misfire,
    pub paused: bool,
    /// The first fire after now; None for a one-time schedule already past.
    pub next_fire_at: Option<DateTime<Utc>>,
}

/// A validated target.
#[derive(Debug, Clone)]
pub enum Target {
    Job(JobTemplate),
    Workflow(String),
}

/// A job spec accepted as a template: valid, with no time or idempotency key
/// of its own.
#[derive(Debug, Clone)]
pub struct JobTemplate(Box<JobSpec>);

impl ScheduleSpec {
    /// Checks every field; errors name it (`target.job.priority`).
    pub fn validate(&self, rules: &Rules<'_>) -> Result<NewSchedule, FieldError> {
        // Bytes, as for a job's name: the schedule's name may become one.
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err(FieldError::new("name", "must be 1-200 characters"));
        }
        let timing = Timing::parse(
            self.cron.as_deref(),
            self.timezone.as_deref(),
            self.run_at.as_deref(),
        )?;
        let next_fire_at = timing.first_after(rules.now, rules.kept_run_at)?;
        let target = match &self.target {
            TargetSpec::Job(spec) => Target::Job(JobTemplate::parse(spec, rules)?),
            TargetSpec::Workflow(name) => {
                if name.trim().is_empty() || name.chars().count() > 200 {
                    return Err(FieldError::new(
                        "target.workflow",
                        "must be a workflow name of 1-200 characters",
                    ));
                }
                Target::Workflow(name.clone())
            }
        };
        Ok(NewSchedule {
            id: Uuid::now_v7(),
            name: self.name.clone(),
            timing,
            target,
            misfire: self.misfire.unwrap_or_default(),
            paused: self.paused.unwrap_or(false),
            next_fire_at,
        })
    }
}

impl JobTemplate {
    /// The template as given (it may name a definition).
    pub fn spec(&self) -> &JobSpec {
        &self.0
    }

    fn parse(spec: &JobSpec, rules: &Rules<'_>) -> Result<Self, FieldError> {
        let own_time =
            "is not allowed in a schedule's job template: each fire's job runs at its fire time";
        let refused = [
            ("run_at", spec.run_at.is_some(), own_time),
            ("delay_ms", spec.delay_ms.is_some(), own_time),
            (
                "idempotency_key",
                spec.idempotency_key.is_some(),
                "is not allowed in a schedule's job template: each fire creates one job already",
            ),
        ];
        if let Some((field, _, why)) = refused.into_iter().find(|(_, set, _)| *set) {
            return Err(FieldError::new(field, why).within("target.job"));
        }
        // A named definition is checked now and applied again at each fire,
        // so later edits of the definition reach later fires.
        let resolved = crate::db::definitions::resolve(spec, rules.definitions)
            .map_err(|e| e.within("target.job"))?;
        resolved
            .validate(rules.now, rules.limits, rules.is_known_kind)
            .map_err(|e| e.within("target.job"))?;
        Ok(Self(Box::new(spec.clone())))
    }

    /// The job of one fire. Its name is the template's, else the schedule's;
    /// it is due at the fire time, or now if that has passed.
    pub fn instantiate(
        &self,
        schedule_id: Uuid,
        schedule_name: &str,
        fire_time: DateTime<Utc>,
        now: DateTime<Utc>,
        definitions: &std::collections::HashMap<String, JobSpec>,
    ) -> Result<NewJob, FieldError> {
        let mut spec = crate::db::definitions::resolve(&self.0, definitions)?;
        spec.name.get_or_insert_with(|| schedule_name.to_owned());
        // Kinds and sizes were checked when the template was accepted.
        let limits = Limits {
            max_payload_bytes: usize::MAX,
        };
        let mut job = spec.validate(now, limits, &|_| true)?;
        job.run_at = fire_time.max(now);
        job.status = if job.run_at > now {
            JobStatus::Scheduled
        } else {
            JobStatus::Queued
        };
        job.origin = Origin {
            schedule: Some((schedule_id, fire_time)),
            workflow: None,
        };
        Ok(job)
    }
}

impl Target {
    /// The stored (and answered) form.
    pub fn to_spec(&self) -> TargetSpec {
        match self {
            Target::Job(template) => TargetSpec::Job(template.0.clone()),
            Target::Workflow(name) => TargetSpec::Workflow(name.clone()),
        }
    }
}

impl NewSchedule {
    /// `next_fire_at` once this replaces `old` at `now`: recomputed from now
    /// when the timing changed, or when a `skip` schedule is resumed; else
    /// kept, so fires missed while paused or down go by the policy.
    pub fn next_fire_replacing(&self, old: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let timing_changed = old.cron.as_deref() != self.timing.cron()
            || old.timezone != self.timing.zone.name()
            || old.run_at != self.timing.run_at();
        if timing_changed {
            self.next_fire_at
        } else if old.paused && !self.paused {
            old.next_fire_on_resume(&self.timing, self.misfire, now)
        } else {
            old.next_fire_at
        }
    }
}

/// A schedule as stored in `schedules` and answered by the api.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct Schedule {
    pub id: Uuid,
    pub name: String,
    /// The cron expression as given; null for a one-time schedule.
    pub cron: Option<String>,
    /// IANA time zone of the wall clock.
    pub timezone: String,
    /// The single fire time; null for a cron schedule.
    pub run_at: Option<DateTime<Utc>>,
    #[sqlx(json)]
    #[serde(serialize_with = "crate::secrets::serialize_masked")]
    pub target: TargetSpec,
    #[sqlx(try_from = "String")]
    pub misfire: Misfire,
    pub paused: bool,
    /// The next fire (it may be past while paused or overdue); null once a
    /// one-time schedule has fired.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The fire time of the latest fire.
    pub last_fired_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Schedule {
    /// The stored timing (valid: it was checked when stored).
    pub fn timing(&self) -> Result<Timing, FieldError> {
        let zone = parse_zone(&self.timezone)?;
        let when = match (&self.cron, self.run_at) {
            (Some(expr), _) => When::Cron(CronExpr::parse(expr)?),
            (None, Some(at)) => When::Once(at),
            (None, None) => return Err(FieldError::new("cron", "neither cron nor run_at is set")),
        };
        Ok(Timing { when, zone })
    }

    /// The stored target (valid: it was checked when stored).
    pub fn target(&self) -> Target {
        match &self.target {
            TargetSpec::Job(spec) => Target::Job(JobTemplate(spec.clone())),
            TargetSpec::Workflow(name) => Target::Workflow(name.clone()),
        }
    }

    /// The spec this schedule would be created from, for updates.
    pub fn to_spec(&self) -> ScheduleSpec {
        ScheduleSpec {
            name: self.name.clone(),
            cron: self.cron.clone(),
            timezone: Some(self.timezone.clone()),
            run_at: self
                .run_at
                .map(|at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            target: self.target.clone(),
            misfire: Some(self.misfire),
            paused: Some(self.paused),
        }
    }

    /// `next_fire_at` when the schedule is resumed at `now`: `skip` starts
    /// afresh from now; the other policies keep the pending fire, so what was
    /// missed while paused fires as the policy says.
    pub fn next_fire_on_resume(
        &self,
        timing: &Timing,
        misfire: Misfire,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match misfire {
            Misfire::Skip => self.next_fire_at.and_then(|_| timing.next_after(now)),
            Misfire::FireOnce | Misfire::FireAll => self.next_fire_at,
        }
    }
}

/// One fire of a schedule and the job it created.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct Fire {
    pub fire_time: DateTime<Utc>,
    /// The job the fire created (a job target).
    pub job_id: Option<Uuid>,
    /// The workflow run the fire started (a workflow target).
    pub workflow_run_id: Option<Uuid>,
    /// The job's status, or the run's (running, succeeded, failed, cancelled).
    pub status: String,
}

/// A fire time on the schedule's wall clock and in UTC.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct FireTime {
    /// RFC 3339 with the zone's offset, e.g. `2026-03-29T03:00:00+02:00`.
    pub local: String,
    pub utc: DateTime<Utc>,
}

impl FireTime {
    pub fn new(timing: &Timing, at: DateTime<Utc>) -> Self {
        Self {
            local: timing.local(at),
            utc: at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BUILTIN_KINDS;
    use serde_json::{json, Value};

    fn validate_at(value: Value, now: &str) -> Result<NewSchedule, FieldError> {
        let spec: ScheduleSpec = serde_json::from_value(value).expect("spec");
        let now = DateTime::parse_from_rfc3339(now).expect("now").to_utc();
        spec.validate(&Rules {
            now,
            limits: Limits {
                max_payload_bytes: 1024,
            },
            is_known_kind: &|k| BUILTIN_KINDS.contains(&k),
            kept_run_at: None,
            definitions: &Default::default(),
        })
    }

    fn validate(value: Value) -> Result<NewSchedule, FieldError> {
        validate_at(value, "2026-11-22T08:00:00Z")
    }

    #[test]
    fn defaults_are_utc_fire_once_and_running() {
        let s =
            validate(json!({"name": "n", "cron": "@hourly", "target": {"job": {"kind": "noop"}}}))
                .expect("valid");
        assert_eq!(s.timing.zone, chrono_tz::UTC);
        assert_eq!(s.misfire, Misfire::FireOnce);
        assert!(!s.paused);
        assert_eq!(
            s.next_fire_at.map(|t| t.to_rfc3339()),
            Some("2026-11-22T09:00:00+00:00".into())
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let job = json!({"job": {"kind": "noop"}});
        let cases = [
            (json!({"name": "", "cron": "@daily", "target": job}), "name"),
            (
                json!({"name": "n", "cron": "61 * * * *", "target": job}),
                "cron",
            ),
            (
                json!({"name": "n", "cron": "0 0 30 2 *", "target": job}),
                "cron",
            ),
            (json!({"name": "n", "target": job}), "cron"),
            (
                json!({"name": "n", "cron": "@daily", "timezone": "Europe/Berlinn", "target": job}),
                "timezone",
            ),
            (
                json!({"name": "n", "run_at": "2026-11-22T07:59:59Z", "target": job}),
                "run_at",
            ),
            (
                json!({"name": "n", "cron": "@daily", "run_at": "2030-01-01T00:00:00Z", "target": job}),
                "run_at",
            ),
            (
                json!({"name": "n", "cron": "@daily", "target": {"job": {"kind": "nope"}}}),
                "target.job.kind",
            ),
            (
                json!({"name": "n", "cron": "@daily", "target": {"job": {"kind": "noop", "priority": 10}}}),
                "target.job.priority",
            ),
            (
                json!({"name": "n", "cron": "@daily", "target": {"job": {"kind": "noop", "delay_ms": 5}}}),
                "target.job.delay_ms",
            ),
            (
                json!({"name": "n", "cron": "@daily", "target": {"job": {"kind": "noop", "run_at": "2030-01-01T00:00:00Z"}}}),
                "target.job.run_at",
            ),
            (
                json!({"name": "n", "cron": "@daily", "target": {"job": {"kind": "noop", "idempotency_key": "k"}}}),
                "target.job.idempotency_key",
            ),
            (
                json!({"name": "n", "cron": "@daily", "target": {"workflow": " "}}),
                "target.workflow",
            ),
        ];
        for (input, field) in cases {
            let err = validate(input.clone()).expect_err(&input.to_string());
            assert_eq!(err.field, field, "for {input}: {err}");
        }
    }

    #[test]
    fn a_fires_job_links_back_and_is_named_after_the_schedule() {
        let s = validate(json!({"name": "nightly", "cron": "@daily",
                                "target": {"job": {"kind": "noop", "priority": 7}}}))
        .expect("valid");
        let Target::Job(template) = &s.target else {
            panic!("a job target")
        };
        let fire = DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
            .expect("t")
            .to_utc();
        let now = fire + chrono::Duration::seconds(2);
        let job = template
            .instantiate(s.id, &s.name, fire, now, &Default::default())
            .expect("job");
        assert_eq!(job.name, "nightly");
        assert_eq!(job.priority.get(), 7);
        assert_eq!(job.run_at, now);
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!(job.origin.schedule, Some((s.id, fire)));
    }

    #[test]
    fn resume_follows_the_policy() {
        let s =
            validate(json!({"name": "n", "cron": "@hourly", "target": {"job": {"kind": "noop"}}}))
                .expect("valid");
        let pending = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .expect("t")
            .to_utc();
        let now = DateTime::parse_from_rfc3339("2026-11-22T08:30:00Z")
            .expect("t")
            .to_utc();
        let row = Schedule {
            id: s.id,
            name: s.name.clone(),
            cron: Some("@hourly".into()),
            timezone: "UTC".into(),
            run_at: None,
            target: s.target.to_spec(),
            misfire: Misfire::FireOnce,
            paused: true,
            next_fire_at: Some(pending),
            last_fired_at: None,
            created_at: now,
            updated_at: now,
        };
        assert_eq!(
            row.next_fire_on_resume(&s.timing, Misfire::FireOnce, now),
            Some(pending)
        );
        assert_eq!(
            row.next_fire_on_resume(&s.timing, Misfire::Skip, now)
                .map(|t| t.to_rfc3339()),
            Some("2026-11-22T09:00:00+00:00".into())
        );
    }
}
