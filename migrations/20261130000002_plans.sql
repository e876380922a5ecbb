-- Day plans: the optimizer's run for one agency day, its figures, and which
-- assignment decisions it made.

create table plans (
    id                    uuid primary key,
    plan_date             date not null,
    timezone              text not null check (length(timezone) between 1 and 64),
    status                text not null default 'running'
        check (status in ('running', 'completed', 'failed')),
    time_limit_seconds    integer not null check (time_limit_seconds between 1 and 600),
    visits                integer,
    caregivers            integer,
    -- From the solver, in minutes: travel including the legs from and back to
    -- the depot, and lateness against each visit's scheduled start.
    travel_minutes        double precision,
    lateness_minutes      double precision,
    max_lateness_minutes  double precision,
    -- What applying it did: visits given new caregivers, visits left as they
    -- were, visits left unfilled.
    changed               integer,
    unchanged             integer,
    unfilled              integer,
    detail                jsonb not null default '{}',
    created_at            timestamptz not null default now(),
    completed_at          timestamptz
);

alter table assignment_decisions
    drop constraint assignment_decisions_decided_by_check,
    add constraint assignment_decisions_decided_by_check
        check (decided_by in ('engine', 'coordinator', 'call_out', 'planner')),
    add column plan_id uuid references plans;
