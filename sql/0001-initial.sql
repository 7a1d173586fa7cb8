-- One HubSpot portal connection. Credentials are an AES-256-GCM sealed JSON document
-- ({accessToken} or {accessToken, refreshToken}); the key never reaches the database.
create table integrations (
  id bigint generated always as identity primary key,
  portal_id bigint not null unique,
  name text not null,
  auth_type text not null check (auth_type in ('private_app', 'oauth')),
  credentials bytea not null,
  access_token_expires_at timestamptz,
  status text not null default 'active'
    check (status in ('active', 'paused', 'needs_reauth')),
  status_reason text,
  actions jsonb not null default '{}'::jsonb,
  burst_per_10_seconds int,
  owner_user_id bigint,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Where each integration's polls stand. `last_sync_at` is the end of the last fully read
-- window; `window_end` and `cursor_value` are the window in progress and the last
-- hs_object_id (or list `after`) read in it, saved with each page.
create table sync_cursors (
  integration_id bigint not null references integrations (id) on delete cascade,
  cursor_type text not null,
  phase text not null default 'backfill' check (phase in ('backfill', 'incremental')),
  last_sync_at timestamptz,
  window_start timestamptz,
  window_end timestamptz,
  cursor_value text,
  backfill_started_at timestamptz,
  records_synced bigint not null default 0,
  status text not null default 'idle',
  last_error text,
  updated_at timestamptz not null default now(),
  primary key (integration_id, cursor_type)
);

create table sync_runs (
  id bigint generated always as identity primary key,
  integration_id bigint not null references integrations (id) on delete cascade,
  kind text not null default 'contacts' check (kind in ('contacts', 'archived', 'drift')),
  trigger text not null check (trigger in ('schedule', 'manual', 'cli')),
  status text not null default 'running'
    check (status in ('running', 'succeeded', 'failed', 'rate_limited', 'interrupted')),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  window_start timestamptz,
  window_end timestamptz,
  pages int not null default 0,
  hubspot_calls int not null default 0,
  rate_limit_waits int not null default 0,
  created int not null default 0,
  updated int not null default 0,
  unchanged int not null default 0,
  skipped int not null default 0,
  deleted int not null default 0,
  failed int not null default 0,
  details jsonb not null default '{}'::jsonb,
  error_code text,
  error text
);

-- At most one unfinished run of each kind per integration, across every replica.
create unique index sync_runs_one_running
  on sync_runs (integration_id, kind)
  where status = 'running';

create index sync_runs_by_integration on sync_runs (integration_id, id desc);

-- One row per HubSpot contact per integration. The email is data, never identity.
create table leads (
  id bigint generated always as identity primary key,
  integration_id bigint not null references integrations (id) on delete cascade,
  hubspot_contact_id bigint not null,
  email text,
  first_name text,
  last_name text,
  phone text,
  company text,
  job_title text,
  lifecycle_stage text,
  hubspot_owner_id text,
  properties jsonb not null default '{}'::jsonb,
  hubspot_created_at timestamptz,
  hubspot_updated_at timestamptz,
  content_hash text not null,
  deleted_at timestamptz,
  merged_into_contact_id bigint,
  purged_at timestamptz,
  assigned_user_id bigint,
  assigned_team_id text,
  assigned_at timestamptz,
  -- The integration's action settings when the lead was first imported.
  import_actions jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (integration_id, hubspot_contact_id)
);

-- The webhook inbox. `dedup_key` is built from the event's own fields because HubSpot's
-- eventId is not unique.
create table webhook_events (
  id bigint generated always as identity primary key,
  dedup_key text not null unique,
  portal_id bigint not null,
  integration_id bigint references integrations (id) on delete set null,
  subscription_type text not null,
  object_id bigint,
  occurred_at timestamptz not null,
  event jsonb not null,
  status text not null default 'pending'
    check (status in ('pending', 'done', 'failed', 'ignored')),
  attempts int not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text,
  received_at timestamptz not null default now(),
  processed_at timestamptz
);

create index webhook_events_pending on webhook_events (next_attempt_at) where status = 'pending';
create index webhook_events_failed on webhook_events (id) where status = 'failed';

-- Events waiting for NATS. `payload` is the whole CloudEvents envelope; `event_id` is its id
-- and the Nats-Msg-Id header, so a republish is dropped by JetStream.
create table outbox (
  id bigint generated always as identity primary key,
  event_id uuid not null unique,
  subject text not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  published_at timestamptz,
  attempts int not null default 0,
  last_error text
);

create index outbox_unpublished on outbox (id) where published_at is null;

-- What each new-lead action did, once per lead and action.
create table lead_actions (
  lead_id bigint not null references leads (id) on delete cascade,
  action text not null check (action in ('assign', 'analyze', 'notify', 'sequence')),
  status text not null check (status in ('done', 'skipped')),
  decision jsonb not null,
  event_id uuid,
  created_at timestamptz not null default now(),
  primary key (lead_id, action)
);

-- Round-robin positions, kept here so every replica and restart continues the rotation.
create table assignment_positions (
  integration_id bigint primary key references integrations (id) on delete cascade,
  position bigint not null default 0
);

-- leads.imported messages the actions consumer gave up on, with the reason.
create table action_dead_letters (
  id bigint generated always as identity primary key,
  event_id uuid not null,
  lead_id bigint,
  deliveries int not null,
  reason text not null,
  payload jsonb not null,
  created_at timestamptz not null default now()
);
