import { pathToFileURL } from 'node:url'

import { actionsUsage } from './actions/command.js'
import { withDatabase, type CommandIo, type DatabaseCommandContext } from './cli/commandContext.js'
import { integrationsUsage, runIntegrationsCommand } from './cli/integrationsCommand.js'
import { loadConfig, type Config } from './config.js'
import { resolveEncryptionKey } from './encryptionKey.js'
import { isAppError } from './errors.js'
import type { ServiceHandles } from './server.js'
import { syncUsage } from './sync/syncCommand.js'

export const mainUsage = `Usage: hubspot-sync [command] [options]

Keeps a PostgreSQL leads table in step with HubSpot contacts and publishes lead events to NATS.

Commands:
  serve                  run the service: HTTP API, scheduler and workers (default)
  migrate                apply pending database migrations and exit
  sync                   run one sync in the foreground with progress
  integrations COMMAND   add, list or update HubSpot portals
  actions replay         run new-lead actions that have not run yet
  simulator              start a local HubSpot for trials and tests
  help [command]         show this text, or a command's options

Configuration comes from environment variables (see README.md, "Configuration"); every
command reads the same ones. sync and actions replay publish the outbox (their events and
any older ones) to NATS_URL before they exit. When NATS is unreachable the events wait in
the outbox for the service. Run "hubspot-sync COMMAND --help" for a command's options.
`

export const serveUsage = `Usage: hubspot-sync serve

Runs the service until SIGTERM or SIGINT, then shuts down gracefully within
SHUTDOWN_TIMEOUT_MS milliseconds. Without DATABASE_URL it starts an embedded PostgreSQL in
DATA_DIR. Listens on HOST:PORT. Takes no options; configure it with environment variables.
`

export const migrateUsage = `Usage: hubspot-sync migrate

Applies the pending migrations in sql/ to DATABASE_URL (or the embedded database in DATA_DIR)
and exits 0, or 1 when one fails. Safe while other replicas start: they wait for each other.
`

const usages: Record<string, string> = {
  serve: serveUsage,
  migrate: migrateUsage,
  sync: syncUsage,
  integrations: integrationsUsage,
  actions: actionsUsage,
}

const defaultIo: CommandIo = { stdout: process.stdout, stderr: process.stderr }

/**
 * Runs the command line; returns the exit code (0 success, 1 failure, 2 invalid arguments).
 * `serve` resolves only after the service has shut down.
 */
export async function runCli(argv: string[], env = process.env, io = defaultIo): Promise<number> {
  const [command = 'serve', ...rest] = argv
  if (command === 'help' || command === '--help' || command === '-h') return printHelp(rest[0], io)
  if (command === 'simulator') return runSimulator(rest)
  if (!(command in usages)) {
    io.stderr.write(`Unknown command: ${command}\n\n${mainUsage}`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) return printHelp(command, io)

  const config = loadConfig(env)
  switch (command) {
    case 'serve':
      return serve(config, rest, io)
    case 'migrate':
      return runMigrate(config, rest, io)
    case 'sync':
      return runSync(config, rest, io)
    case 'integrations':
      return runIntegrationsCommand(rest, config, io)
    default:
      return runActions(config, rest, io)
  }
}

// The commands below import their modules when they run, so `--help` and the light
// commands start quickly and load neither the HubSpot client nor the simulator.

async function runSimulator(argv: string[]): Promise<number> {
  const { runSimulatorCommand } = await import('./simulator/command.js')
  await runSimulatorCommand(argv)
  return 0
}

async function runActions(config: Config, argv: string[], io: CommandIo): Promise<number> {
  const { runActionsCommand } = await import('./actions/command.js')
  return withDatabase(config, async (context) => {
    const code = await runActionsCommand(argv, { sql: context.sql, logger: context.logger, ...io })
    if (code !== 2) await publishQueuedEvents(context, io)
    return code
  })
}

async function printHelp(command: string | undefined, io: CommandIo): Promise<number> {
  if (command === 'simulator') return runSimulator(['--help'])
  io.stdout.write(command && usages[command] ? usages[command] : mainUsage)
  return 0
}

async function serve(config: Config, argv: string[], io: CommandIo): Promise<number> {
  if (argv.length > 0) {
    io.stderr.write(`serve takes no arguments, got ${argv.join(' ')}\n\n${serveUsage}`)
    return 2
  }
  const { startService } = await import('./server.js')
  const handles = await startService(config)
  const { timedOut } = await waitForShutdownSignal(handles)
  return timedOut ? 1 : 0
}

/**
 * Resolves once the service has stopped after SIGTERM or SIGINT. A second signal during
 * the shutdown exits at once.
 */
function waitForShutdownSignal(handles: ServiceHandles): Promise<{ timedOut: boolean }> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        handles.logger.warn({ signal }, 'second signal during shutdown; exiting now')
        process.exit(1)
      }
      stopping = true
      handles.logger.info({ signal }, 'signal received')
      void handles.stop().then(resolve)
    }
    let stopping = false
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
}

async function runMigrate(config: Config, argv: string[], io: CommandIo): Promise<number> {
  if (argv.length > 0) {
    io.stderr.write(`migrate takes no arguments, got ${argv.join(' ')}\n\n${migrateUsage}`)
    return 2
  }
  // withDatabase applies the migrations before it runs the action.
  await withDatabase(config, async () => {})
  io.stdout.write('Database is up to date\n')
  return 0
}

async function runSync(config: Config, argv: string[], io: CommandIo): Promise<number> {
  const { createSyncParts } = await import('./server.js')
  const { runSyncCommand } = await import('./sync/syncCommand.js')
  return withDatabase(config, async (context) => {
    const { sql, logger } = context
    const encryptionKey = await resolveEncryptionKey(config, logger)
    const { clients, sync } = createSyncParts({ config, sql, encryptionKey, logger })
    let code: number
    try {
      code = await runSyncCommand(argv, { service: sync, sql, stdout: io.stdout, stderr: io.stderr })
    } finally {
      await sync.stop()
      await clients.close()
    }
    // Exit code 2 means invalid arguments: nothing ran, so nothing new waits.
    if (code !== 2) await publishQueuedEvents(context, io)
    return code
  })
}

async function publishQueuedEvents(context: DatabaseCommandContext, io: CommandIo): Promise<void> {
  const { publishOutbox } = await import('./cli/publishOutbox.js')
  await publishOutbox(context, io)
}

/** Prints a failure as one line an operator can act on; LOG_LEVEL=debug adds the stack. */
function reportFailure(error: unknown, io: CommandIo): number {
  if (isAppError(error)) {
    io.stderr.write(`${error.message}\n`)
    return 1
  }
  const detail = error instanceof Error ? error.message : String(error)
  io.stderr.write(`Failed: ${detail}\n`)
  if (error instanceof Error && process.env.LOG_LEVEL === 'debug') io.stderr.write(`${error.stack}\n`)
  return 1
}

/** Runs the command line of this process and sets its exit code; bin/hubspot-sync.js calls it. */
export async function main(): Promise<void> {
  const code = await runCli(process.argv.slice(2)).catch((error: unknown) => reportFailure(error, defaultIo))
  process.exitCode = code
  // Open handles (a NATS reconnect timer, an idle pool) must not keep a finished command alive.
  if (process.argv[2] !== 'simulator') setTimeout(() => process.exit(code), 100).unref()
}

// `node dist/src/cli.js` (npm start) runs it directly.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void main()
