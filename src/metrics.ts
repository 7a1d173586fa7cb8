import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Prometheus metrics of the service, served at GET /metrics. One registry per process;
 * tests read values from it with `registry.getSingleMetric(name)`.
 */
export const registry = new Registry()
collectDefaultMetrics({ register: registry })

export const syncRuns = new Counter({
  name: 'hubspot_sync_runs_total',
  help: 'Finished sync runs, by kind, trigger and outcome',
  labelNames: ['kind', 'trigger', 'outcome'] as const,
  registers: [registry],
})

export const contactsImported = new Counter({
  name: 'hubspot_sync_contacts_total',
  help: 'Contacts passed through the import service, by origin and outcome',
  labelNames: ['origin', 'outcome'] as const,
  registers: [registry],
})

export const hubspotCalls = new Counter({
  name: 'hubspot_sync_hubspot_calls_total',
  help: 'HubSpot API calls, by endpoint and HTTP status (0 for a network failure)',
  labelNames: ['endpoint', 'status'] as const,
  registers: [registry],
})

export const hubspotRateLimited = new Counter({
  name: 'hubspot_sync_hubspot_rate_limited_total',
  help: 'HubSpot 429 responses, by policyName',
  labelNames: ['policy'] as const,
  registers: [registry],
})

export const rateLimitWaitSeconds = new Counter({
  name: 'hubspot_sync_rate_limit_wait_seconds_total',
  help: 'Seconds spent waiting for a HubSpot rate-limit budget, by bucket',
  labelNames: ['bucket'] as const,
  registers: [registry],
})

export const rateLimitWaits = new Counter({
  name: 'hubspot_sync_rate_limit_waits_total',
  help: 'Calls that waited for a HubSpot rate-limit budget before being sent, by bucket',
  labelNames: ['bucket'] as const,
  registers: [registry],
})

export const webhookRequests = new Counter({
  name: 'hubspot_sync_webhook_requests_total',
  help: 'Webhook deliveries, by outcome (accepted, invalid_signature, invalid_body, too_large, unavailable)',
  labelNames: ['outcome'] as const,
  registers: [registry],
})

export const webhookAckSeconds = new Histogram({
  name: 'hubspot_sync_webhook_ack_seconds',
  help: 'Time from receiving a webhook delivery to answering it',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
})

export const inboxDepth = new Gauge({
  name: 'hubspot_sync_inbox_depth',
  help: 'Webhook events waiting to be processed',
  registers: [registry],
})

export const inboxOldestAgeSeconds = new Gauge({
  name: 'hubspot_sync_inbox_oldest_age_seconds',
  help: 'Age of the oldest webhook event waiting to be processed',
  registers: [registry],
})

export const outboxDepth = new Gauge({
  name: 'hubspot_sync_outbox_depth',
  help: 'Events waiting to be published to NATS',
  registers: [registry],
})

export const outboxPublishLagSeconds = new Histogram({
  name: 'hubspot_sync_outbox_publish_lag_seconds',
  help: 'Time from an event entering the outbox to its JetStream acknowledgement',
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300],
  registers: [registry],
})

export const actionOutcomes = new Counter({
  name: 'hubspot_sync_lead_actions_total',
  help: 'New-lead actions, by action and outcome (done, skipped, dead_lettered)',
  labelNames: ['action', 'outcome'] as const,
  registers: [registry],
})

export const driftFound = new Counter({
  name: 'hubspot_sync_drift_contacts_total',
  help: 'Contacts found out of step by the drift check, by kind (missing_locally, missing_in_hubspot, erased_in_hubspot)',
  labelNames: ['kind'] as const,
  registers: [registry],
})
