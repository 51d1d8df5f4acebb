-- Queue settings. A paused queue keeps accepting jobs but no worker claims
-- from it until it is resumed. Mirrored in Redis as `<prefix>:{<queue>}:paused`
-- (checked by the claim script); the reconciler restores the mirror.
create table queues (
    name       text primary key check (name ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    paused     boolean not null default false,
    updated_at timestamptz not null default now()
);
