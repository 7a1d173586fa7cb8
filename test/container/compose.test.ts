import { readFileSync } from 'node:fs'
import path from 'node:path'

import t from 'tap'
import { parse } from 'yaml'

import { loadConfig } from '../../src/config.js'
import { contextDir, envOf, readStages } from './dockerfileModel.js'

interface ComposeService {
  image?: string
  build?: string
  command?: string[]
  environment?: Record<string, string>
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
  ports?: string[]
  init?: boolean
  stop_grace_period?: string
}

const compose = parse(readFileSync(path.join(contextDir, 'compose.yaml'), 'utf8')) as {
  services: Record<string, ComposeService>
}
const { nats, postgres, service, simulator } = compose.services

/** Replaces `${NAME:-default}` with its default, as Compose does when NAME is unset. */
function withDefaults(environment: Record<string, string>): Record<string, string> {
  const entries = Object.entries(environment).map(([key, value]) => [
    key,
    String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1'),
  ])
  return Object.fromEntries(entries)
}

/** Returns the value of `--name=value` in a command line. */
function option(command: string[] | undefined, name: string): string | undefined {
  const prefix = `--${name}=`
  return command?.find((word) => word.startsWith(prefix))?.slice(prefix.length)
}

/** Converts a Compose duration such as `30s` or `1m30s` to seconds. */
function durationSeconds(value: string): number {
  let seconds = 0
  for (const [, amount, unit] of value.matchAll(/(\d+)(h|m|s)/g)) {
    seconds += Number(amount) * { h: 3600, m: 60, s: 1 }[unit as 'h' | 'm' | 's']
  }
  return seconds
}

const imageEnv = envOf(readStages().at(-1)!)
const serviceEnv = withDefaults(service?.environment ?? {})

t.test('compose.yaml runs PostgreSQL, NATS with JetStream, the simulator and the service', async (t) => {
  t.match(postgres?.image, /^postgres:1[5-9]/, 'PostgreSQL 15 or later')
  t.match(nats?.image, /^nats:2\.(1\d|[2-9]\d)/, 'NATS 2.10 or later')
  t.ok(nats?.command?.includes('-js'), 'NATS runs with JetStream')
  t.equal(service?.build, '.', 'the service is built from the Dockerfile')
  t.equal(simulator?.build, '.', 'so is the simulator')
  t.same(simulator?.command?.slice(0, 3), ['node', 'dist/src/cli.js', 'simulator'], 'the simulator command')
})

t.test('the service configuration is valid and points at the other services', async (t) => {
  const config = loadConfig({ ...imageEnv, ...serviceEnv })
  t.equal(config.HOST, '0.0.0.0', 'listens on every interface of the container')

  const database = new URL(config.DATABASE_URL ?? '')
  const postgresEnv = postgres?.environment ?? {}
  t.equal(database.hostname, 'postgres', 'database host')
  t.equal(database.username, postgresEnv.POSTGRES_USER, 'database user')
  t.equal(database.password, postgresEnv.POSTGRES_PASSWORD, 'database password')
  t.equal(database.pathname, `/${postgresEnv.POSTGRES_DB}`, 'database name')
  t.equal(new URL(config.NATS_URL).hostname, 'nats', 'NATS host')

  const hubspot = new URL(config.HUBSPOT_API_URL)
  t.equal(hubspot.hostname, 'simulator', 'HubSpot is the simulator')
  t.equal(hubspot.port, option(simulator?.command, 'port'), 'on the simulator port')
  t.equal(option(simulator?.command, 'host'), '0.0.0.0', 'the simulator listens beyond its container')
  t.equal(option(simulator?.command, 'client-id'), config.HUBSPOT_CLIENT_ID, 'the same OAuth client id')
  const signingSecret = option(simulator?.command, 'webhook-secret') ?? option(simulator?.command, 'client-secret')
  t.equal(signingSecret, config.HUBSPOT_CLIENT_SECRET, 'webhooks signed with the secret the service checks')
  t.equal(option(simulator?.command, 'webhook-url'), config.WEBHOOK_PUBLIC_URL, 'webhooks sent to the signed URL')
  t.equal(new URL(config.WEBHOOK_PUBLIC_URL ?? '').hostname, 'service', 'which is the service')
  t.ok(service?.ports?.includes(`127.0.0.1:${config.PORT}:${config.PORT}`), 'the service port on 127.0.0.1')
})

t.test('the service starts after its dependencies and stops gracefully', async (t) => {
  t.equal(service?.depends_on?.postgres?.condition, 'service_healthy', 'waits for PostgreSQL to be healthy')
  t.ok(postgres?.healthcheck, 'PostgreSQL has a health check')
  t.equal(service?.depends_on?.simulator?.condition, 'service_healthy', 'waits for the simulator')
  t.match(simulator?.healthcheck?.test.join(' ') ?? '', /4010\/_simulator\/state/, 'the simulator health check')
  t.ok(service?.depends_on?.nats, 'starts after NATS')

  const config = loadConfig({ ...imageEnv, ...serviceEnv })
  const graceSeconds = durationSeconds(service?.stop_grace_period ?? '10s')
  t.ok(graceSeconds * 1000 > config.SHUTDOWN_TIMEOUT_MS, 'SIGKILL comes after the shutdown timeout')
  t.equal(service?.init, true, 'an init process forwards SIGTERM and reaps children')
})
