import { spawnSync } from 'node:child_process'

/** Returns the pid of a process that has exited, as a killed postmaster leaves behind. */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
  return Number(child.stdout.toString())
}
