-- The notifier: who wants to be told what and how, who is on call, and every
-- message owed, exactly once per (event, recipient, channel).

-- A person's channels, language and quiet hours. No row: e-mail on (once the
-- address is verified), English, no quiet hours.
create table notification_preferences (
    user_id        uuid primary key references users,
    email          boolean not null default true,
    sms            boolean not null default false,
    push           boolean not null default true,
    -- E.164, for SMS.
    phone          text check (phone is null or phone ~ '^\+[1-9][0-9]{6,14}$'),
    language       text not null default 'en' check (language in ('en', 'es')),
    timezone       text not null default 'UTC' check (length(timezone) between 1 and 64),
    quiet_start    time,
    quiet_end      time,
    updated_at     timestamptz not null default now(),
    check ((quiet_start is null) = (quiet_end is null)),
    check (not sms or phone is not null)
);

-- E-mail goes only to an address its owner proved they read.
alter table users add column email_verified_at timestamptz;

-- A client's family or friends who asked to hear when a caregiver arrives
-- and leaves.
create table client_contacts (
    id             uuid primary key,
    client_id      uuid not null references clients,
    name           text not null check (length(btrim(name)) between 1 and 200),
    email          text check (email is null or (email = lower(btrim(email)) and length(email) between 3 and 200)),
    phone          text check (phone is null or phone ~ '^\+[1-9][0-9]{6,14}$'),
    language       text not null default 'en' check (language in ('en', 'es')),
    -- Opted in to visit news (check-in and check-out).
    visit_updates  boolean not null default false,
    email_verified_at timestamptz,
    created_at     timestamptz not null default now(),
    check (email is not null or phone is not null)
);
create index client_contacts_client on client_contacts (client_id);

-- Who is on call: a coordinator (or admin) for an hour range of a weekday,
-- in the agency's time zone. Data, not configuration: the console edits it.
create table on_call (
    id             uuid primary key,
    -- ISO weekday: 1 Monday .. 7 Sunday.
    weekday        smallint not null check (weekday between 1 and 7),
    start_hour     smallint not null check (start_hour between 0 and 23),
    end_hour       smallint not null check (end_hour between 1 and 24 and end_hour > start_hour),
    user_id        uuid not null references users,
    timezone       text not null check (length(timezone) between 1 and 64),
    -- Escalation goes up: the admin to tell when the on-call coordinator does not act.
    escalate_to    uuid references users,
    created_at     timestamptz not null default now()
);
create index on_call_weekday on on_call (weekday);

-- Every message owed. `recipient` is `user:<id>` or `contact:<id>`; the unique
-- key makes a redelivered event, a second notifier or a restart owe nothing twice.
create table notifications (
    id              uuid primary key,
    event_id        text not null,
    event_type      text not null,
    recipient       text not null check (recipient ~ '^(user|contact):[0-9a-f-]{36}$'),
    channel         text not null check (channel in ('email', 'sms', 'push')),
    -- The e-mail address, phone number or push endpoint at the time.
    address         text not null,
    template        text not null,
    language        text not null check (language in ('en', 'es')),
    urgent          boolean not null,
    -- What the message may say (domain::notify::Facts): no diagnosis, no
    -- address, the client's first name and last initial.
    facts           jsonb not null,
    state           text not null default 'pending'
                    check (state in ('pending', 'sending', 'sent', 'failed', 'dead')),
    attempts        integer not null default 0 check (attempts >= 0),
    next_attempt_at timestamptz not null,
    -- A sender's claim; a claim that outlives it (the sender died) is taken over.
    claimed_until   timestamptz,
    last_error      text check (last_error is null or length(last_error) <= 2000),
    created_at      timestamptz not null default now(),
    sent_at         timestamptz,
    unique (event_id, recipient, channel)
);
-- What the senders poll: due messages in order.
create index notifications_due on notifications (next_attempt_at)
    where state in ('pending', 'failed', 'sending');
create index notifications_state on notifications (state, created_at desc);

-- Web Push subscriptions the caregiver app registered (RFC 8030 endpoint, the
-- browser's P-256 key and auth secret for RFC 8291 message encryption).
create table push_subscriptions (
    id             uuid primary key,
    user_id        uuid not null references users,
    endpoint       text not null unique check (endpoint like 'https://%' or endpoint like 'http://%'),
    p256dh         text not null check (length(p256dh) between 80 and 100),
    auth           text not null check (length(auth) between 16 and 30),
    created_at     timestamptz not null default now()
);
create index push_subscriptions_user on push_subscriptions (user_id);

-- Every message sent is on the audit trail: who (the recipient), the channel
-- and template (the action), the event (the request id); never its body.
create function audit_notification_sent() returns trigger
language plpgsql as $$
begin
    insert into audit_log (actor, role, action, entity_type, entity_id, request_id, digest)
    values (new.recipient, 'system', 'notification.sent.' || new.channel || '.' || new.template,
            'notifications', new.id::text, new.event_id,
            encode(sha256(convert_to(concat_ws(E'\x1f', new.event_id, new.recipient, new.channel,
                                               new.template, new.address), 'UTF8')), 'hex'));
    return new;
end $$;

create trigger notifications_audited after update of state on notifications
    for each row when (new.state = 'sent' and old.state <> 'sent')
    execute function audit_notification_sent();

-- Escalation of an unfilled visit that starts soon: the on-call coordinator
-- has `escalate_after_minutes` to fill it, then the rota's admin is told.
alter table agency_settings
    add column escalate_within_hours integer not null default 4
        check (escalate_within_hours between 0 and 168),
    add column escalate_after_minutes integer not null default 30
        check (escalate_after_minutes between 1 and 1440);

-- Escalations started (EscalationWorkflow, id `escalation-<visit>`), so the
-- notifier knows which to stop when a visit is filled or cancelled.
create table escalations (
    visit_id     uuid not null references visits,
    -- The unfilled alert's event id.
    spell        text not null,
    started_at   timestamptz not null default now(),
    ended_at     timestamptz,
    primary key (visit_id, spell)
);
create index escalations_open on escalations (visit_id) where ended_at is null;

-- A person proving they read their e-mail address: the link's token, stored
-- as its SHA-256 digest, good once for a day.
create table email_verifications (
    digest      bytea primary key check (length(digest) = 32),
    user_id     uuid not null references users,
    email       text not null,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    used_at     timestamptz
);
create index email_verifications_user on email_verifications (user_id);
