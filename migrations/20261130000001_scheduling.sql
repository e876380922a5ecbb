-- The scheduling decision engine's data: credentials with expiry, weekly
-- availability and dated exceptions (time off, call-outs, extra hours), hour caps,
-- languages and gender for client requirements, home locations for travel, client
-- preferences and exclusions, two-person visits, every caregiver's bookings in one
-- table guarded against double booking, and the log of every decision.

alter table caregivers
    add column languages text[] not null default '{}' check (array_position(languages, null) is null),
    add column gender text check (gender is null or length(btrim(gender)) between 1 and 32),
    add column home_latitude double precision check (home_latitude between -90 and 90),
    add column home_longitude double precision check (home_longitude between -180 and 180),
    add column max_minutes_per_day integer not null default 600
        check (max_minutes_per_day between 1 and 1440),
    add column max_minutes_per_week integer not null default 3000
        check (max_minutes_per_week between 1 and 10080),
    add column overtime_after_minutes_per_week integer not null default 2400
        check (overtime_after_minutes_per_week between 0 and 10080),
    add constraint caregivers_home_both_or_neither
        check ((home_latitude is null) = (home_longitude is null));

-- A skill or certification, valid through expires_on (inclusive) when set.
-- caregivers.skills stays the list of skill names (the indexed pre-filter).
create table caregiver_credentials (
    caregiver_id  uuid not null references caregivers,
    skill         text not null check (skill ~ '^[a-z0-9_]{1,64}$'),
    expires_on    date,
    primary key (caregiver_id, skill)
);
insert into caregiver_credentials (caregiver_id, skill)
    select id, unnest(skills) from caregivers;

-- Recurring weekly hours in the visit's local time. ISO weekday: 1 = Monday.
-- ends = 00:00 means midnight at the end of the day. No rows: no restriction.
create table caregiver_availability (
    id            uuid primary key,
    caregiver_id  uuid not null references caregivers,
    weekday       smallint not null check (weekday between 1 and 7),
    starts        time not null,
    ends          time not null,
    check (ends > starts or ends = '00:00')
);
create index caregiver_availability_caregiver_idx on caregiver_availability (caregiver_id);

create type availability_exception_kind as enum ('unavailable', 'available');

-- A caregiver calling out for a period; the engine re-decides every affected visit.
create table call_outs (
    id            uuid primary key,
    caregiver_id  uuid not null references caregivers,
    period        tstzrange not null
        check (not isempty(period) and lower(period) is not null and upper(period) is not null),
    reason        text not null check (length(btrim(reason)) between 1 and 200),
    created_at    timestamptz not null default now()
);

-- Dated changes to the weekly pattern: time off and call-outs (unavailable) or
-- extra hours (available).
create table caregiver_exceptions (
    id            uuid primary key,
    caregiver_id  uuid not null references caregivers,
    period        tstzrange not null
        check (not isempty(period) and lower(period) is not null and upper(period) is not null),
    kind          availability_exception_kind not null,
    reason        text check (reason is null or length(reason) <= 200),
    call_out_id   uuid unique references call_outs,
    created_at    timestamptz not null default now()
);
create index caregiver_exceptions_period_idx on caregiver_exceptions using gist (caregiver_id, period);

alter table clients
    add column required_language text check (required_language is null or length(btrim(required_language)) between 1 and 32),
    add column required_gender text check (required_gender is null or length(btrim(required_gender)) between 1 and 32);

create type caregiver_preference as enum ('preferred', 'excluded');

-- A client's preferred caregivers and the ones they refused.
create table client_caregiver_preferences (
    client_id     uuid not null references clients,
    caregiver_id  uuid not null references caregivers,
    kind          caregiver_preference not null,
    reason        text check (reason is null or length(reason) <= 200),
    created_at    timestamptz not null default now(),
    primary key (client_id, caregiver_id)
);

alter table visits
    add column caregivers_needed smallint not null default 1 check (caregivers_needed in (1, 2)),
    -- Bumped by every assignment decision; workflows apply only newer decisions.
    add column assignment_version integer not null default 0 check (assignment_version >= 0);

-- Who is booked on which live visit: slot 1 is visits.caregiver_id (the one who
-- records EVV), slot 2 the second caregiver of a two-person visit. The exclusion
-- constraint covers both slots: no caregiver is ever on two overlapping visits.
create table visit_staff (
    visit_id      uuid not null references visits,
    slot          smallint not null check (slot in (1, 2)),
    caregiver_id  uuid not null references caregivers,
    scheduled     tstzrange not null,
    primary key (visit_id, slot),
    unique (visit_id, caregiver_id),
    constraint visit_staff_no_double_booking exclude using gist
        (caregiver_id with =, scheduled with &&)
);
create index visit_staff_caregiver_idx on visit_staff using gist (caregiver_id, scheduled);
insert into visit_staff (visit_id, slot, caregiver_id, scheduled)
    select id, 1, caregiver_id, scheduled from visits
     where caregiver_id is not null and status <> 'cancelled';

-- Continuity of care: who has served whom.
create index visits_caregiver_client_idx on visits (caregiver_id, client_id)
    where status in ('completed', 'invoiced');

-- Every assignment decision, append-only: who decided (engine, coordinator,
-- call-out), the outcome, the score terms, and a coordinator's override reason.
create table assignment_decisions (
    id               uuid primary key,
    visit_id         uuid not null references visits,
    version          integer not null,
    caregiver_ids    uuid[] not null,
    decided_by       text not null check (decided_by in ('engine', 'coordinator', 'call_out')),
    call_out_id      uuid references call_outs,
    override_reason  text check (override_reason is null or length(btrim(override_reason)) between 1 and 200),
    detail           jsonb not null default '{}',
    decided_at       timestamptz not null default now(),
    unique (visit_id, version)
);
