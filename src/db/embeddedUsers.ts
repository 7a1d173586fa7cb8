import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { link, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'

import { AppError, ErrorCode } from '../errors.js'
import type { Logger } from '../logger.js'

/**
 * A process as the files below record it. On Linux the start time (field 22 of
 * /proc/PID/stat, in clock ticks since boot) is kept too, so a pid that the kernel has
 * given to a new process does not count as the recorded one.
 */
export interface ProcessIdentity {
  pid: number
  startTime: string | null
}

/** How long a start or stop waits for another process of the same DATA_DIR to finish. */
const lockWaitMs = 120_000
const lockPollMs = 100
const lockFileName = 'postgres.lock'
const usersDirName = 'postgres.users'

export function currentProcess(): ProcessIdentity {
  return { pid: process.pid, startTime: readStartTime(process.pid) }
}

/** Returns true while the recorded process runs; a reused pid does not count on Linux. */
export function isProcessAlive(identity: ProcessIdentity): boolean {
  try {
    process.kill(identity.pid, 0)
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (identity.startTime === null) return true
  const stat = readStat(identity.pid)
  // A zombie (state Z) has exited and only waits for its parent to collect its status.
  return stat !== null && stat.state !== 'Z' && stat.startTime === identity.startTime
}

function readStartTime(pid: number): string | null {
  return readStat(pid)?.startTime ?? null
}

/** Reads fields 3 (state) and 22 (start time) of /proc/PID/stat; null without /proc. */
function readStat(pid: number): { state: string; startTime: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name in field 2 may contain spaces, so fields are counted after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] === undefined ? null : { state: fields[0], startTime: fields[19] }
  } catch {
    return null
  }
}

/**
 * Runs `action` while holding DATA_DIR/postgres.lock, so that only one process at a time
 * starts, adopts, joins or stops the embedded cluster. The lock file is created with
 * link(2), which fails when the file exists, and it names its holder. A lock whose holder
 * has died is removed; a live holder is waited for up to two minutes.
 */
export async function withClusterLock<T>(
  dataDir: string,
  logger: Logger,
  action: () => Promise<T>,
): Promise<T> {
  const release = await acquireLock(path.join(dataDir, lockFileName), logger)
  try {
    return await action()
  } finally {
    await release()
  }
}

async function acquireLock(lockPath: string, logger: Logger): Promise<() => Promise<void>> {
  const content = JSON.stringify({ ...currentProcess(), nonce: randomBytes(8).toString('hex') })
  const tempPath = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(tempPath, content, { mode: 0o600 })
  try {
    const deadline = Date.now() + lockWaitMs
    while (!(await tryLink(tempPath, lockPath))) {
      const holder = await readIdentityFile(lockPath)
      if (holder.text === null) continue
      if (holder.identity === null || !isProcessAlive(holder.identity)) {
        await breakStaleLock(lockPath, holder.text, logger)
        continue
      }
      if (Date.now() > deadline) throw lockTimeout(lockPath, holder.identity.pid)
      await delay(lockPollMs)
    }
  } finally {
    await unlink(tempPath).catch(() => {})
  }
  return async () => {
    const current = await readFile(lockPath, 'utf8').catch(() => null)
    if (current === content) await unlink(lockPath)
  }
}

async function tryLink(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

/**
 * Moves the stale lock aside with rename(2), which only one of several racing processes
 * wins. If the file moved aside turns out to be a newer lock, it is linked back.
 */
async function breakStaleLock(lockPath: string, staleText: string, logger: Logger): Promise<void> {
  const asidePath = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString('hex')}`
  try {
    await rename(lockPath, asidePath)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  const moved = await readFile(asidePath, 'utf8').catch(() => null)
  if (moved !== staleText) await tryLink(asidePath, lockPath)
  else logger.warn({ lockPath }, 'removed a lock file left by a stopped process')
  await unlink(asidePath).catch(() => {})
}

function lockTimeout(lockPath: string, pid: number): AppError {
  return new AppError(
    ErrorCode.DATABASE_UNAVAILABLE,
    `Timed out after ${lockWaitMs / 1000} s waiting for process ${pid}, which holds ${lockPath} ` +
      'while it starts or stops the embedded PostgreSQL; stop that process, or delete the file ' +
      'if the pid belongs to another program',
    { context: { lockPath, pid } },
  )
}

interface IdentityFile {
  /** Null when the file does not exist. */
  text: string | null
  /** Null when the file cannot be parsed, as after a crash while it was written. */
  identity: ProcessIdentity | null
}

async function readIdentityFile(file: string): Promise<IdentityFile> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { text: null, identity: null }
    throw error
  }
  try {
    const parsed = JSON.parse(text) as Partial<ProcessIdentity>
    if (!Number.isInteger(parsed.pid)) return { text, identity: null }
    return { text, identity: { pid: parsed.pid as number, startTime: parsed.startTime ?? null } }
  } catch {
    return { text, identity: null }
  }
}

/**
 * Records that this process uses the cluster: one file per open database in
 * DATA_DIR/postgres.users, so two uses in one process count twice. Call it holding the
 * cluster lock. Returns the file to pass to `removeUser`.
 */
export async function addUser(dataDir: string): Promise<string> {
  const usersDir = path.join(dataDir, usersDirName)
  await mkdir(usersDir, { recursive: true })
  const name = `${process.pid}-${randomBytes(6).toString('hex')}.json`
  // Written under a dot name and renamed, so a reader never sees half a file.
  const tempPath = path.join(usersDir, `.${name}`)
  await writeFile(tempPath, JSON.stringify(currentProcess()), { mode: 0o600 })
  await rename(tempPath, path.join(usersDir, name))
  return path.join(usersDir, name)
}

export async function removeUser(file: string): Promise<void> {
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error
  })
}

/**
 * Lists the processes recorded as using the cluster that still run, and deletes the
 * records of those that have died (killed with SIGKILL, for example). Call it holding the
 * cluster lock.
 */
export async function listLiveUsers(dataDir: string, logger: Logger): Promise<ProcessIdentity[]> {
  const usersDir = path.join(dataDir, usersDirName)
  const names = await readdir(usersDir).catch(() => [] as string[])
  const live: ProcessIdentity[] = []
  for (const name of names.filter((entry) => entry.endsWith('.json') && !entry.startsWith('.'))) {
    const file = path.join(usersDir, name)
    const { identity } = await readIdentityFile(file)
    if (identity && isProcessAlive(identity)) {
      live.push(identity)
      continue
    }
    const pid = identity?.pid ?? null
    logger.info({ pid }, 'removing the record of a stopped process that used embedded PostgreSQL')
    await removeUser(file)
  }
  return live
}
