import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { createInterface } from 'node:readline'

import type { Teardown } from './teardown.js'
import { withTimeout } from './waitFor.js'

const repoDir = new URL('../..', import.meta.url).pathname
const cliPath = path.join(repoDir, 'src/cli.ts')
const loader = '@isaacs/ts-node-temp-fork-for-pr-2009/esm'

export interface ServiceProcess {
  child: ChildProcess
  url: string
  /** Parsed log lines of the child, in order; a line that is not JSON is kept as `msg`. */
  lines: Record<string, unknown>[]
  /** Resolves with the exit code, or the signal name when a signal ended the child. */
  exited: Promise<number | string | null>
}

/**
 * Spawns `hubspot-sync serve` through the TypeScript loader, as a deployment runs it, with
 * `env` on top of this process's environment, and resolves once it logs "service started".
 * The child is SIGKILLed at teardown if it is still alive.
 */
export async function spawnService(t: Teardown, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--no-warnings', '--loader', loader, cliPath, 'serve'], {
    cwd: repoDir,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | string | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal))
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return exited
  })

  const lines: Record<string, unknown>[] = []
  const stderr: string[] = []
  child.stderr?.on('data', (chunk) => stderr.push(String(chunk)))
  const started = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = parseLine(line)
      lines.push(entry)
      if (entry.msg === 'service started') resolve(String(entry.url))
    })
    void exited.then((code) => reject(new Error(`serve exited with ${code} before it started: ${stderr.join('')}`)))
  })
  const url = await withTimeout(started, 90_000, 'the service to start')
  return { child, url, lines, exited }
}

function parseLine(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    return { msg: line }
  }
}

/** Sends SIGKILL and resolves once the child is gone. */
export async function killService(service: ServiceProcess): Promise<void> {
  service.child.kill('SIGKILL')
  await service.exited
}

export interface Termination {
  exitCode: number | string | null
  /** Milliseconds from the signal to the exit. */
  elapsedMs: number
}

/** Sends SIGTERM and resolves with the exit code and how long the child took to exit. */
export async function terminateService(service: ServiceProcess): Promise<Termination> {
  const sentAtMs = Date.now()
  service.child.kill('SIGTERM')
  const exitCode = await service.exited
  return { exitCode, elapsedMs: Date.now() - sentAtMs }
}
