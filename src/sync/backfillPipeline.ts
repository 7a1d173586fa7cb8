import { AppError, ErrorCode } from '../errors.js'
import { syncedProperties, type ContactPage } from '../hubspot/types.js'
import { runInterrupted } from './runExecution.js'
import type { RunContext } from './runTypes.js'

/** The list endpoint returns at most 100 contacts a page. */
export const backfillPageSize = 100

/**
 * Fetches list pages up to `depth` ahead of the consumer. Each call needs the `after` of the
 * page before it, so the calls are chained. A failed call rejects its page and every page
 * chained after it, so the consumer receives the error in page order.
 */
export class ListPageReader {
  private readonly ahead: Promise<ContactPage>[] = []
  private last: Promise<ContactPage>

  constructor(
    private readonly ctx: RunContext,
    after: string | null,
    private readonly depth: number,
  ) {
    this.last = fetchPage(ctx, after)
    this.last.catch(() => {})
    this.ahead.push(this.last)
    this.fill()
  }

  /** Returns the next page; call it again only while the last page had a `nextAfter`. */
  next(): Promise<ContactPage> {
    const page = this.ahead.shift() as Promise<ContactPage>
    this.fill()
    return page
  }

  private fill(): void {
    while (this.ahead.length < this.depth) {
      const previous = this.last
      this.last = previous.then((page) => this.fetchAfter(page))
      // Pages fetched ahead are never awaited once the run stops or fails.
      this.last.catch(() => {})
      this.ahead.push(this.last)
    }
  }

  private fetchAfter(page: ContactPage): Promise<ContactPage> {
    // The consumer stops at the last page, so a page chained past it is never read.
    if (page.nextAfter === null) return Promise.resolve(page)
    if (this.ctx.isStopping()) return Promise.reject(runInterrupted())
    return fetchPage(this.ctx, page.nextAfter)
  }
}

function fetchPage(ctx: RunContext, after: string | null): Promise<ContactPage> {
  return ctx.api.listContacts({ after, limit: backfillPageSize, properties: syncedProperties })
}

/** Work of one page; it calls `afterPrevious` before it writes its resume point. */
export type OrderedWork = (afterPrevious: () => Promise<void>) => Promise<void>

/**
 * Runs up to `concurrency` page imports at once, so the database works on one page while the
 * next is prepared, but lets each page write its resume point only after the page before it
 * committed. A crash therefore never leaves the cursor past a page that was not imported.
 * Failures surface in page order, and a page after a failed one rolls back.
 */
export class OrderedImports {
  private previous: Promise<void> = Promise.resolve()
  private readonly inFlight: Promise<void>[] = []

  constructor(
    private readonly concurrency: number,
    private readonly previousCommitWaitMs: number,
  ) {}

  /** Starts `work` and resolves once fewer than `concurrency` imports are in flight. */
  async add(work: OrderedWork): Promise<void> {
    const previous = this.previous
    const task = work(() => this.waitFor(previous))
    task.catch(() => {})
    this.previous = task
    this.inFlight.push(task)
    if (this.inFlight.length >= this.concurrency) await this.inFlight.shift()
  }

  /** Waits for every import in flight, ignoring their outcome. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.inFlight)
  }

  /** Waits for every import in flight and throws the first failure. */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight.shift()
  }

  /**
   * Waits for the previous page's commit. The wait is bounded because the two transactions
   * could, in a rare case, lock the same lead (a merge touching a lead of the other page),
   * which PostgreSQL cannot detect as a deadlock while one side waits in the application.
   */
  private async waitFor(previous: Promise<void>): Promise<void> {
    const waitMs = this.previousCommitWaitMs
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(previousPageTimeout(waitMs)), waitMs)
    })
    const committed = previous.catch((error: unknown) => {
      throw new AppError(ErrorCode.DATABASE_ERROR, 'The previous backfill page was not imported', {
        cause: error,
      })
    })
    try {
      await Promise.race([committed, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

function previousPageTimeout(waitMs: number): AppError {
  const message =
    `A backfill page waited more than ${waitMs} ms for the page before it to commit; ` +
    'the next run resumes from the cursor'
  return new AppError(ErrorCode.DATABASE_ERROR, message)
}
