-- Live workers, and the fencing token of the housekeeping leader.

-- Each worker process registers at start, refreshes last_seen_at at every
-- heartbeat and deletes its row when it stops; a row whose heartbeats stopped
-- is not listed and is pruned by housekeeping.
create table workers (
    id            text primary key,
    host          text not null,
    pid           integer not null,
    queues        text[] not null,
    concurrency   integer not null,
    kinds         text[] not null,
    heartbeat_ms  integer not null check (heartbeat_ms > 0),
    started_at    timestamptz not null default now(),
    last_seen_at  timestamptz not null default now()
);

-- One row. A worker that wins the leader lease in Redis bumps epoch here; every
-- housekeeping write names the epoch it holds, so a deposed leader that has not
-- noticed yet cannot write (its statements match no row).
create table housekeeping_leader (
    id          smallint primary key check (id = 1),
    epoch       bigint not null,
    holder      text,
    acquired_at timestamptz
);
insert into housekeeping_leader (id, epoch) values (1, 0);
