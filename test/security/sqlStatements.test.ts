import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import t from 'tap'

const root = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The only `unsafe(` calls allowed in src/. Each passes text that never comes from a request:
 * the migrator runs the SQL files under sql/, and the embedded PostgreSQL setup creates its
 * database under a name that is a constant of that module. Test helpers that create and drop
 * test databases (test/helpers/database.ts, test/cli.test.ts) are outside src/ and not scanned.
 */
const allowedCalls = [
  { file: 'src/db/embedded.ts', call: 'sql.unsafe(`create database ${databaseName}`)' },
  { file: 'src/db/migrate.ts', call: 'sql.unsafe(text)' },
]

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return entry.name.endsWith('.ts') ? [full] : []
  })
}

t.test('no sql.unsafe outside the listed calls', async (t) => {
  const found: { file: string; call: string }[] = []
  let mentions = 0
  for (const file of sourceFiles(path.join(root, 'src')).sort()) {
    const text = readFileSync(file, 'utf8')
    mentions += [...text.matchAll(/\bunsafe\b/g)].length
    for (const match of text.matchAll(/\b\w+\.unsafe\s*\((?:[^()]|\([^()]*\))*\)/g)) {
      found.push({ file: path.relative(root, file), call: match[0] })
    }
  }
  t.same(found, allowedCalls, 'every unsafe call is one of the reviewed ones')
  // Catches forms the call pattern misses, such as sql['unsafe'] or a line break before it.
  t.equal(mentions, allowedCalls.length, 'the word unsafe appears only in those calls')
})

t.test('the migrator reads migration text only from sql/', async (t) => {
  const migrator = readFileSync(path.join(root, 'src/db/migrate.ts'), 'utf8')
  t.match(migrator, /const text = await readFile\(migration\.file, 'utf8'\)/, 'text is the file content')
  const embedded = readFileSync(path.join(root, 'src/db/embedded.ts'), 'utf8')
  t.match(embedded, /const databaseName = '[a-z_]+'/, 'the embedded database name is a constant')
})

t.test('no SQL text built by concatenation', async (t) => {
  const offenders: string[] = []
  for (const file of sourceFiles(path.join(root, 'src'))) {
    const text = readFileSync(file, 'utf8')
    // A postgres.js call with a plain string argument would run text built at run time.
    if (/\bsql\(\s*['"`][^)]*\b(select|insert|update|delete)\b/i.test(text)) offenders.push(path.relative(root, file))
  }
  t.same(offenders, [], 'queries are tagged templates')
})
