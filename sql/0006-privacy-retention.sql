-- A privacy deletion erases the queued and published events of the purged leads, found by
-- the lead id in the event data. Events without a lead id index as null.
create index outbox_by_lead on outbox ((payload -> 'data' ->> 'leadId'));

-- The retention job deletes published events in publication order.
create index outbox_published on outbox (published_at)
  where published_at is not null;

-- A privacy deletion erases the property values of every stored event of the contact,
-- whatever its status.
create index webhook_events_by_contact on webhook_events (portal_id, object_id);

-- The retention job deletes processed events in processing order. Failed and pending
-- events are never deleted, so they are left out.
create index webhook_events_processed on webhook_events (processed_at)
  where status in ('done', 'ignored');

-- A privacy deletion of a merge survivor also purges the leads merged into it, directly or
-- through a chain of merges, found from the survivor's contact id.
create index leads_merged_into on leads (integration_id, merged_into_contact_id)
  where merged_into_contact_id is not null;

create index absorbed_contacts_by_survivor on absorbed_contacts (integration_id, survivor_contact_id);
