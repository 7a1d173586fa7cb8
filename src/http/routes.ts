import type { FastifyPluginAsync } from 'fastify'

import { getHealthz } from './routes/getHealthz.js'
import { getReadyz } from './routes/getReadyz.js'

/**
 * Every route of the service, registered in this order by app.ts. One route per file,
 * named method + noun.
 */
export const routes: FastifyPluginAsync[] = [getHealthz, getReadyz]
