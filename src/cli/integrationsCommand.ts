import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'

import type { Config } from '../config.js'
import { insertIntegration, listIntegrations, type Integration } from '../db/integrations.js'
import { applyIntegrationUpdate } from '../db/integrationUpdate.js'
import { resolveEncryptionKey } from '../encryptionKey.js'
import { isAppError } from '../errors.js'
import { parseIntegrationPatch, parseNewIntegration } from '../http/schemas/integrationInput.js'
import { withDatabase, type CommandIo } from './commandContext.js'

export const integrationsUsage = `Usage: hubspot-sync integrations add --portal-id ID (--token TOKEN | --refresh-token TOKEN) [options]
       hubspot-sync integrations list [--json]
       hubspot-sync integrations update --id ID [options]

Registers, lists or changes HubSpot portals, working on the database directly (DATABASE_URL, or
the embedded database in DATA_DIR). Credentials are encrypted with ENCRYPTION_KEY and never
printed. Exits 0 on success, 1 when the integration is not found or the database rejects the
change (for example a portal already registered), 2 for invalid arguments.

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
update (the same checks as PATCH /integrations/:id; options left out keep their value):
  --id ID                integration id, as printed by add and list
  --name NAME            display name
  --status STATUS        active or paused; activating a needs_reauth integration needs new
                         credentials
  --actions JSON         new-lead actions; replaces the whole actions object
  --actions-file PATH    read the actions JSON from a file instead of --actions
  --burst-per-10s N      HubSpot requests allowed per 10 seconds for this portal
  --token TOKEN          new private-app access token
  --refresh-token TOKEN  new OAuth refresh token, with --access-token and --expires-at as for add
  --json                 print the updated integration as JSON instead of a table
  New credentials return a needs_reauth integration to active; a paused one stays paused.

Tokens given on the command line stay in the shell history; POST /integrations and
PATCH /integrations/:id avoid that.
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

const updateOptions = {
  id: { type: 'string' },
  name: { type: 'string' },
  status: { type: 'string' },
  token: { type: 'string' },
  'refresh-token': { type: 'string' },
  'access-token': { type: 'string' },
  'expires-at': { type: 'string' },
  actions: { type: 'string' },
  'actions-file': { type: 'string' },
  'burst-per-10s': { type: 'string' },
  json: { type: 'boolean' },
} as const

/** Runs `hubspot-sync integrations add|list|update`; returns the process exit code. */
export async function runIntegrationsCommand(argv: string[], config: Config, io: CommandIo): Promise<number> {
  const [subcommand, ...rest] = argv
  if (subcommand === 'add') return addIntegration(rest, config, io)
  if (subcommand === 'list') return printIntegrations(rest, config, io)
  if (subcommand === 'update') return changeIntegration(rest, config, io)
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
  addCredentials(body, values)
  if (values.actions !== undefined) body.actions = jsonArgument(values.actions, '--actions')
  if (values['burst-per-10s'] !== undefined) {
    body.burstPer10Seconds = integerArgument(values['burst-per-10s'], '--burst-per-10s')
  }
  return body
}

/** Copies --token or --refresh-token (with --access-token and --expires-at) into a request body. */
function addCredentials(
  body: Record<string, unknown>,
  values: { token?: string; 'refresh-token'?: string; 'access-token'?: string; 'expires-at'?: string },
): void {
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

async function changeIntegration(argv: string[], config: Config, io: CommandIo): Promise<number> {
  let id: number
  let body: Record<string, unknown>
  let json: boolean
  try {
    const { values } = parseArgs({ args: argv, options: updateOptions, strict: true })
    if (values.id === undefined) throw new Error('Missing --id ID')
    id = integerArgument(values.id, '--id')
    body = await toPatchBody(values)
    if (Object.keys(body).length === 0) {
      throw new Error(
        'Nothing to change: give at least one of --name, --status, --actions, --actions-file, ' +
          '--burst-per-10s, --token or --refresh-token',
      )
    }
    json = values.json ?? false
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${integrationsUsage}`)
    return 2
  }

  try {
    const update = parseIntegrationPatch(body, config)
    const updated = await withDatabase(config, ({ sql, logger }) =>
      applyIntegrationUpdate(sql, id, update, () => resolveEncryptionKey(config, logger)),
    )
    io.stdout.write(json ? `${JSON.stringify(updated, null, 2)}\n` : formatTable([updated]))
    return 0
  } catch (error) {
    if (!isAppError(error)) throw error
    io.stderr.write(`${error.message}\n`)
    return error.statusCode === 400 ? 2 : 1
  }
}

/** Builds the same body PATCH /integrations/:id takes, so both validate alike. */
async function toPatchBody(
  values: Omit<{ [K in keyof typeof updateOptions]?: string }, 'id' | 'json'>,
): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {}
  if (values.name !== undefined) body.name = values.name
  if (values.status !== undefined) body.status = values.status
  addCredentials(body, values)
  if (values.actions !== undefined && values['actions-file'] !== undefined) {
    throw new Error('Give either --actions or --actions-file, not both')
  }
  if (values.actions !== undefined) body.actions = jsonArgument(values.actions, '--actions')
  if (values['actions-file'] !== undefined) {
    body.actions = await jsonFileArgument(values['actions-file'], '--actions-file')
  }
  if (values['burst-per-10s'] !== undefined) {
    body.burstPer10Seconds = integerArgument(values['burst-per-10s'], '--burst-per-10s')
  }
  return body
}

async function jsonFileArgument(path: string, name: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new Error(`Failed to read ${name} ${JSON.stringify(path)}: ${(error as Error).message}`)
  }
  return jsonArgument(text, name)
}

function formatTable(integrations: Integration[]): string {
  if (integrations.length === 0) return 'No integrations registered\n'
  const header = ['ID', 'PORTAL', 'AUTH', 'STATUS', 'NAME']
  const rows = integrations.map((row) => [String(row.id), String(row.portalId), row.authType, row.status, row.name])
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)))
  const format = (cells: string[]) => `${cells.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()}\n`
  return [header, ...rows].map(format).join('')
}
