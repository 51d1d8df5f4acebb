-- A success without captured output writes no attempt row.
-- Measurements and reasons: docs/performance.md ("The attempt row of a
-- plain success").
--
-- Most attempts are a job's only one and succeed without output, and their
-- row in `job_attempts` said nothing the job row does not: when the attempt
-- started (`started_at`) and ended (`finished_at`), that it succeeded
-- (`status`), and which worker ran it, which the job row forgot when the
-- finish cleared `lease_owner`. With the worker kept here, the finish skips
-- the insert (a heap tuple and a primary-key entry, about a fifth of the
-- finish statement) and db::jobs::attempts reads that attempt from the job
-- row. A succeeded job never changes again (retry takes dead, cancelled and
-- skipped jobs only), so the job row keeps describing it.
--
-- Adding a nullable column without a default rewrites nothing.
alter table jobs add column last_worker text;

comment on column jobs.last_worker is
    'The worker that claimed the latest attempt; unlike lease_owner, kept after it ends.';

-- Every attempt, with or without its row: the rows of `job_attempts`, and the
-- attempts the job row describes instead (the running attempt, whose row is
-- written when it ends, and a success without output). The one definition
-- of "a job's attempts"; db::jobs::attempts reads it by job id (the filter
-- reaches both branches, each by its primary key).
create view all_attempts as
select job_id, attempt, worker_id, outcome, started_at, finished_at, error, output
from job_attempts
union all
select j.id, j.attempt,
       case when j.status = 'running' then j.lease_owner else coalesce(j.last_worker, '') end,
       j.status::text::attempt_outcome,
       coalesce(j.started_at, j.finished_at, now()),
       case when j.status = 'succeeded' then j.finished_at end,
       null::text, null::text
from jobs j
where j.status in ('running', 'succeeded') and j.attempt > 0
  and not exists (select 1 from job_attempts a where a.job_id = j.id and a.attempt = j.attempt);
