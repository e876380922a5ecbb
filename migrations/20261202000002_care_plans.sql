-- Care plans: what a client receives (a service of a payer, its duties, what
-- the caregiver needs) and when (recurring patterns in the client's local
-- time). Generation turns patterns into ordinary visits for a rolling horizon.

alter table agency_settings
    -- How far ahead care plans keep visits generated.
    add column schedule_horizon_days integer not null default 14
        check (schedule_horizon_days between 1 and 62),
    -- A check-out that does not report a required duty raises `missing_duty`.
    add column missing_duty_raises_exception boolean not null default true;

create table care_plans (
    id                 uuid primary key,
    client_id          uuid not null references clients,
    payer_id           uuid not null references payers,
    service_code       text not null references service_codes,
    valid_from         date not null,
    -- The last day the plan applies, inclusive; null while it runs on.
    valid_until        date check (valid_until is null or valid_until >= valid_from),
    -- The last generation found the planned units past an authorization.
    over_authorization boolean not null default false,
    -- Raised with the flag in generation's transaction; cleared once the
    -- alert is published after the commit.
    over_authorization_alert_due boolean not null default false,
    created_at         timestamptz not null default now()
);
create index care_plans_client on care_plans (client_id);

-- What a plan asks for from a date on: a change is a new version, the old ones
-- kept. Of two versions from the same day the later one is in force.
create table care_plan_versions (
    care_plan_id      uuid not null references care_plans,
    version           integer not null check (version >= 1),
    effective_from    date not null,
    duties            jsonb not null,
    required_skills   text[] not null default '{}',
    required_language text check (required_language is null or length(btrim(required_language)) between 1 and 32),
    required_gender   text check (required_gender is null or length(btrim(required_gender)) between 1 and 32),
    note              text check (note is null or length(note) <= 500),
    created_by        text not null,
    created_at        timestamptz not null default now(),
    primary key (care_plan_id, version)
);

create table care_plan_patterns (
    id                     uuid primary key,
    care_plan_id           uuid not null references care_plans,
    kind                   text not null check (kind in ('weekly', 'monthly')),
    -- ISO weekdays, Monday = 1.
    weekdays               smallint[] not null default '{}',
    every_weeks            smallint not null default 1 check (every_weeks in (1, 2)),
    month_day              smallint check (month_day between 1 and 31),
    starts_at              time not null,
    ends_at                time not null check (ends_at > starts_at),
    starts_on              date not null,
    ends_on                date check (ends_on is null or ends_on >= starts_on - 1),
    caregivers_needed      smallint not null default 1 check (caregivers_needed in (1, 2)),
    preferred_caregiver_id uuid references caregivers,
    holidays               text not null default 'skip' check (holidays in ('skip', 'keep')),
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    check ((kind = 'weekly' and cardinality(weekdays) > 0 and month_day is null)
        or (kind = 'monthly' and month_day is not null))
);
create index care_plan_patterns_plan on care_plan_patterns (care_plan_id);

-- One date of a pattern skipped, or moved to another date and time.
create table care_plan_exceptions (
    pattern_id  uuid not null references care_plan_patterns,
    on_date     date not null,
    kind        text not null check (kind in ('skip', 'move')),
    moved_date  date,
    moved_start time,
    moved_end   time,
    created_at  timestamptz not null default now(),
    primary key (pattern_id, on_date),
    check ((kind = 'skip' and moved_date is null and moved_start is null and moved_end is null)
        or (kind = 'move' and moved_date is not null and moved_start is not null
            and moved_end > moved_start))
);

-- A generated visit remembers its plan, pattern, occurrence date and version;
-- a pattern's preferred caregiver comes first for continuity.
alter table visits
    add column care_plan_id           uuid references care_plans,
    add column pattern_id             uuid references care_plan_patterns,
    add column occurrence_date        date,
    add column plan_version           integer,
    add column preferred_caregiver_id uuid references caregivers,
    -- A plan's own language or gender requirement (else the client's).
    add column required_language      text,
    add column required_gender        text;
create index visits_care_plan on visits (client_id, occurrence_date) where care_plan_id is not null;
-- The pattern's previous occurrence (last week's caregiver comes next).
create index visits_pattern on visits (pattern_id, occurrence_date) where pattern_id is not null;

-- The duties a check-out reports, performed or not (with a reason).
alter table evv_records add column duties jsonb;

alter type visit_exception_code add value 'missing_duty';
