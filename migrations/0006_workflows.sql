-- Reusable job definitions, workflows (DAGs of job templates) and their runs.

create table definitions (
    name        text primary key check (name ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    description text,
    -- A job template: the fields of POST /jobs except run_at, delay_ms,
    -- idempotency_key and definition.
    template    jsonb not null,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

create table workflows (
    id          uuid primary key,
    name        text not null unique check (length(name) between 1 and 200),
    description text,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

create table workflow_nodes (
    workflow_id uuid not null references workflows (id) on delete cascade,
    key         text not null check (key ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    -- A job template, possibly naming a definition.
    template    jsonb not null,
    primary key (workflow_id, key)
);

-- Edges are stored once, parent to child; children are derived from them.
create table workflow_edges (
    workflow_id uuid not null,
    parent_key  text not null,
    child_key   text not null,
    primary key (workflow_id, parent_key, child_key),
    foreign key (workflow_id, parent_key) references workflow_nodes (workflow_id, key) on delete cascade,
    foreign key (workflow_id, child_key) references workflow_nodes (workflow_id, key) on delete cascade,
    check (parent_key <> child_key)
);
create index workflow_edges_child on workflow_edges (workflow_id, child_key);

create table workflow_runs (
    id            uuid primary key,
    workflow_id   uuid not null references workflows (id) on delete cascade,
    workflow_name text not null,
    schedule_id   uuid references schedules (id) on delete set null,
    fire_time     timestamptz,
    created_at    timestamptz not null default now(),
    -- One run per schedule fire.
    constraint workflow_runs_one_per_fire unique (schedule_id, fire_time)
);
create index workflow_runs_workflow on workflow_runs (workflow_id, created_at desc);

alter table jobs
    add column pending_parents integer not null default 0 check (pending_parents >= 0),
    add constraint jobs_workflow_run_fk foreign key (workflow_run_id)
        references workflow_runs (id) on delete cascade;

-- A run's edges between its jobs: the snapshot of the workflow's edges when
-- the run started (later edits of the workflow do not change a running run).
create table job_dependencies (
    job_id    uuid not null references jobs (id) on delete cascade,
    parent_id uuid not null references jobs (id) on delete cascade,
    primary key (job_id, parent_id)
);
create index job_dependencies_parent on job_dependencies (parent_id);
