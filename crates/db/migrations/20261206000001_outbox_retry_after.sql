-- A row the broker did not take (returned as unroutable, not confirmed) waits before its next
-- attempt, so that one such row neither spins the relay nor slows the rows behind it.
alter table outbox add column next_attempt_at timestamptz;
