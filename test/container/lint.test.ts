import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

import { Ajv } from 'ajv'
import { validate } from 'dockerfile-utils'
import t from 'tap'
import { parse, stringify } from 'yaml'

import { contextDir, dockerfileText } from './dockerfileModel.js'

const run = promisify(execFile)
const composeText = readFileSync(path.join(contextDir, 'compose.yaml'), 'utf8')
const dclint = path.join(contextDir, 'node_modules/.bin/dclint')

/** The Compose specification's JSON schema, as dclint ships it. */
const composeSchema = JSON.parse(
  readFileSync(path.join(contextDir, 'node_modules/dclint/schemas/compose.schema.json'), 'utf8'),
) as Record<string, unknown>

function validateCompose(document: unknown) {
  // The specification's schema uses union types, which strict mode rejects. It names its
  // draft-07 meta-schema with an https URL that Ajv does not register, so that is dropped.
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true })
  const { $schema: _metaSchema, ...schema } = composeSchema
  const check = ajv.compile(schema)
  const valid = check(document)
  return { valid, errors: check.errors ?? [] }
}

async function runDclint(file: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run(dclint, ['--max-warnings', '0', file], { cwd: contextDir, timeout: 60_000 })
    return { code: 0, output: stdout }
  } catch (error) {
    const failure = error as { code?: number; stdout?: string }
    return { code: failure.code ?? -1, output: failure.stdout ?? '' }
  }
}

t.test('npm run lint:container passes', async (t) => {
  const { stdout } = await run('npm', ['run', '--silent', 'lint:container'], { cwd: contextDir, timeout: 120_000 })
  t.notMatch(stdout, /error|warning/i, 'no problem reported')
})

t.test('Dockerfile has no diagnostics from dockerfile-utils', async (t) => {
  const diagnostics = validate(dockerfileText)
  t.same(
    diagnostics.map((diagnostic) => `line ${diagnostic.range.start.line + 1}: ${diagnostic.message}`),
    [],
    'no errors or warnings',
  )
})

t.test('dockerfile-utils reports a broken Dockerfile', async (t) => {
  const broken = dockerfileText.replace('--interval=15s', '--interval=15').replace('COPY sql ./sql', 'COPY sql')
  const messages = validate(broken).map((diagnostic) => diagnostic.message)
  t.same(messages.sort(), ['COPY requires at least two arguments', 'time: missing unit in duration 15'], 'both mistakes')
})

t.test('compose.yaml matches the Compose specification schema', async (t) => {
  const { valid, errors } = validateCompose(parse(composeText))
  t.ok(valid, 'valid')
  t.same(errors, [], 'no schema errors')
})

t.test('the Compose schema check rejects a broken file', async (t) => {
  const document = parse(composeText) as { services: Record<string, Record<string, unknown>> }
  document.services.service.restart_policy = 'always'
  document.services.service.depends_on = { postgres: { condition: 'service_ready' } }
  const { valid, errors } = validateCompose(document)
  t.notOk(valid, 'invalid')
  const paths = errors.map((error) => error.instancePath)
  t.ok(paths.includes('/services/service'), 'unknown service key reported')
  t.ok(paths.includes('/services/service/depends_on/postgres/condition'), 'unknown condition reported')

  const dir = mkdtempSync(path.join(tmpdir(), 'compose-lint-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'compose.yaml')
  writeFileSync(file, stringify(document))
  const result = await runDclint(file)
  t.equal(result.code, 1, 'dclint fails')
  t.match(result.output, /invalid-schema/, 'dclint names the schema error')
})
