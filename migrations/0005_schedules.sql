-- Schedules: a cron expression in a time zone, or one time, that creates a
-- job (or starts a workflow run) at each fire. See docs/schedules.md.
create table schedules (
    id            uuid primary key,                  -- UUID v7
    name          text not null unique check (length(btrim(name)) between 1 and 200),
    cron          text,                              -- as given: 5 or 6 fields, or @hourly …
    timezone      text not null default 'UTC',       -- IANA name
    run_at        timestamptz,                       -- the single fire of a one-time schedule
    target        jsonb not null check (
        (target ? 'job') <> (target ? 'workflow')
    ),                                               -- {"job": <JobSpec>} or {"workflow": "<name>"}
    misfire       text not null default 'fire_once'
                  check (misfire in ('skip', 'fire_once', 'fire_all')),
    paused        boolean not null default false,
    next_fire_at  timestamptz,                       -- null once a one-time schedule has fired
    last_fired_at timestamptz,                       -- fire time of the latest fire
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint schedules_cron_or_run_at check ((cron is null) <> (run_at is null))
);

-- What the housekeeping leader looks for at every tick.
create index schedules_due on schedules (next_fire_at)
    where not paused and next_fire_at is not null;

-- A job keeps its fire time when its schedule is deleted: the link is cut
-- (schedule_id set to null) but the job and its history stay. The old check
-- wanted both or neither, so it is relaxed to "a schedule implies a time".
alter table jobs
    drop constraint jobs_fire_has_time,
    add constraint jobs_fire_has_time check (fire_time is not null or schedule_id is null),
    add constraint jobs_schedule_fk foreign key (schedule_id)
        references schedules (id) on delete set null;
