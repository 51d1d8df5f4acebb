-- Cheaper submits: a job's name is indexed for the search only when it is
-- not its kind. Measurements: docs/performance.md ("Default names left out
-- of the trigram index").
--
-- A job without a name is named after its kind (`JobSpec::validate`), and
-- most jobs have none. Their names were all indexed in the trigram GIN
-- index all the same: the same few trigrams per job, for text the kind's
-- B-tree (`jobs_kind_id`) already holds. The index now leaves them out; the
-- name search (`shared/src/db/jobs.rs`, `push_filter`) finds them through
-- the kinds whose text matches, read from `jobs_kind_id` one distinct kind
-- at a time, and the others through this index, so it still answers
-- `name ilike '%…%'` without scanning the table.

drop index jobs_name_trgm;
create index jobs_name_trgm on jobs using gin (name gin_trgm_ops) where name <> kind;
