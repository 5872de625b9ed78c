-- The mailer sent every tenant's mail as the outbox relay's role, which could therefore read the
-- mail as well as the outbox. It now has a role of its own, `causerie_mailer` (created by
-- `causerie migrate` like the others), which sees the outgoing mail and nothing else; the relay
-- role is left with the outbox alone.
drop policy outgoing_mail_relay on outgoing_mail;
revoke all on outgoing_mail from causerie_outbox_relay;

create policy outgoing_mail_mailer on outgoing_mail to causerie_mailer using (true) with check (true);
grant select, update, delete on outgoing_mail to causerie_mailer;
