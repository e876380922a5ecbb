-- People who sign in to the console and the caregiver app. Machine clients keep
-- using bearer JWTs; people get sessions: a short access token and a rotating
-- refresh token, both stored only as SHA-256 digests.

create table users (
    id             uuid primary key,
    -- Trimmed and lower-cased by the API (domain::accounts::normalize_email).
    email          text not null unique
                   check (email = lower(btrim(email)) and length(email) between 3 and 200),
    display_name   text not null check (length(btrim(display_name)) between 1 and 200),
    role           text not null check (role in ('admin', 'coordinator', 'billing', 'caregiver')),
    -- A caregiver's account stands for exactly one caregiver, and only theirs.
    caregiver_id   uuid unique references caregivers,
    active         boolean not null default true,
    -- Argon2id in PHC string form.
    password_hash  text not null check (password_hash like '$argon2id$%'),
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    check ((role = 'caregiver') = (caregiver_id is not null))
);

-- One sign-in: its tokens rotate, it ends at `expires_at` or when revoked
-- (logout, a refresh token used twice, a password change, deactivation).
create table sessions (
    id             uuid primary key,
    user_id        uuid not null references users,
    created_at     timestamptz not null default now(),
    expires_at     timestamptz not null,
    revoked_at     timestamptz,
    revoked_reason text check (revoked_reason is null or length(revoked_reason) <= 200),
    -- Where the sign-in came from (the peer address).
    address        text check (address is null or length(address) <= 100)
);
create index sessions_user on sessions (user_id) where revoked_at is null;

create table session_tokens (
    digest         bytea primary key check (length(digest) = 32),
    session_id     uuid not null references sessions,
    kind           text not null check (kind in ('access', 'refresh')),
    expires_at     timestamptz not null,
    -- A refresh token is good once: rotation stamps it; a second use revokes
    -- the whole session (someone else holds a copy).
    used_at        timestamptz
);
create index session_tokens_session on session_tokens (session_id);

-- Failed sign-ins per account (`account:<email>`) and per address
-- (`address:<ip>`): domain::accounts::Throttle says when a key is locked.
create table sign_in_throttle (
    key               text primary key check (length(key) <= 260),
    failures          integer not null check (failures >= 1),
    window_started_at timestamptz not null,
    locked_until      timestamptz
);
