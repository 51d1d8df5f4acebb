-- Two costs of every claim and finish that bought nothing.
-- Measurements: docs/performance.md ("Cancels, leases and attempt rows").

-- 1. The queue-name rule, checked without a regular expression.
--
-- PostgreSQL evaluates every CHECK constraint of a table on every UPDATE,
-- whichever columns it changes, so each claim and each finish (which never
-- change the queue) ran `queue ~ '^[A-Za-z0-9_.:-]{1,64}$'`: a profile of
-- the bare claim statement showed the regular expression in 16 % of its
-- time, about 5 µs a job for each of the two updates. `ltrim` with the same
-- characters leaves nothing exactly when every character is one of them,
-- and costs a small fraction of that (lower case first: it tries the set in
-- order, and most names are lower case). The api checks queue names before
-- they get here (`check_identifier`); this is the database's own guard.
--
-- Upgrading checks every existing row under the exclusive lock taken by
-- dropping the old constraint: 1.9 s for a million jobs on the 2-core
-- development machine, during which submits and claims wait.
alter table jobs drop constraint jobs_queue_check;
alter table jobs add constraint jobs_queue_check check (
    length(queue) between 1 and 64
    and ltrim(queue, 'abcdefghijklmnopqrstuvwxyz0123456789_.:-ABCDEFGHIJKLMNOPQRSTUVWXYZ') = ''
);

-- 2. Room in `live_jobs` for the claim's new row versions.
--
-- A claim rewrites the `live_jobs` rows of its batch (queued -> running, a
-- lease), and that update cannot be HOT: both columns are indexed. On full
-- pages every new version went to another page, and each probe of the
-- trigger's join tried to prune the page it landed on. With half of each
-- page left free the new versions stay beside the old: the claim statement
-- took 37 µs a job instead of 45-48 in a serial replay. Pages written from
-- now on get the room; the table holds only live jobs, so it turns over.
alter table live_jobs set (fillfactor = 50);
