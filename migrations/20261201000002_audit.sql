-- The audit trail: every state-changing API request (written by the API) and
-- every workflow transition (each visit_events row, written by a trigger in the
-- same transaction) lands in audit_log.
--
-- Append-only: UPDATE, DELETE and TRUNCATE are refused, with one exception:
-- sealing, which must make the row the chain's next link. Rows are inserted unsealed (no lock, nothing serialised on the hot
-- path); a sealer (every worker runs one, one at a time by an advisory lock)
-- gives each row in insertion order its chain position, the previous row's hash
-- and its own hash, once. `homecare audit verify` recomputes the chain: a row
-- changed, removed or inserted afterwards breaks it.

create table audit_log (
    seq          bigint generated always as identity primary key,
    at           timestamptz not null default clock_timestamp(),
    actor        text not null check (length(actor) between 1 and 200),
    role         text not null check (role in ('admin', 'coordinator', 'billing', 'caregiver', 'system')),
    action       text not null check (length(action) between 1 and 200),
    entity_type  text not null check (length(entity_type) between 1 and 50),
    entity_id    text check (length(entity_id) <= 100),
    request_id   text check (length(request_id) <= 100),
    status       integer,
    -- sha256 of the change: the request body, or the event envelope.
    digest       text not null check (digest ~ '^[0-9a-f]{64}$'),
    position     bigint unique,
    prev_hash    text check (prev_hash ~ '^[0-9a-f]{64}$'),
    hash         text check (hash ~ '^[0-9a-f]{64}$'),
    constraint audit_log_sealed_together check (
        (position is null) = (hash is null) and (hash is null) = (prev_hash is null))
);
create index audit_log_entity_idx on audit_log (entity_type, entity_id, seq);
create index audit_log_unsealed_idx on audit_log (seq) where hash is null;

-- The hash of a sealed row: everything it says, and the hash before it.
create function audit_log_row_hash(r audit_log) returns text
language sql immutable as $$
    select encode(sha256(convert_to(concat_ws(E'\x1f',
        r.prev_hash, r.position::text, r.seq::text,
        to_char(r.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        r.actor, r.role, r.action, r.entity_type, coalesce(r.entity_id, ''),
        coalesce(r.request_id, ''), coalesce(r.status::text, ''), r.digest), 'UTF8')), 'hex')
$$;

create function audit_log_append_only() returns trigger
language plpgsql as $$
begin
    if tg_op = 'UPDATE'
       and old.hash is null and new.hash is not null
       and (new.seq, new.at, new.actor, new.role, new.action, new.entity_type, new.entity_id,
            new.request_id, new.status, new.digest)
           is not distinct from
           (old.seq, old.at, old.actor, old.role, old.action, old.entity_type, old.entity_id,
            old.request_id, old.status, old.digest)
       -- the next link of the chain, and no other
       and new.position = coalesce((select max(position) from audit_log), 0) + 1
       and new.prev_hash = coalesce((select hash from audit_log where position = new.position - 1),
                                    repeat('0', 64))
       and new.hash = audit_log_row_hash(new) then
        return new; -- sealing, once
    end if;
    raise exception 'audit_log is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege';
end $$;

create trigger audit_log_no_update before update on audit_log
    for each row execute function audit_log_append_only();
create trigger audit_log_no_delete before delete on audit_log
    for each row execute function audit_log_append_only();
create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_append_only();

-- Seals up to `batch` rows in insertion order; returns how many. Concurrent
-- callers do not wait: only the one holding the advisory lock seals.
create function audit_log_seal(batch integer) returns integer
language plpgsql as $$
declare
    last_position bigint;
    last_hash text;
    r audit_log;
    sealed integer := 0;
begin
    if not pg_try_advisory_xact_lock(hashtext('audit_log_seal')) then
        return 0;
    end if;
    select position, hash into last_position, last_hash
      from audit_log where position is not null order by position desc limit 1;
    last_position := coalesce(last_position, 0);
    last_hash := coalesce(last_hash, repeat('0', 64));
    for r in select * from audit_log where hash is null order by seq limit batch loop
        r.position := last_position + 1;
        r.prev_hash := last_hash;
        r.hash := audit_log_row_hash(r);
        update audit_log set position = r.position, prev_hash = r.prev_hash, hash = r.hash
         where seq = r.seq;
        last_position := r.position;
        last_hash := r.hash;
        sealed := sealed + 1;
    end loop;
    return sealed;
end $$;

-- Every workflow transition, as its event row is written.
create function audit_visit_event() returns trigger
language plpgsql as $$
begin
    insert into audit_log (actor, role, action, entity_type, entity_id, request_id, digest)
    values ('workflow', 'system', new.event_type, 'visits', new.visit_id::text, new.event_id::text,
            encode(sha256(convert_to(new.envelope::text, 'UTF8')), 'hex'));
    return new;
end $$;

create trigger visit_events_audited after insert on visit_events
    for each row execute function audit_visit_event();
