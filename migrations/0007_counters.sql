-- Counters, so the overview and the queues page never count a large table.
--
-- job_counts: jobs per (queue, status); job_throughput: jobs that finished
-- per (minute, queue, status). Both are kept by statement-level triggers that
-- see a whole statement's changed rows at once (transition tables), so a
-- batch of 1,000 outcomes costs one small upsert, not 1,000. Rows are
-- upserted in (queue, status) order so concurrent statements lock counter
-- rows in the same order and cannot deadlock on them.

create table job_counts (
    queue  text not null,
    status job_status not null,
    n      bigint not null,
    primary key (queue, status)
);

create table job_throughput (
    minute timestamptz not null,
    queue  text not null,
    status job_status not null,
    n      bigint not null,
    primary key (minute, queue, status)
);

insert into job_counts (queue, status, n)
select queue, status, count(*) from jobs group by queue, status;

insert into job_throughput (minute, queue, status, n)
select date_trunc('minute', finished_at), queue, status, count(*) from jobs
where finished_at > now() - interval '1 day'
group by 1, 2, 3;

create function job_counts_apply(deltas jsonb) returns void language sql as $$
    insert into job_counts (queue, status, n)
    select d.queue, d.status::job_status, d.n
    from jsonb_to_recordset(deltas) as d(queue text, status text, n bigint)
    order by d.queue, d.status
    on conflict (queue, status) do update set n = job_counts.n + excluded.n;
$$;

create function jobs_count_insert() returns trigger language plpgsql as $$
begin
    perform job_counts_apply(coalesce((
        select jsonb_agg(jsonb_build_object('queue', queue, 'status', status, 'n', n))
        from (select queue, status::text as status, count(*) as n from new_rows group by 1, 2) c
    ), '[]'::jsonb));
    insert into job_throughput (minute, queue, status, n)
    select date_trunc('minute', finished_at), queue, status, count(*) from new_rows
    where finished_at is not null group by 1, 2, 3 order by 1, 2, 3
    on conflict (minute, queue, status) do update set n = job_throughput.n + excluded.n;
    return null;
end $$;

create function jobs_count_update() returns trigger language plpgsql as $$
begin
    perform job_counts_apply(coalesce((
        select jsonb_agg(jsonb_build_object('queue', queue, 'status', status, 'n', n))
        from (
            select queue, status, sum(d) as n from (
                select queue, status::text as status, -1 as d from old_rows
                union all
                select queue, status::text, 1 from new_rows
            ) x group by 1, 2 having sum(d) <> 0
        ) c
    ), '[]'::jsonb));
    insert into job_throughput (minute, queue, status, n)
    select date_trunc('minute', n.finished_at), n.queue, n.status, count(*)
    from new_rows n join old_rows o on o.id = n.id
    where o.finished_at is null and n.finished_at is not null
    group by 1, 2, 3 order by 1, 2, 3
    on conflict (minute, queue, status) do update set n = job_throughput.n + excluded.n;
    return null;
end $$;

create function jobs_count_delete() returns trigger language plpgsql as $$
begin
    perform job_counts_apply(coalesce((
        select jsonb_agg(jsonb_build_object('queue', queue, 'status', status, 'n', -n))
        from (select queue, status::text as status, count(*) as n from old_rows group by 1, 2) c
    ), '[]'::jsonb));
    return null;
end $$;

create trigger jobs_count_insert after insert on jobs
    referencing new table as new_rows for each statement execute function jobs_count_insert();
create trigger jobs_count_update after update on jobs
    referencing old table as old_rows new table as new_rows
    for each statement execute function jobs_count_update();
create trigger jobs_count_delete after delete on jobs
    referencing old table as old_rows for each statement execute function jobs_count_delete();

-- Sorting the jobs list by priority.
create index jobs_priority_id on jobs (priority, id);
