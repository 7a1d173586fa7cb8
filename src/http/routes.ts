import type { FastifyPluginAsync } from 'fastify'

import { getActionDeadLetters } from './routes/getActionDeadLetters.js'
import { getDocs } from './routes/getDocs.js'
import { getHealthz } from './routes/getHealthz.js'
import { getIntegration } from './routes/getIntegration.js'
import { getIntegrationCursor } from './routes/getIntegrationCursor.js'
import { getIntegrationLeads } from './routes/getIntegrationLeads.js'
import { getIntegrationRuns } from './routes/getIntegrationRuns.js'
import { getIntegrations } from './routes/getIntegrations.js'
import { getLead } from './routes/getLead.js'
import { getMetrics } from './routes/getMetrics.js'
import { getReadyz } from './routes/getReadyz.js'
import { getSyncRun } from './routes/getSyncRun.js'
import { getWebhookEvents } from './routes/getWebhookEvents.js'
import { patchIntegration } from './routes/patchIntegration.js'
import { postHubspotWebhook } from './routes/postHubspotWebhook.js'
import { postIntegrationActionsReplay } from './routes/postIntegrationActionsReplay.js'
import { postIntegrations } from './routes/postIntegrations.js'
import { postLeadActionsReplay } from './routes/postLeadActionsReplay.js'
import { postSync } from './routes/postSync.js'
import { postWebhookEventsRetry } from './routes/postWebhookEventsRetry.js'

/**
 * Every route of the service, registered in this order by app.ts. One route per file,
 * named method + noun.
 */
export const routes: FastifyPluginAsync[] = [
  getHealthz,
  getReadyz,
  getMetrics,
  getDocs,
  postHubspotWebhook,
  // Admin routes: each registers adminAuth.
  postIntegrations,
  getIntegrations,
  getIntegration,
  patchIntegration,
  postSync,
  getSyncRun,
  getIntegrationRuns,
  getIntegrationCursor,
  getIntegrationLeads,
  getLead,
  postLeadActionsReplay,
  postIntegrationActionsReplay,
  getActionDeadLetters,
  getWebhookEvents,
  postWebhookEventsRetry,
]
