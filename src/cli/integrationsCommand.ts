import { parseArgs } from 'node:util'

import type { Config } from '../config.js'
import { insertIntegration, listIntegrations, type Integration } from '../db/integrations.js'
import { resolveEncryptionKey } from '../encryptionKey.js'
import { isAppError } from '../errors.js'
import { parseNewIntegration } from '../http/schemas/integrationInput.js'
import { withDatabase, type CommandIo } from './commandContext.js'

export const integrationsUsage = `Usage: hubspot-sync integrations add --portal-id ID (--token TOKEN | --refresh-token TOKEN) [options]
       hubspot-sync integrations list [--json]

Registers or lists HubSpot portals, working on the database directly (DATABASE_URL, or the
embedded database in DATA_DIR). Credentials are encrypted with ENCRYPTION_KEY and never printed.
Exits 0 on success, 1 when the database refuses (for example a portal already registered),
2 for invalid arguments.

add:
  --portal-id ID         HubSpot portal (hub) id, a positive integer
  --name NAME            display name (default "Portal ID")
  --token TOKEN          private-app access token
  --refresh-token TOKEN  OAuth refresh token (needs HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET)
  --access-token TOKEN   OAuth access token, used until it expires (optional)
  --expires-at TIME      expiry of --access-token, ISO 8601 (without it the token is refreshed first)
  --actions JSON         new-lead actions, as in POST /integrations
  --burst-per-10s N      HubSpot requests allowed per 10 seconds for this portal
                         (default HUBSPOT_BURST_PER_10_SECONDS)
list:
  --json                 print the integrations as JSON instead of a table

Tokens given on the command line stay in the shell history; POST /integrations avoids that.
`

const addOptions = {
  'portal-id': { type: 'string' },
  name: { type: 'string' },
  token: { type: 'string' },
  'refresh-token': { type: 'string' },
  'access-token': { type: 'string' },
  'expires-at': { type: 'string' },
  actions: { type: 'string' },
  'burst-per-10s': { type: 'string' },
} as const

/** Runs `hubspot-sync integrations add|list`; returns the process exit code. */
export async function runIntegrationsCommand(argv: string[], config: Config, io: CommandIo): Promise<number> {
  const [subcommand, ...rest] = argv
  if (subcommand === 'add') return addIntegration(rest, config, io)
  if (subcommand === 'list') return printIntegrations(rest, config, io)
  io.stderr.write(`Unknown integrations command: ${subcommand ?? '(none)'}\n\n${integrationsUsage}`)
  return 2
}

async function addIntegration(argv: string[], config: Config, io: CommandIo): Promise<number> {
  let body: Record<string, unknown>
  try {
    body = toRequestBody(parseArgs({ args: argv, options: addOptions, strict: true }).values)
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${integrationsUsage}`)
    return 2
  }

  try {
    const input = parseNewIntegration(body, config)
    const integration = await withDatabase(config, async ({ sql, logger }) => {
      const key = await resolveEncryptionKey(config, logger)
      return insertIntegration(sql, key, input)
    })
    io.stdout.write(`Integration ${integration.id} registered for portal ${integration.portalId} (${integration.authType})\n`)
    return 0
  } catch (error) {
    if (!isAppError(error)) throw error
    io.stderr.write(`${error.message}\n`)
    return error.statusCode === 400 ? 2 : 1
  }
}

/** Builds the same body POST /integrations takes, so both validate alike. */
function toRequestBody(values: { [K in keyof typeof addOptions]?: string }): Record<string, unknown> {
  const portalId = values['portal-id']
  if (portalId === undefined) throw new Error('Missing --portal-id ID')
  const body: Record<string, unknown> = { portalId: integerArgument(portalId, '--portal-id') }
  if (values.name !== undefined) body.name = values.name
  if (values.token !== undefined) body.accessToken = values.token
  if (values['refresh-token'] !== undefined) {
    body.oauth = {
      refreshToken: values['refresh-token'],
      accessToken: values['access-token'],
      expiresAt: values['expires-at'],
    }
  } else if (values['access-token'] !== undefined || values['expires-at'] !== undefined) {
    throw new Error('--access-token and --expires-at belong to an OAuth integration; add --refresh-token')
  }
  if (values.actions !== undefined) body.actions = jsonArgument(values.actions, '--actions')
  if (values['burst-per-10s'] !== undefined) {
    body.burstPer10Seconds = integerArgument(values['burst-per-10s'], '--burst-per-10s')
  }
  return body
}

function integerArgument(text: string, name: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`Invalid ${name} ${JSON.stringify(text)}: expected a positive integer`)
  return Number(text)
}

function jsonArgument(text: string, name: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new Error(`Invalid ${name}: not valid JSON (${(error as Error).message})`)
  }
}

async function printIntegrations(argv: string[], config: Config, io: CommandIo): Promise<number> {
  let json: boolean
  try {
    json = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, strict: true }).values.json ?? false
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${integrationsUsage}`)
    return 2
  }

  const integrations = await withDatabase(config, ({ sql }) => listIntegrations(sql))
  if (json) {
    io.stdout.write(`${JSON.stringify(integrations, null, 2)}\n`)
    return 0
  }
  io.stdout.write(formatTable(integrations))
  return 0
}

function formatTable(integrations: Integration[]): string {
  if (integrations.length === 0) return 'No integrations registered\n'
  const header = ['ID', 'PORTAL', 'AUTH', 'STATUS', 'NAME']
  const rows = integrations.map((row) => [String(row.id), String(row.portalId), row.authType, row.status, row.name])
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)))
  const format = (cells: string[]) => `${cells.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()}\n`
  return [header, ...rows].map(format).join('')
}
