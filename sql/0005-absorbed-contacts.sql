-- Contact ids that HubSpot merged into another contact (`hs_merged_object_ids` of the
-- contact that remained), per integration. The import records them when it sees the
-- remaining contact and checks them when a contact without a lead arrives, so an absorbed
-- contact read in a later batch does not become a lead. HubSpot merges cannot be undone,
-- so rows are never removed except with their integration.
create table absorbed_contacts (
  integration_id bigint not null references integrations (id) on delete cascade,
  absorbed_contact_id bigint not null,
  survivor_contact_id bigint not null,
  recorded_at timestamptz not null default now(),
  primary key (integration_id, absorbed_contact_id)
);
