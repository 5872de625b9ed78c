-- A draft entry (a machine translation waiting for a contributor's review) is kept and listed
-- but not matched: saving it publishes it.
alter table knowledge_entries add column draft boolean not null default false;
