-- The live-chat service's database. Its tables (conversations, messages and operator routing) come with the issues that build them;
-- this first migration only gives the database its history, so the platform tables (outbox,
-- inbox) and later migrations apply to a database that already has one.
select 1;
