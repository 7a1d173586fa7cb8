/** Calls `check` every 50 ms until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(condition: string, timeoutMs: number, check: () => Promise<T> | T): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${condition}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Resolves as `promise` does, or rejects naming `condition` once `timeoutMs` have passed. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, condition: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${condition}`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
