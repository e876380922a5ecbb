-- Billing made real: the agency's settings and holiday calendar, EVV exceptions
-- and the pre-billing hold, payer rate rules (unit, rounding, overtime and holiday
-- multipliers, modifiers), authorizations, client coverage and claims.

-- The agency running this installation: billing provider and submitter on claims,
-- and its EVV policy. Exactly one row; the seeded values are placeholders an agency
-- replaces (PUT /v1/agency) before sending production claims.
create table agency_settings (
    singleton                        boolean primary key default true check (singleton),
    name                             text not null check (length(btrim(name)) between 1 and 60),
    npi                              text not null check (npi ~ '^[0-9]{10}$'),
    tax_id                           text not null check (tax_id ~ '^[0-9]{9}$'),
    taxonomy                         text not null check (taxonomy ~ '^[0-9A-Z]{9}X$'),
    address_line                     text not null check (length(btrim(address_line)) between 1 and 55),
    city                             text not null check (length(btrim(city)) between 2 and 30),
    state                            text not null check (state ~ '^[A-Z]{2}$'),
    -- ZIP+4: claims require all nine digits for the billing provider.
    postal_code                      text not null check (postal_code ~ '^[0-9]{9}$'),
    submitter_id                     text not null check (submitter_id ~ '^[A-Za-z0-9]{2,15}$'),
    contact_name                     text not null check (length(btrim(contact_name)) between 1 and 60),
    contact_phone                    text not null check (contact_phone ~ '^[0-9]{10}$'),
    claims_production                boolean not null default false,
    -- EVV policy. One mile by default.
    geofence_radius_meters           double precision not null default 1609.344
        check (geofence_radius_meters > 0 and geofence_radius_meters <= 100000),
    late_check_in_minutes            integer not null default 15 check (late_check_in_minutes between 0 and 1440),
    early_check_out_minutes          integer not null default 15 check (early_check_out_minutes between 0 and 1440),
    over_scheduled_minutes           integer not null default 15 check (over_scheduled_minutes between 0 and 1440),
    missed_check_out_after_minutes   integer not null default 120
        check (missed_check_out_after_minutes between 1 and 10080),
    -- Worked minutes per week (Monday to Sunday, the client's local time) after
    -- which a caregiver's time bills at the rate's overtime multiplier.
    overtime_after_minutes_per_week  integer not null default 2400
        check (overtime_after_minutes_per_week between 0 and 10080),
    updated_at                       timestamptz not null default now()
);
insert into agency_settings (name, npi, tax_id, taxonomy, address_line, city, state, postal_code,
                             submitter_id, contact_name, contact_phone)
values ('Homecare Agency', '1234567893', '123456789', '251E00000X', '1 Main Street', 'Springfield',
        'IL', '627010001', 'HOMECARE', 'Billing Office', '5555550100');

-- The agency's holiday calendar: visits on these local dates bill at the rate's
-- holiday multiplier.
create table holidays (
    day   date primary key,
    name  text not null check (length(btrim(name)) between 1 and 100)
);

-- Further places a client receives care (day centre, a relative's home): a
-- check-in at any of them, or at the client's address, is inside the geofence.
create table client_locations (
    id          uuid primary key,
    client_id   uuid not null references clients,
    label       text not null check (length(btrim(label)) between 1 and 100),
    latitude    double precision not null check (latitude between -90 and 90),
    longitude   double precision not null check (longitude between -180 and 180)
);
create index client_locations_client_idx on client_locations (client_id);

-- Payers as claims address them.
alter table payers
    add column payer_identifier text not null default 'PRIVATEPAY'
        check (payer_identifier ~ '^[A-Za-z0-9]{2,15}$'),
    add column claim_filing_indicator text not null default 'CI'
        check (claim_filing_indicator in ('09', '11', 'AM', 'BL', 'CI', 'DS', 'HM', 'MA', 'MB', 'MC', 'OF', 'TV', 'VA', 'WC', 'ZZ'));
update payers set payer_identifier = 'SKMD0', claim_filing_indicator = 'MC'
 where id = '00000000-0000-4000-8000-000000000002';

create type billing_unit as enum ('quarter_hour', 'hour', 'visit', 'day');
create type rounding_rule as enum ('eight_minute', 'round_down', 'round_up_threshold');

-- How a payer counts and prices a service: the unit, the rounding rule applied
-- to verified minutes, the HCPCS modifiers billed with the code, and multipliers
-- for overtime and holidays.
alter table rates
    add column unit billing_unit not null default 'quarter_hour',
    add column rounding rounding_rule not null default 'eight_minute',
    add column round_up_threshold_percent numeric(5, 2)
        check (round_up_threshold_percent > 0 and round_up_threshold_percent <= 100),
    add column modifiers text[] not null default '{}'
        check (cardinality(modifiers) <= 4
               and array_to_string(modifiers, ',') ~ '^([A-Z0-9]{2}(,[A-Z0-9]{2})*)?$'),
    add column overtime_multiplier numeric(6, 4) not null default 1
        check (overtime_multiplier between 1 and 10),
    add column holiday_multiplier numeric(6, 4) not null default 1
        check (holiday_multiplier between 1 and 10),
    add constraint rates_threshold_with_its_rule
        check ((rounding = 'round_up_threshold') = (round_up_threshold_percent is not null));

-- Units a payer authorized for a client's service, per week (Monday to Sunday) or
-- per calendar month, over a date range. Billing never exceeds it.
create type authorization_period as enum ('week', 'month');
create table authorizations (
    id            uuid primary key,
    client_id     uuid not null references clients,
    payer_id      uuid not null references payers,
    service_code  text not null references service_codes,
    valid         daterange not null
        check (not isempty(valid) and lower(valid) is not null and upper(valid) is not null),
    units         integer not null check (units between 1 and 100000),
    per           authorization_period not null,
    reference     text check (reference is null or length(btrim(reference)) between 1 and 50),
    created_at    timestamptz not null default now(),
    constraint authorizations_no_overlap exclude using gist
        (client_id with =, payer_id with =, service_code with =, valid with &&)
);

-- The period an authorization counts units in, for a service date: the week
-- (Monday to Sunday) or the calendar month containing it. The one definition
-- billing and the API's remaining units both use.
create function authorization_period(per authorization_period, day date) returns daterange
language sql immutable as $$
    select case per
        when 'week' then daterange(date_trunc('week', day)::date,
                                   (date_trunc('week', day) + interval '7 days')::date)
        else daterange(date_trunc('month', day)::date,
                       (date_trunc('month', day) + interval '1 month')::date)
    end
$$;

-- What a payer knows about the client: member id, demographics and diagnoses.
-- A claim is formed only for clients covered by its payer.
create table client_coverages (
    client_id        uuid not null references clients,
    payer_id         uuid not null references payers,
    member_id        text not null check (member_id ~ '^[A-Za-z0-9-]{1,80}$'),
    last_name        text not null check (length(btrim(last_name)) between 1 and 60 and last_name !~ '[*:^~]'),
    first_name       text not null check (length(btrim(first_name)) between 1 and 35 and first_name !~ '[*:^~]'),
    date_of_birth    date not null,
    gender           text not null check (gender in ('F', 'M', 'U')),
    address_line     text not null check (length(btrim(address_line)) between 1 and 55 and address_line !~ '[*:^~]'),
    city             text not null check (length(btrim(city)) between 2 and 30 and city !~ '[*:^~]'),
    state            text not null check (state ~ '^[A-Z]{2}$'),
    postal_code      text not null check (postal_code ~ '^[0-9]{5}([0-9]{4})?$'),
    diagnosis_codes  text[] not null
        check (cardinality(diagnosis_codes) between 1 and 12
               and array_to_string(diagnosis_codes, ',') ~ '^[A-Z][0-9][0-9A-Z]{1,5}(,[A-Z][0-9][0-9A-Z]{1,5})*$'),
    primary key (client_id, payer_id)
);

-- EVV exceptions. An open exception holds the visit's billing; a coordinator
-- resolves it with a reason code and a note, and the visit's workflow bills.
create type visit_exception_code as enum (
    'outside_geofence', 'late_check_in', 'early_check_out', 'duration_over_scheduled',
    'missed_check_out', 'manual_time_entry', 'authorization_exceeded');
create table visit_exceptions (
    id               uuid primary key,
    visit_id         uuid not null references visits,
    code             visit_exception_code not null,
    -- Where it was found: check_in, check_out, timer (missed check-out) or billing.
    source           text not null check (source in ('check_in', 'check_out', 'timer', 'billing')),
    detail           jsonb not null default '{}',
    raised_at        timestamptz not null default now(),
    resolved_at      timestamptz,
    resolution_code  text check (resolution_code ~ '^[a-z_]{1,40}$'),
    resolution_note  text check (length(btrim(resolution_note)) between 1 and 1000),
    resolved_by      text check (length(btrim(resolved_by)) between 1 and 200),
    constraint visit_exceptions_resolution_complete check (
        (resolved_at is null) = (resolution_code is null)
        and (resolved_at is null) = (resolution_note is null)
        and (resolved_at is null) = (resolved_by is null))
);
-- One open exception per visit, code and source: a retried step raises nothing twice.
create unique index visit_exceptions_open_once on visit_exceptions (visit_id, code, source)
    where resolved_at is null;
create index visit_exceptions_open_idx on visit_exceptions (raised_at) where resolved_at is null;

-- EVV records say how the time was captured: the device's GPS, or a
-- coordinator's manual entry.
create type evv_method as enum ('gps', 'manual');
alter table evv_records
    add column method evv_method not null default 'gps',
    alter column latitude drop not null,
    alter column longitude drop not null,
    add constraint evv_records_gps_has_location
        check (method = 'manual' or (latitude is not null and longitude is not null));

-- Claims: one per payer, client and billing period, grouping approved invoice lines.
create table claims (
    id          uuid primary key,
    -- CLM01, the patient control number payers echo back (at most 20 characters).
    number      bigint generated always as identity unique,
    payer_id    uuid not null references payers,
    client_id   uuid not null references clients,
    period      daterange not null check (not isempty(period)),
    total       numeric(12, 2) not null check (total >= 0),
    line_count  integer not null check (line_count > 0),
    created_at  timestamptz not null default now()
);
create index claims_payer_period_idx on claims using gist (payer_id, period);

-- Each invoice line keeps everything that explains its amount.
alter table invoice_lines
    add column rate_id uuid references rates,
    add column unit billing_unit not null default 'quarter_hour',
    add column modifiers text[] not null default '{}',
    add column overtime_units integer not null default 0 check (overtime_units >= 0),
    add column overtime_multiplier numeric(6, 4) not null default 1,
    add column holiday_multiplier numeric(6, 4) not null default 1,
    add column unadjusted_units integer,
    add column authorization_id uuid references authorizations,
    add column claim_id uuid references claims,
    add constraint invoice_lines_overtime_within_units check (overtime_units <= units);
create index invoice_lines_unclaimed_idx on invoice_lines (payer_id, service_date) where claim_id is null;
create index invoice_lines_authorization_idx on invoice_lines (authorization_id, service_date);

-- ISA13/GS06 of each 837P interchange.
create sequence x12_interchange_control minvalue 1 maxvalue 999999999 cycle;
