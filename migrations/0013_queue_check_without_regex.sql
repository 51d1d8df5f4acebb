-- The same rule for a job's queue name, checked without a regular expression.
-- Measurements: docs/performance.md ("Cancels, leases and attempt rows").
--
-- PostgreSQL evaluates every CHECK constraint of a table on every UPDATE,
-- whichever columns it changes, so each claim and each finish (which never
-- change the queue) ran `queue ~ '^[A-Za-z0-9_.:-]{1,64}$'`: a profile of
-- the bare claim statement showed the regular expression in 16 % of its
-- time, about 5 µs a job for each of the two updates. `ltrim` with the same
-- characters leaves nothing exactly when every character is one of them,
-- and costs a small fraction of that. The api checks queue names before
-- they get here (`check_identifier`); this is the database's own guard.
--
-- Upgrading checks every existing row under the exclusive lock taken by
-- dropping the old constraint: 1.9 s for a million jobs on the 2-core
-- development machine, during which submits and claims wait.
alter table jobs drop constraint jobs_queue_check;
alter table jobs add constraint jobs_queue_check check (
    length(queue) between 1 and 64
    and ltrim(queue, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-') = ''
);
