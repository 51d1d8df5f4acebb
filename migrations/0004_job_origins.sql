-- Where a job came from: a schedule's fire, or a node of a workflow run.
-- (The foreign keys are added with the schedules and workflow tables.)
alter table jobs
    add column schedule_id     uuid,
    add column fire_time       timestamptz,
    add column workflow_run_id uuid,
    add column node_key        text,
    -- One job per fire: two schedulers firing at once create one job.
    add constraint jobs_one_per_fire unique (schedule_id, fire_time),
    add constraint jobs_fire_has_time check ((schedule_id is null) = (fire_time is null)),
    add constraint jobs_node_has_run check ((workflow_run_id is null) = (node_key is null));

create index jobs_workflow_run on jobs (workflow_run_id) where workflow_run_id is not null;
create index jobs_schedule on jobs (schedule_id, fire_time desc) where schedule_id is not null;
