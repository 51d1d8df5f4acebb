-- Jobs, their attempts, and the kinds workers have registered.
-- The state machine is documented in docs/state-machine.md.

create extension if not exists pg_trgm;

create type job_status as enum (
    'blocked',    -- waits on workflow parents
    'scheduled',  -- due in the future (delayed, or waiting out a retry backoff)
    'queued',     -- due now, in the Redis ready set
    'running',    -- claimed by a worker that holds a lease
    'succeeded',
    'dead',       -- attempts exhausted: the dead-letter queue
    'cancelled',
    'skipped'     -- a workflow parent ended dead, cancelled or skipped
);

create type attempt_outcome as enum (
    'running',
    'succeeded',
    'failed',
    'timed_out',
    'cancelled',
    'interrupted', -- the worker shut down and put the job back
    'lost'         -- the worker vanished; its lease expired
);

create table jobs (
    id               uuid primary key,
    queue            text not null check (queue ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    kind             text not null,
    name             text not null,
    payload          jsonb not null default '{}'::jsonb,
    priority         smallint not null default 5 check (priority between 0 and 9),
    status           job_status not null,
    attempt          integer not null default 0 check (attempt >= 0),
    -- attempts made before the last manual retry or shutdown hand-back; the
    -- job is dead when attempt - attempt_base reaches max_attempts.
    attempt_base     integer not null default 0 check (attempt_base >= 0),
    max_attempts     integer not null default 3 check (max_attempts between 1 and 1000),
    backoff_base_ms  integer not null default 1000 check (backoff_base_ms >= 0),
    backoff_max_ms   integer not null default 3600000 check (backoff_max_ms >= backoff_base_ms),
    timeout_secs     integer check (timeout_secs > 0),
    run_at           timestamptz not null,
    idempotency_key  text,
    request_hash     text,
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    result           jsonb,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    constraint jobs_idempotency_unique unique (queue, idempotency_key),
    constraint jobs_finished_at_iff_final check (
        (finished_at is not null) = (status in ('succeeded', 'dead', 'cancelled', 'skipped'))
    ),
    constraint jobs_lease_iff_running check (
        (lease_owner is not null) = (status = 'running')
    )
);

-- Newest first is id order (UUID v7 is time-ordered); each filter has its own
-- index so a filtered page is a short index scan.
create index jobs_status_id on jobs (status, id desc);
create index jobs_queue_id on jobs (queue, id desc);
create index jobs_kind_id on jobs (kind, id desc);
create index jobs_name_trgm on jobs using gin (name gin_trgm_ops);
create index jobs_finished_at on jobs (finished_at) where finished_at is not null;
create index jobs_due on jobs (run_at) where status in ('scheduled', 'queued');
create index jobs_lease on jobs (lease_expires_at) where status = 'running';

create table job_attempts (
    job_id      uuid not null references jobs (id) on delete cascade,
    attempt     integer not null,
    worker_id   text not null,
    outcome     attempt_outcome not null default 'running',
    started_at  timestamptz not null default now(),
    finished_at timestamptz,
    error       text,
    output      text,
    primary key (job_id, attempt),
    constraint attempts_finished_iff_final check ((finished_at is not null) = (outcome <> 'running'))
);

-- Kinds that some worker can run (built-ins and custom handlers). The api
-- accepts a job only for a kind listed here.
create table job_kinds (
    name          text primary key,
    registered_at timestamptz not null default now(),
    last_seen_at  timestamptz not null default now()
);
