-- Webhooks (issue 7): users subscribe a URL to events and get signed JSON
-- deliveries, retried with backoff, with a delivery log.
--
-- Deliveries are produced inside the transaction that finishes the job, by a
-- statement-level trigger on `jobs` (like the counters of 0007): a crash right
-- after a job finishes cannot lose its delivery, and the finisher pays one
-- tiny query per statement when no webhook wants the event. The workers'
-- delivery loops send them (worker/src/webhooks/).

create table webhooks (
    id           uuid primary key,
    url          text not null check (url ~ '^https?://' and length(url) <= 2048),
    description  text check (length(description) <= 1000),
    events       text[] not null check (
        cardinality(events) > 0
        and events <@ array['job.succeeded', 'job.dead', 'workflow_run.finished']::text[]
    ),
    -- Filters; empty means every queue / every workflow.
    queues       text[] not null default '{}',
    workflow_ids uuid[] not null default '{}',
    -- The HMAC key of the signatures. Shown once (at creation or rotation),
    -- never answered again.
    secret       text not null,
    enabled      boolean not null default true,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

create type webhook_delivery_status as enum (
    'pending',   -- waiting for its first or next attempt (or being sent)
    'succeeded', -- a 2xx answer
    'failed'     -- gave up after WEBHOOK_MAX_ATTEMPTS
);

create table webhook_deliveries (
    id               uuid primary key,
    webhook_id       uuid not null references webhooks (id) on delete cascade,
    -- job.succeeded, job.dead, workflow_run.finished or ping.
    event            text not null,
    -- The body sent, exactly: {"id", "event", "created_at", "data"}.
    payload          jsonb not null,
    status           webhook_delivery_status not null default 'pending',
    -- Attempts started; the delivery fails for good when attempts -
    -- attempt_base reaches the limit (a redelivery sets attempt_base).
    attempts         integer not null default 0 check (attempts >= 0),
    attempt_base     integer not null default 0 check (attempt_base >= 0),
    -- When a pending delivery is due; while an attempt is in flight, when it
    -- may be taken again (the sender died).
    next_attempt_at  timestamptz not null default now(),
    last_status_code integer,
    last_error       text,
    -- The first KiB of the last answer's body.
    response_excerpt text,
    -- One delivery per webhook and key (null: no deduplication); see
    -- webhook_run_checks.
    dedupe_key       text,
    created_at       timestamptz not null default now(),
    delivered_at     timestamptz,
    constraint webhook_deliveries_once unique (webhook_id, dedupe_key),
    constraint webhook_deliveries_delivered_iff_succeeded
        check ((delivered_at is not null) = (status = 'succeeded'))
);
-- The senders' scan for due deliveries.
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at)
    where status = 'pending';
-- A webhook's deliveries, newest first (ids are UUID v7).
create index webhook_deliveries_webhook on webhook_deliveries (webhook_id, id desc);
-- Retention.
create index webhook_deliveries_created on webhook_deliveries (created_at);

-- One row per attempt: when, the answer's status code or the error, how long.
create table webhook_delivery_attempts (
    delivery_id uuid not null references webhook_deliveries (id) on delete cascade,
    attempt     integer not null,
    started_at  timestamptz not null default now(),
    finished_at timestamptz,
    status_code integer,
    error       text,
    duration_ms integer,
    primary key (delivery_id, attempt)
);

-- Runs that may have just finished. A run's status is derived from its jobs,
-- and its last two jobs may finish at once in two transactions that cannot
-- see each other: checking "every job final" inside the trigger could then
-- miss the end (or need a lock on the run in the finisher's hot path). So the
-- trigger only notes the run here; a delivery loop checks it after commit
-- and creates the workflow_run.finished deliveries, deduplicated per run and
-- finish (dedupe_key) when two checks see the same end.
create table webhook_run_checks (
    id     bigint generated always as identity primary key,
    run_id uuid not null
);

-- A UUID v7 (time-ordered, like the ids made in Rust). PostgreSQL 18 has
-- uuidv7(); this works from 13 on: the v4 bytes with the first 48 bits
-- replaced by the Unix time in milliseconds and the version set to 7.
create function conveyor_uuid_v7() returns uuid language sql volatile as $$
    select encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                    from 1 for 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- RFC 3339 in UTC with a Z, as the api writes times.
create function webhook_time(t timestamptz) returns text language sql stable as $$
    select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

create function jobs_webhook_events() returns trigger language plpgsql as $$
declare
    wants_jobs boolean;
    wants_runs boolean;
begin
    -- The whole cost when no enabled webhook wants these events.
    select coalesce(bool_or(events && array['job.succeeded', 'job.dead']::text[]), false),
           coalesce(bool_or('workflow_run.finished' = any(events)), false)
      into wants_jobs, wants_runs
      from webhooks where enabled;

    if wants_jobs then
        insert into webhook_deliveries (id, webhook_id, event, payload)
        select d.id, d.webhook_id, d.event,
               jsonb_build_object('id', d.id, 'event', d.event,
                                  'created_at', webhook_time(now()),
                                  'data', jsonb_build_object('job', d.job))
        from (
            select conveyor_uuid_v7() as id, w.id as webhook_id, e.event,
                   -- Never the payload: its env and headers may hold secrets.
                   jsonb_build_object(
                       'id', n.id, 'queue', n.queue, 'kind', n.kind, 'name', n.name,
                       'status', n.status, 'attempt', n.attempt,
                       'max_attempts', n.max_attempts, 'last_error', n.last_error,
                       'result', n.result, 'workflow_run_id', n.workflow_run_id,
                       'node_key', n.node_key, 'schedule_id', n.schedule_id,
                       'created_at', webhook_time(n.created_at),
                       'finished_at', webhook_time(n.finished_at)) as job
            from new_rows n
            join old_rows o on o.id = n.id
            cross join lateral (
                select case n.status when 'succeeded' then 'job.succeeded' else 'job.dead' end
                       as event
            ) e
            join webhooks w on w.enabled and e.event = any(w.events)
                and (cardinality(w.queues) = 0 or n.queue = any(w.queues))
                and (cardinality(w.workflow_ids) = 0 or exists (
                        select 1 from workflow_runs r
                        where r.id = n.workflow_run_id and r.workflow_id = any(w.workflow_ids)))
            where n.status in ('succeeded', 'dead') and o.status <> n.status
            order by n.id, w.id
        ) d;
    end if;

    if wants_runs then
        insert into webhook_run_checks (run_id)
        select distinct n.workflow_run_id
        from new_rows n join old_rows o on o.id = n.id
        where n.workflow_run_id is not null
          and n.status in ('succeeded', 'dead', 'cancelled', 'skipped')
          and o.status <> n.status;
    end if;
    return null;
end $$;

create trigger jobs_webhook_events after update on jobs
    referencing old table as old_rows new table as new_rows
    for each statement execute function jobs_webhook_events();
