-- Foundation schema: clients, caregivers, payers and rates, visits with a
-- database-level guarantee against double booking, EVV records, invoice lines and
-- the visit event log (the outbox the activities publish from).

create extension if not exists btree_gist;

create table clients (
    id          uuid primary key,
    name        text not null check (length(btrim(name)) between 1 and 200),
    address     text not null check (length(btrim(address)) between 1 and 500),
    latitude    double precision not null check (latitude between -90 and 90),
    longitude   double precision not null check (longitude between -180 and 180),
    timezone    text not null check (length(timezone) between 1 and 64),
    created_at  timestamptz not null default now()
);

create table caregivers (
    id          uuid primary key,
    name        text not null check (length(btrim(name)) between 1 and 200),
    skills      text[] not null default '{}' check (array_position(skills, null) is null),
    active      boolean not null default true,
    created_at  timestamptz not null default now()
);
create index caregivers_skills_idx on caregivers using gin (skills);

create table payers (
    id          uuid primary key,
    name        text not null unique check (length(btrim(name)) between 1 and 200),
    created_at  timestamptz not null default now()
);

-- HCPCS service codes, billed in units of `unit_minutes`.
create table service_codes (
    code         text primary key check (code ~ '^[A-Z][0-9]{4}$'),
    description  text not null,
    unit_minutes integer not null default 15 check (unit_minutes > 0)
);

-- A payer's rate per unit of a service code, valid over a date range. Two rates of
-- the same payer and code never overlap in time.
create table rates (
    id            uuid primary key,
    payer_id      uuid not null references payers,
    service_code  text not null references service_codes,
    unit_rate     numeric(12, 4) not null check (unit_rate >= 0),
    effective     daterange not null check (not isempty(effective)),
    constraint rates_no_overlap exclude using gist
        (payer_id with =, service_code with =, effective with &&)
);

create type visit_status as enum
    ('scheduled', 'unfilled', 'assigned', 'checked_in', 'completed', 'invoiced', 'cancelled');

create table visits (
    id               uuid primary key,
    client_id        uuid not null references clients,
    caregiver_id     uuid references caregivers,
    payer_id         uuid not null references payers,
    service_code     text not null references service_codes,
    scheduled        tstzrange not null
        check (not isempty(scheduled) and lower(scheduled) is not null and upper(scheduled) is not null),
    required_skills  text[] not null default '{}' check (array_position(required_skills, null) is null),
    status           visit_status not null default 'scheduled',
    cancel_reason    text,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint visits_staffed_states_have_caregiver check (
        status not in ('assigned', 'checked_in', 'completed', 'invoiced') or caregiver_id is not null
    ),
    -- A caregiver is never booked on two overlapping visits. Cancelled visits free
    -- the slot. Last line of defence under concurrency: a clash is a retry, not a 500.
    constraint visits_no_double_booking exclude using gist
        (caregiver_id with =, scheduled with &&)
        where (caregiver_id is not null and status <> 'cancelled')
);
create index visits_client_idx on visits (client_id);
create index visits_scheduled_idx on visits using gist (scheduled);
create index visits_status_idx on visits (status);

create type evv_kind as enum ('check_in', 'check_out');

-- Electronic visit verification: who, where (GPS) and when, one record per visit
-- and kind. Service type, client and date come from the visit.
create table evv_records (
    id            uuid primary key,
    visit_id      uuid not null references visits,
    kind          evv_kind not null,
    caregiver_id  uuid not null references caregivers,
    occurred_at   timestamptz not null,
    latitude      double precision not null check (latitude between -90 and 90),
    longitude     double precision not null check (longitude between -180 and 180),
    recorded_at   timestamptz not null default now(),
    constraint evv_records_one_per_kind unique (visit_id, kind)
);

-- One invoice line per visit, enforced by the unique key: a retried or duplicated
-- billing step can never bill a visit twice.
create table invoice_lines (
    id              uuid primary key,
    visit_id        uuid not null references visits,
    payer_id        uuid not null references payers,
    service_code    text not null references service_codes,
    client_id       uuid not null references clients,
    caregiver_id    uuid not null references caregivers,
    service_date    date not null,
    billed_minutes  integer not null check (billed_minutes >= 0),
    units           integer not null check (units >= 0),
    unit_rate       numeric(12, 4) not null check (unit_rate >= 0),
    amount          numeric(12, 2) not null check (amount >= 0),
    rounding_rule   text not null,
    created_at      timestamptz not null default now(),
    constraint invoice_lines_one_per_visit unique (visit_id)
);

-- Every state change of a visit, written in the same transaction as the change.
-- The activity publishes rows whose published_at is null, so a crash between commit
-- and publish is repaired by the activity's retry (the outbox pattern).
create table visit_events (
    event_id      uuid primary key,
    visit_id      uuid not null references visits,
    event_type    text not null,
    subject_tail  text not null,
    envelope      jsonb not null,
    occurred_at   timestamptz not null,
    published_at  timestamptz
);
create index visit_events_visit_idx on visit_events (visit_id, occurred_at);
create index visit_events_unpublished_idx on visit_events (occurred_at) where published_at is null;
