-- A project's settings for its assistant, live chat and forms (API.md, POST /v1/projects): the
-- purposes whose consent keeping conversations and supervision need, the message shown when no
-- operator is online, the region phone numbers are read in, and the score an answer needs.
-- None is personal data.
alter table projects
    add column chat_consent_purpose_id text check (length(chat_consent_purpose_id) between 1 and 100),
    add column supervision_purpose_id text check (length(supervision_purpose_id) between 1 and 100),
    add column offline_message text check (length(offline_message) between 1 and 1000),
    add column default_region text check (default_region ~ '^[A-Z]{2}$'),
    add column match_threshold real check (match_threshold between 0.05 and 0.95);
