-- The assistant service's database. Its tables (knowledge bases, scenarios, notifications, anonymous inputs and supervised sessions) come with the issues that build them;
-- this first migration only gives the database its history, so the platform tables (outbox,
-- inbox) and later migrations apply to a database that already has one.
select 1;
