-- Wakes the outbox relays as soon as events are queued, instead of at their next poll.
-- One notification per statement (not per row), and PostgreSQL folds identical
-- notifications of one transaction into one, delivered at commit.
create function notify_outbox_inserted() returns trigger
language plpgsql
as $$
begin
  perform pg_notify('outbox_inserted', '');
  return null;
end;
$$;

create trigger outbox_inserted
after insert on outbox
for each statement
execute function notify_outbox_inserted();
