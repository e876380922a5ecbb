-- When an event row was written, by the database clock. `occurred_at` is the
-- event's own time (a device's check-in time may lie hours in the past), so the
-- outbox sweeper measures staleness on this column instead.
alter table visit_events add column recorded_at timestamptz not null default now();

drop index visit_events_unpublished_idx;
create index visit_events_unpublished_idx on visit_events (recorded_at) where published_at is null;
