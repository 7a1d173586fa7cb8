-- Lets the inbox worker claim every pending event of a contact together, so one contact's
-- events are ordered and coalesced by one worker even when several replicas share the inbox.
create index webhook_events_pending_contact
  on webhook_events (portal_id, object_id)
  where status = 'pending';
