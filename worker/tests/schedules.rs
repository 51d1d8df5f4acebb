//! Schedules: the api that stores them and the housekeeping fire that turns
//! them into jobs. Time is a manual clock shared by the api and the firing
//! calls, moved by hand; one test runs a real worker on the real clock.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{id_of, Stack};
use conveyor_shared::clock::Clock;
use conveyor_shared::db::housekeeping;
use conveyor_shared::queue::RedisQueue;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

fn utc(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw)
        .expect("time")
        .with_timezone(&Utc)
}

/// The api on a manual clock, and the firing side of a housekeeping leader
/// on the same clock.
struct Scheduler {
    stack: Stack,
    clock: Clock,
    queue: RedisQueue,
    fence: i64,
}

impl Scheduler {
    async fn at(start: &str) -> Self {
        let clock = Clock::manual(utc(start));
        let stack = Stack::api_with_clock(clock.clone()).await;
        let queue = RedisQueue::new(&stack.env.redis_url, &stack.env.prefix, 4).expect("redis");
        let fence = housekeeping::take_epoch(&stack.env.pool, "test-leader")
            .await
            .expect("epoch");
        Self {
            stack,
            clock,
            queue,
            fence,
        }
    }

    /// Creates a schedule through the api; it must answer 201.
    async fn create(&self, spec: Value) -> Value {
        let (status, body) = self.stack.post("/api/v1/schedules", spec).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// A schedule named `name` that creates a noop job.
    async fn create_cron(&self, name: &str, cron: &str, zone: &str, misfire: &str) -> Value {
        self.create(
            json!({"name": name, "cron": cron, "timezone": zone, "misfire": misfire,
                           "target": {"job": {"kind": "noop"}}}),
        )
        .await
    }

    async fn show(&self, id: &str) -> Value {
        let (status, body) = self.stack.get(&format!("/api/v1/schedules/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// One tick of the housekeeping leader; returns the jobs created.
    async fn fire(&self) -> usize {
        self.fire_as(self.fence).await
    }

    async fn fire_as(&self, fence: i64) -> usize {
        conveyor_worker::fire_due_schedules(&self.stack.env.pool, &self.queue, &self.clock, fence)
            .await
            .expect("fire")
    }

    fn jump_to(&self, at: &str) {
        self.clock.advance(utc(at) - self.clock.now());
    }

    /// Moves the clock to `until` in steps of `step`, firing at each.
    async fn walk_to(&self, until: &str, step: chrono::Duration) {
        let until = utc(until);
        while self.clock.now() < until {
            self.clock.advance(step.min(until - self.clock.now()));
            self.fire().await;
        }
    }

    /// The fire times of a schedule's jobs, oldest first, as RFC 3339 UTC.
    async fn fire_times(&self, schedule: &Value) -> Vec<String> {
        let id = Uuid::parse_str(&id_of(schedule)).expect("uuid");
        let times: Vec<DateTime<Utc>> = sqlx::query_scalar(
            "select fire_time from jobs where schedule_id = $1 order by fire_time",
        )
        .bind(id)
        .fetch_all(&self.stack.env.pool)
        .await
        .expect("fire times");
        times
            .into_iter()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .collect()
    }

    async fn schedule_count(&self) -> i64 {
        sqlx::query_scalar("select count(*) from schedules")
            .fetch_one(&self.stack.env.pool)
            .await
            .expect("count")
    }

    async fn stop(self) {
        self.stack.stop().await;
    }
}

const QUARTER_HOUR: chrono::Duration = chrono::Duration::minutes(15);

#[tokio::test]
async fn fires_at_the_right_instants_across_both_dst_changes_in_berlin() {
    let s = Scheduler::at("2026-03-27T12:00:00Z").await;
    let spring = s
        .create_cron("spring", "30 2 * * *", "Europe/Berlin", "fire_once")
        .await;
    s.walk_to("2026-03-30T12:00:00Z", QUARTER_HOUR).await;
    assert_eq!(
        s.fire_times(&spring).await,
        [
            "2026-03-28T01:30:00Z", // 02:30 CET
            "2026-03-29T01:00:00Z", // 02:30 does not exist: 03:00 CEST, once
            "2026-03-30T00:30:00Z", // 02:30 CEST
        ]
    );
    let (status, _) = s
        .stack
        .post(
            &format!("/api/v1/schedules/{}/pause", id_of(&spring)),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    s.jump_to("2026-10-24T12:00:00Z");
    let daily = s
        .create_cron("fall", "30 2 * * *", "Europe/Berlin", "fire_once")
        .await;
    let hourly = s
        .create_cron("hourly", "0 * * * *", "Europe/Berlin", "fire_once")
        .await;
    s.walk_to("2026-10-26T12:00:00Z", QUARTER_HOUR).await;
    assert_eq!(
        s.fire_times(&daily).await,
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
        "02:30 happens twice on 25 October and fires at the first (CEST)"
    );
    let hourly_times = s.fire_times(&hourly).await;
    let night: Vec<&str> = hourly_times
        .iter()
        .map(String::as_str)
        .filter(|t| ("2026-10-24T23:00:00Z"..="2026-10-25T03:00:00Z").contains(t))
        .collect();
    assert_eq!(
        night,
        [
            "2026-10-24T23:00:00Z", // 01:00 CEST
            "2026-10-25T00:00:00Z", // 02:00 CEST; 02:00 CET (01:00Z) repeats it
            "2026-10-25T02:00:00Z", // 03:00 CET
            "2026-10-25T03:00:00Z",
        ]
    );
    assert_eq!(hourly_times.len(), 47, "48 hours, one repeated hour");
    s.stop().await;
}

#[tokio::test]
async fn fires_at_the_right_instants_across_both_dst_changes_in_new_york() {
    let s = Scheduler::at("2026-03-07T00:00:00Z").await;
    let spring = s
        .create_cron("spring", "30 2 * * *", "America/New_York", "fire_once")
        .await;
    s.walk_to("2026-03-09T23:00:00Z", QUARTER_HOUR).await;
    assert_eq!(
        s.fire_times(&spring).await,
        [
            "2026-03-07T07:30:00Z", // 02:30 EST
            "2026-03-08T07:00:00Z", // 02:30 does not exist: 03:00 EDT
            "2026-03-09T06:30:00Z", // 02:30 EDT
        ]
    );
    let (status, _) = s
        .stack
        .post(
            &format!("/api/v1/schedules/{}/pause", id_of(&spring)),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    s.jump_to("2026-10-31T00:00:00Z");
    let fall = s
        .create_cron("fall", "30 1 * * *", "America/New_York", "fire_once")
        .await;
    s.walk_to("2026-11-02T23:00:00Z", QUARTER_HOUR).await;
    assert_eq!(
        s.fire_times(&fall).await,
        [
            "2026-10-31T05:30:00Z", // 01:30 EDT
            "2026-11-01T05:30:00Z", // 01:30 EDT, the first; not 01:30 EST (06:30Z)
            "2026-11-02T06:30:00Z", // 01:30 EST
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn two_leaders_racing_on_the_same_due_time_create_one_job() {
    let s = Scheduler::at("2026-06-01T12:00:30Z").await;
    let mut schedules = Vec::new();
    for i in 0..20 {
        schedules.push(
            s.create_cron(&format!("race-{i}"), "* * * * *", "UTC", "fire_once")
                .await,
        );
    }
    s.jump_to("2026-06-01T12:01:00.200Z");
    let (a, b) = tokio::join!(s.fire(), s.fire());
    assert_eq!(a + b, 20, "one job per schedule: {a} + {b}");
    for schedule in &schedules {
        assert_eq!(s.fire_times(schedule).await, ["2026-06-01T12:01:00Z"]);
    }
    // A scheduler that lost its advance (a restart mid-fire) fires the same
    // time again: the unique (schedule, fire time) makes it a no-op.
    sqlx::query("update schedules set next_fire_at = '2026-06-01T12:01:00Z'")
        .execute(&s.stack.env.pool)
        .await
        .expect("rewind");
    assert_eq!(s.fire().await, 0);
    assert_eq!(s.stack.job_count().await, 20);
    let shown = s.show(&id_of(&schedules[0])).await;
    assert_eq!(shown["next_fire_at"], "2026-06-01T12:02:00Z", "{shown:#}");
    s.stop().await;
}

#[tokio::test]
async fn a_deposed_leader_fires_nothing() {
    let s = Scheduler::at("2026-06-01T12:00:30Z").await;
    let schedule = s
        .create_cron("fenced", "* * * * *", "UTC", "fire_once")
        .await;
    let newer = housekeeping::take_epoch(&s.stack.env.pool, "another-leader")
        .await
        .expect("epoch");
    s.jump_to("2026-06-01T12:01:00.200Z");
    assert_eq!(s.fire_as(s.fence).await, 0, "the old epoch cannot fire");
    assert_eq!(s.stack.job_count().await, 0);
    assert_eq!(
        s.show(&id_of(&schedule)).await["next_fire_at"],
        "2026-06-01T12:01:00Z"
    );
    assert_eq!(s.fire_as(newer).await, 1, "the new leader fires it");
    s.stop().await;
}

#[tokio::test]
async fn an_outage_of_three_periods_fires_as_the_misfire_policy_says() {
    let s = Scheduler::at("2026-06-01T10:00:30Z").await;
    let skip = s.create_cron("skip", "0 * * * *", "UTC", "skip").await;
    let once = s.create_cron("once", "0 * * * *", "UTC", "fire_once").await;
    let all = s.create_cron("all", "0 * * * *", "UTC", "fire_all").await;
    // Nothing runs from 10:00:30 to 13:30: 11:00, 12:00 and 13:00 are missed.
    s.jump_to("2026-06-01T13:30:00Z");
    assert_eq!(s.fire().await, 4);
    assert!(s.fire_times(&skip).await.is_empty());
    assert_eq!(s.fire_times(&once).await, ["2026-06-01T13:00:00Z"]);
    assert_eq!(
        s.fire_times(&all).await,
        [
            "2026-06-01T11:00:00Z",
            "2026-06-01T12:00:00Z",
            "2026-06-01T13:00:00Z"
        ]
    );
    for schedule in [&skip, &once, &all] {
        let shown = s.show(&id_of(schedule)).await;
        assert_eq!(shown["next_fire_at"], "2026-06-01T14:00:00Z", "{shown:#}");
    }
    // Back on time, every policy fires each fire.
    s.jump_to("2026-06-01T14:00:01Z");
    assert_eq!(s.fire().await, 3);
    s.stop().await;
}

#[tokio::test]
async fn a_paused_schedule_does_not_fire_and_resuming_follows_its_policy() {
    let s = Scheduler::at("2026-06-01T10:00:30Z").await;
    let once = s.create_cron("once", "0 * * * *", "UTC", "fire_once").await;
    let skip = s.create_cron("skip", "0 * * * *", "UTC", "skip").await;
    for schedule in [&once, &skip] {
        let (status, body) = s
            .stack
            .post(
                &format!("/api/v1/schedules/{}/pause", id_of(schedule)),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["paused"], true);
        assert_eq!(body["upcoming"], json!([]));
    }
    s.walk_to("2026-06-01T13:30:00Z", QUARTER_HOUR).await;
    assert_eq!(s.stack.job_count().await, 0, "paused schedules never fire");

    for schedule in [&once, &skip] {
        let (status, body) = s
            .stack
            .post(
                &format!("/api/v1/schedules/{}/resume", id_of(schedule)),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["paused"], false);
    }
    assert_eq!(
        s.show(&id_of(&skip)).await["next_fire_at"],
        "2026-06-01T14:00:00Z",
        "skip starts afresh from now"
    );
    s.fire().await;
    assert_eq!(
        s.fire_times(&once).await,
        ["2026-06-01T13:00:00Z"],
        "fire_once fires what was missed while paused, once"
    );
    assert!(s.fire_times(&skip).await.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn six_field_and_five_field_forms_fire_at_the_same_instants() {
    let s = Scheduler::at("2026-06-01T12:00:30Z").await;
    let five = s
        .create_cron("five", "*/10 * * * *", "Europe/Berlin", "fire_once")
        .await;
    let six = s
        .create_cron("six", "0 */10 * * * *", "Europe/Berlin", "fire_once")
        .await;
    s.walk_to("2026-06-01T13:00:30Z", chrono::Duration::minutes(1))
        .await;
    let times = s.fire_times(&five).await;
    assert_eq!(times.len(), 6, "{times:?}");
    assert_eq!(times, s.fire_times(&six).await);
    s.stop().await;
}

#[tokio::test]
async fn a_one_time_schedule_fires_once_and_is_then_done() {
    let s = Scheduler::at("2026-06-01T12:00:00Z").await;
    let once = s
        .create(
            json!({"name": "launch", "run_at": "2026-06-01T15:00:00+02:00",
                       "timezone": "Europe/Berlin",
                       "target": {"job": {"kind": "noop", "name": "launch-job"}}}),
        )
        .await;
    assert_eq!(once["next_fire_at"], "2026-06-01T13:00:00Z");
    assert_eq!(
        once["upcoming"],
        json!([{"local": "2026-06-01T15:00:00+02:00", "utc": "2026-06-01T13:00:00Z"}])
    );
    s.walk_to("2026-06-01T12:59:59Z", QUARTER_HOUR).await;
    assert_eq!(s.stack.job_count().await, 0, "not before its time");
    s.walk_to("2026-06-02T12:00:00Z", QUARTER_HOUR).await;
    assert_eq!(s.fire_times(&once).await, ["2026-06-01T13:00:00Z"]);
    let done = s.show(&id_of(&once)).await;
    assert_eq!(done["next_fire_at"], Value::Null, "{done:#}");
    assert_eq!(done["last_fired_at"], "2026-06-01T13:00:00Z");
    assert_eq!(done["upcoming"], json!([]));
    let job = s
        .stack
        .job(done["fires"][0]["job_id"].as_str().expect("job id"))
        .await;
    assert_eq!(job["name"], "launch-job");
    s.stop().await;
}

#[tokio::test]
async fn get_schedule_lists_each_fire_with_its_job_and_the_job_links_back() {
    let s = Scheduler::at("2026-03-28T12:00:00Z").await;
    let schedule = s
        .create(json!({"name": "nightly report", "cron": "30 2 * * *",
                       "timezone": "Europe/Berlin",
                       "target": {"job": {"kind": "noop", "queue": "reports", "priority": 7}}}))
        .await;
    assert_eq!(
        schedule["upcoming"][0],
        json!({"local": "2026-03-29T03:00:00+02:00", "utc": "2026-03-29T01:00:00Z"})
    );
    assert_eq!(schedule["upcoming"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        schedule["upcoming"][1],
        json!({"local": "2026-03-30T02:30:00+02:00", "utc": "2026-03-30T00:30:00Z"})
    );
    s.jump_to("2026-03-29T01:00:00.5Z");
    assert_eq!(s.fire().await, 1);
    let shown = s.show(&id_of(&schedule)).await;
    let fires = shown["fires"].as_array().expect("fires");
    assert_eq!(fires.len(), 1, "{shown:#}");
    assert_eq!(fires[0]["fire_time"], "2026-03-29T01:00:00Z");
    assert_eq!(fires[0]["status"], "queued");
    let job = s.stack.job(fires[0]["job_id"].as_str().expect("id")).await;
    assert_eq!(job["schedule_id"], schedule["id"]);
    assert_eq!(job["fire_time"], "2026-03-29T01:00:00Z");
    assert_eq!(job["name"], "nightly report");
    assert_eq!(job["queue"], "reports");
    assert_eq!(job["priority"], 7);
    let (_, list) = s.stack.get("/api/v1/schedules").await;
    assert_eq!(list["schedules"][0]["next_fire_at"], "2026-03-30T00:30:00Z");

    // Deleting the schedule keeps its jobs, unlinked.
    let (status, _) = s
        .stack
        .delete(&format!("/api/v1/schedules/{}", id_of(&schedule)))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let job = s.stack.job(fires[0]["job_id"].as_str().expect("id")).await;
    assert_eq!(job["schedule_id"], Value::Null);
    assert_eq!(job["fire_time"], "2026-03-29T01:00:00Z");
    let (status, _) = s
        .stack
        .get(&format!("/api/v1/schedules/{}", id_of(&schedule)))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    s.stop().await;
}

#[tokio::test]
async fn each_bad_input_answers_422_naming_the_field_and_stores_nothing() {
    let s = Scheduler::at("2026-06-01T12:00:00Z").await;
    let job = json!({"job": {"kind": "noop"}});
    let cases = [
        (
            json!({"name": "x", "cron": "61 * * * *", "target": job}),
            "cron",
        ),
        (
            json!({"name": "x", "cron": "* * * *", "target": job}),
            "cron",
        ),
        (
            json!({"name": "x", "cron": "0 0 30 2 *", "target": job}),
            "cron",
        ),
        (json!({"name": "x", "target": job}), "cron"),
        (
            json!({"name": "x", "cron": "@daily", "timezone": "Europe/Atlantis", "target": job}),
            "timezone",
        ),
        (
            json!({"name": "x", "run_at": "2026-06-01T11:59:59Z", "target": job}),
            "run_at",
        ),
        (
            json!({"name": "x", "run_at": "next tuesday", "target": job}),
            "run_at",
        ),
        (
            json!({"name": "x", "cron": "@daily", "run_at": "2030-01-01T00:00:00Z", "target": job}),
            "run_at",
        ),
        (json!({"name": "", "cron": "@daily", "target": job}), "name"),
        (
            json!({"name": "x", "cron": "@daily", "misfire": "sometimes", "target": job}),
            "misfire",
        ),
        (
            json!({"name": "x", "cron": "@daily", "target": {"job": {"kind": "noop", "priority": 12}}}),
            "target.job.priority",
        ),
        (
            json!({"name": "x", "cron": "@daily", "target": {"job": {"kind": "noop", "delay_ms": 5}}}),
            "target.job.delay_ms",
        ),
        (
            json!({"name": "x", "cron": "@daily", "target": {"job": {"kind": "noop", "idempotency_key": "k"}}}),
            "target.job.idempotency_key",
        ),
        (
            json!({"name": "x", "cron": "@daily", "target": {"job": {"kind": "noop", "colour": 1}}}),
            "target.job.colour",
        ),
        (
            json!({"name": "x", "cron": "@daily", "target": {"workflow": ""}}),
            "target.workflow",
        ),
        (
            json!({"name": "x", "cron": "@daily", "target": job, "every": "day"}),
            "every",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = s.stack.post("/api/v1/schedules", body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {answer}"
        );
        assert_eq!(
            answer["error"]["details"]["field"], field,
            "{body} → {answer}"
        );
        assert!(
            !answer["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{answer}"
        );
    }
    assert_eq!(s.schedule_count().await, 0);

    let (status, answer) = s
        .stack
        .post(
            "/api/v1/schedules/preview",
            json!({"cron": "* * * * * * *"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["details"]["field"], "cron");

    // An update is checked the same way and, refused, changes nothing.
    let kept = s.create_cron("kept", "@hourly", "UTC", "fire_once").await;
    let path = format!("/api/v1/schedules/{}", id_of(&kept));
    for (body, field) in [
        (json!({"cron": "every hour"}), "cron"),
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"run_at": "2020-01-01T00:00:00Z"}), "run_at"),
    ] {
        let (status, answer) = s.stack.patch(&path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {answer}"
        );
        assert_eq!(answer["error"]["details"]["field"], field, "{answer}");
    }
    let (status, answer) = s
        .stack
        .post(
            "/api/v1/schedules",
            json!({"name": "kept", "cron": "@daily", "target": job}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["details"]["field"], "name");
    let shown = s.show(&id_of(&kept)).await;
    assert_eq!(shown["cron"], "@hourly");
    assert_eq!(shown["timezone"], "UTC");
    assert_eq!(s.schedule_count().await, 1);
    s.stop().await;
}

#[tokio::test]
async fn update_recomputes_the_next_fire_and_preview_saves_nothing() {
    let s = Scheduler::at("2026-03-27T12:00:00Z").await;
    let (status, preview) = s
        .stack
        .post(
            "/api/v1/schedules/preview",
            json!({"cron": "30 2 * * *", "timezone": "Europe/Berlin", "count": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        preview,
        json!({"timezone": "Europe/Berlin", "fires": [
            {"local": "2026-03-28T02:30:00+01:00", "utc": "2026-03-28T01:30:00Z"},
            {"local": "2026-03-29T03:00:00+02:00", "utc": "2026-03-29T01:00:00Z"},
            {"local": "2026-03-30T02:30:00+02:00", "utc": "2026-03-30T00:30:00Z"},
        ]})
    );
    assert_eq!(s.schedule_count().await, 0);

    let schedule = s.create_cron("moving", "@daily", "UTC", "fire_once").await;
    assert_eq!(schedule["next_fire_at"], "2026-03-28T00:00:00Z");
    let path = format!("/api/v1/schedules/{}", id_of(&schedule));
    let (status, moved) = s
        .stack
        .patch(
            &path,
            json!({"cron": "0 9 * * *", "timezone": "America/New_York"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["next_fire_at"], "2026-03-27T13:00:00Z", "09:00 EDT");
    let (status, once) = s
        .stack
        .patch(
            &path,
            json!({"run_at": "2026-04-01T00:00:00Z", "misfire": "skip"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{once}");
    assert_eq!(once["cron"], Value::Null, "run_at replaces cron");
    assert_eq!(once["next_fire_at"], "2026-04-01T00:00:00Z");
    assert_eq!(once["misfire"], "skip");
    s.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_schedule_routes() {
    let s = Scheduler::at("2026-06-01T12:00:00Z").await;
    let (status, doc) = s.stack.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for (path, method) in [
        ("/api/v1/schedules", "post"),
        ("/api/v1/schedules", "get"),
        ("/api/v1/schedules/{id}", "get"),
        ("/api/v1/schedules/{id}", "patch"),
        ("/api/v1/schedules/{id}", "delete"),
        ("/api/v1/schedules/{id}/pause", "post"),
        ("/api/v1/schedules/{id}/resume", "post"),
        ("/api/v1/schedules/preview", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    // Every schema the document refers to is defined in it.
    let text = doc.to_string();
    let references: Vec<&str> = text
        .split("\"$ref\":\"#/components/schemas/")
        .skip(1)
        .map(|r| r.split('"').next().unwrap_or_default())
        .collect();
    assert!(references.contains(&"ScheduleDetail"), "{references:?}");
    for name in references {
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{name} is referred to but not defined"
        );
    }
    assert!(doc["components"]["schemas"]["ScheduleSpec"].is_object());
    s.stop().await;
}

#[tokio::test]
async fn a_fired_job_runs_to_success_on_a_worker() {
    let mut stack = Stack::api_only().await;
    stack
        .add_worker(&[("HOUSEKEEPING_INTERVAL_MS", "100")])
        .await;
    let (status, schedule) = stack
        .post(
            "/api/v1/schedules",
            json!({"name": "every second", "cron": "* * * * * *",
                   "target": {"job": {"kind": "noop"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    let path = format!("/api/v1/schedules/{}", id_of(&schedule));
    let deadline = Instant::now() + Duration::from_secs(30);
    let fire = loop {
        let (_, shown) = stack.get(&path).await;
        let succeeded = shown["fires"]
            .as_array()
            .and_then(|fires| fires.iter().find(|f| f["status"] == "succeeded").cloned());
        if let Some(fire) = succeeded {
            break fire;
        }
        assert!(Instant::now() < deadline, "no fire succeeded: {shown:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let job = stack.job(fire["job_id"].as_str().expect("id")).await;
    assert_eq!(job["status"], "succeeded");
    assert_eq!(job["schedule_id"], schedule["id"]);
    assert_eq!(job["fire_time"], fire["fire_time"]);
    let (status, _) = stack.post(&format!("{path}/pause"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    stack.stop().await;
}

#[tokio::test]
async fn a_workflow_target_starts_one_run_per_fire() {
    let s = Scheduler::at("2026-06-01T08:59:00Z").await;
    let (status, wf) = s
        .stack
        .post(
            "/api/v1/workflows",
            json!({"name": "etl",
            "nodes": [{"key": "extract", "job": {"kind": "noop"}},
                      {"key": "load", "job": {"kind": "noop"}}],
            "edges": [["extract", "load"]]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{wf}");
    let schedule = s
        .create(json!({"name": "hourly etl", "cron": "@hourly", "target": {"workflow": "etl"}}))
        .await;
    s.jump_to("2026-06-01T09:00:00.2Z");
    assert_eq!(s.fire().await, 2, "one run: two jobs");
    // A second leader on the same fire starts no second run.
    let rewind = Uuid::parse_str(&id_of(&schedule)).expect("uuid");
    sqlx::query("update schedules set next_fire_at = '2026-06-01T09:00:00Z' where id = $1")
        .bind(rewind)
        .execute(&s.stack.env.pool)
        .await
        .expect("rewind");
    assert_eq!(s.fire().await, 0);
    let shown = s.show(&id_of(&schedule)).await;
    let fires = shown["fires"].as_array().expect("fires");
    assert_eq!(fires.len(), 1, "{shown:#}");
    assert_eq!(fires[0]["status"], "running");
    let run = fires[0]["workflow_run_id"].as_str().expect("run id");
    let (_, detail) = s.stack.get(&format!("/api/v1/workflow-runs/{run}")).await;
    assert_eq!(detail["schedule_id"], schedule["id"]);
    assert_eq!(detail["fire_time"], "2026-06-01T09:00:00Z");
    let statuses: Vec<&str> = detail["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["job"]["status"].as_str())
        .collect();
    assert_eq!(statuses, ["queued", "blocked"]);
    s.stop().await;
}

#[tokio::test]
async fn a_job_template_may_name_a_definition_applied_at_each_fire() {
    let s = Scheduler::at("2026-06-01T08:59:00Z").await;
    let (status, _) = s
        .stack
        .post(
            "/api/v1/definitions",
            json!({"name": "ping",
            "template": {"kind": "sleep", "payload": {"ms": 1}, "priority": 3}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, error) = s
        .stack
        .post(
            "/api/v1/schedules",
            json!({"name": "bad", "cron": "@hourly",
            "target": {"job": {"definition": "nothing-here"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["details"]["field"], "target.job.definition");
    let schedule = s
        .create(json!({"name": "pinger", "cron": "@hourly",
                       "target": {"job": {"definition": "ping", "priority": 8}}}))
        .await;
    // The definition changes before the fire: the fire uses the new one.
    let (status, _) = s
        .stack
        .put(
            "/api/v1/definitions/ping",
            json!({
            "template": {"kind": "sleep", "payload": {"ms": 2}, "queue": "pings"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    s.jump_to("2026-06-01T09:00:00.2Z");
    assert_eq!(s.fire().await, 1);
    let shown = s.show(&id_of(&schedule)).await;
    let job = s
        .stack
        .job(shown["fires"][0]["job_id"].as_str().expect("id"))
        .await;
    assert_eq!(job["kind"], "sleep");
    assert_eq!(job["queue"], "pings");
    assert_eq!(job["priority"], 8);
    assert_eq!(job["payload"]["ms"], 2);
    s.stop().await;
}
