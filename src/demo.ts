import { parseArgs } from 'node:util'

import { runDemo } from './demo/runDemo.js'

const usage = `Usage: npm run demo -- [options]

Starts a simulated HubSpot portal and the service against it, registers an integration, runs
its first sync, then streams contact changes through HubSpot webhooks and prints every lead
event that arrives on NATS. Needs NATS with JetStream at NATS_URL (default
nats://127.0.0.1:4222). Uses the embedded PostgreSQL in a temporary folder unless
DATABASE_URL is set.

  --seconds N      stop after N seconds (default 60)
  --contacts N     contacts in the simulated portal (default 2000)
  --seed N         seed of the generated contacts (default 1)
  --interval-ms N  milliseconds between two contact changes (default 1500)
  --help           show this text`

function parsePositive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive integer, got "${value}"`)
  return parsed
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      contacts: { type: 'string' },
      seed: { type: 'string' },
      'interval-ms': { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) {
    console.log(usage)
    return
  }

  const controller = new AbortController()
  let interrupts = 0
  process.on('SIGINT', () => {
    interrupts++
    // A second Ctrl-C exits at once, without the clean shutdown.
    if (interrupts > 1) process.exit(130)
    controller.abort()
  })
  process.on('SIGTERM', () => controller.abort())

  await runDemo({
    seconds: parsePositive('seconds', values.seconds, 60),
    contacts: parsePositive('contacts', values.contacts, 2000),
    seed: parsePositive('seed', values.seed, 1),
    changeIntervalMs: parsePositive('interval-ms', values['interval-ms'], 1500),
    env: process.env,
    print: (line) => console.log(line),
    signal: controller.signal,
  })
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`)
    if (error instanceof Error && error.cause) console.error(error.cause)
    process.exit(1)
  },
)
