import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'

import t from 'tap'

import { createTestDatabase } from '../helpers/database.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import {
  contextDir,
  copySpec,
  envOf,
  execForm,
  instructionsOf,
  readStages,
  runCommands,
  workdirOf,
  type Stage,
} from './dockerfileModel.js'

const run = promisify(execFile)

/*
 * No container engine runs here, so this test carries out the Dockerfile's steps on the
 * file system: each stage gets a folder standing for its WORKDIR, COPY copies into it, and
 * `npm run build` really runs. `npm ci` links this checkout's node_modules instead of
 * installing, so the image folder also contains devDependencies; dockerfile.test.ts checks that
 * every runtime import is a production dependency.
 */

interface BuiltStage {
  stage: Stage
  dir: string
}

/** Maps a path inside a stage's file system to the folder standing for it. */
function hostPath(built: BuiltStage, containerPath: string): string {
  const workdir = workdirOf(built.stage)
  const absolute = path.posix.resolve(workdir, containerPath)
  if (absolute !== workdir && !absolute.startsWith(`${workdir}/`)) {
    throw new Error(`${containerPath} is outside WORKDIR ${workdir}; the emulation covers WORKDIR only`)
  }
  return path.join(built.dir, path.posix.relative(workdir, absolute))
}

function copy(built: BuiltStage, instruction: Parameters<typeof copySpec>[0], stages: Map<string, BuiltStage>) {
  const spec = copySpec(instruction)
  const intoFolder = spec.sources.length > 1 || spec.destination.endsWith('/')
  for (const source of spec.sources) {
    const from = spec.from === null ? null : stages.get(spec.from)
    if (spec.from !== null && !from) throw new Error(`COPY --from=${spec.from}: no such stage`)
    const sourcePath = from ? hostPath(from, source) : path.join(contextDir, source)
    const target = hostPath(built, spec.destination)
    const destination = intoFolder ? path.join(target, path.basename(source)) : target
    mkdirSync(path.dirname(destination), { recursive: true })
    cpSync(sourcePath, destination, { recursive: true, verbatimSymlinks: true })
  }
}

/** Carries out one command of a RUN; throws for a command the emulation does not know. */
async function runCommand(built: BuiltStage, words: string[]): Promise<void> {
  const line = words.join(' ')
  if (/^npm ci\b/.test(line)) {
    symlinkSync(path.join(contextDir, 'node_modules'), path.join(built.dir, 'node_modules'))
    return
  }
  if (line === 'npm run build') {
    await run('npm', ['run', 'build'], { cwd: built.dir, timeout: 240_000 })
    return
  }
  if (/^node_modules\//.test(line)) {
    await run('sh', ['-c', line], { cwd: built.dir, timeout: 60_000 })
    return
  }
  // Cache cleaning changes nothing here; mkdir and chown act outside WORKDIR (/data).
  if (/^npm cache clean\b/.test(line) || /^(mkdir -p|chown \S+) \/(?!app\b)/.test(line)) return
  throw new Error(`The Dockerfile emulation does not know the command "${line}"; teach it`)
}

async function buildStages(root: string): Promise<Map<string, BuiltStage>> {
  const built = new Map<string, BuiltStage>()
  const stages = readStages()
  for (const [index, stage] of stages.entries()) {
    const name = stage.name ?? `stage-${index}`
    const current = { stage, dir: path.join(root, name) }
    mkdirSync(current.dir)
    for (const instruction of stage.instructions) {
      const keyword = instruction.getKeyword()
      if (keyword === 'COPY') copy(current, instruction, built)
      if (keyword === 'RUN') for (const words of runCommands(instruction)) await runCommand(current, words)
    }
    built.set(name, current)
  }
  return built
}

interface RunningImage {
  child: ChildProcess
  exited: Promise<number | null>
  /** The `msg` of every log line so far. */
  messages: string[]
  /** Resolves with the service URL from the "service started" log line. */
  started: Promise<string>
}

function startImage(cwd: string, argv: string[], env: Record<string, string>): RunningImage {
  const child = spawn(process.execPath, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const messages: string[] = []
  const started = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg: string; url?: string }
      messages.push(entry.msg)
      if (entry.msg === 'service started') resolve(String(entry.url))
    })
    void exited.then((code) => reject(new Error(`the image command exited with ${code} before it started`)))
  })
  return { child, exited, messages, started }
}

t.test('the image built from the Dockerfile serves, reports health and stops on SIGTERM', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'image-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const built = await buildStages(root)
  const image = [...built.values()].at(-1) as BuiltStage

  t.notOk(existsSync(hostPath(image, 'src')), 'no TypeScript source in the image')
  t.notOk(existsSync(hostPath(image, 'tsconfig.json')), 'no tsconfig in the image')
  t.ok(existsSync(hostPath(image, 'dist/src/cli.js')), 'the compiled command line')

  const help = await run(process.execPath, ['bin/hubspot-sync.js', '--help'], { cwd: image.dir })
  t.match(help.stdout, /Usage: hubspot-sync/, 'bin/hubspot-sync.js runs the compiled code')

  const { url: databaseUrl } = await createTestDatabase(t)
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...envOf(image.stage),
    // The image listens on 0.0.0.0 inside its container; here it stays on loopback.
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: path.join(root, 'data'),
    DATABASE_URL: databaseUrl,
    ENCRYPTION_KEY: 'c3'.repeat(32),
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(t),
    SCHEDULER_ENABLED: 'false',
    LOG_LEVEL: 'info',
  }
  const cmd = execForm(instructionsOf(image.stage, 'CMD')[0]) ?? []
  const service = startImage(image.dir, cmd, env)
  t.teardown(() => service.child.kill('SIGKILL'))
  const serviceUrl = await service.started
  const port = new URL(serviceUrl).port

  const readiness = await fetch(`${serviceUrl}/readyz`)
  t.equal(readiness.status, 200, 'ready: the migrations were found in sql/ and applied')
  const document = await fetch(`${serviceUrl}/openapi.yaml`)
  t.equal(await document.text(), readFileSync(path.join(contextDir, 'openapi.yaml'), 'utf8'), 'openapi.yaml served')
  t.equal((await fetch(`${serviceUrl}/docs`)).status, 200, 'docs served')

  const healthcheck = execForm(instructionsOf(image.stage, 'HEALTHCHECK')[0]) ?? []
  const probe = () =>
    run(process.execPath, healthcheck.slice(1), { cwd: image.dir, env: { ...env, PORT: port }, timeout: 10_000 })
      .then(() => 0)
      .catch((error: { code?: number }) => error.code ?? -1)
  t.equal(await probe(), 0, 'HEALTHCHECK passes while the service runs')

  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0, 'SIGTERM ends the process with exit code 0')
  t.ok(service.messages.includes('signal received'), 'the process handled the signal')
  t.ok(service.messages.includes('shutdown complete'), 'and shut down gracefully')
  t.equal(await probe(), 1, 'HEALTHCHECK fails once the service is gone')
})
