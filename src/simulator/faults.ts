import type { FaultOptions } from './options.js'
import type { Random } from './random.js'

/** A fault queued for the next matching request(s), for tests that need one exact failure. */
export interface QueuedFault {
  /** `status` responds with that status, `drop` destroys the connection, `slow` delays by `delayMs`. */
  kind: 'status' | 'drop' | 'slow'
  status?: number
  delayMs?: number
  /** Endpoint name as in request counts (e.g. `POST /crm/v3/objects/contacts/search`); any if omitted. */
  endpoint?: string
  /** How many requests it applies to (default 1). */
  count?: number
}

export type FaultDecision =
  | { kind: 'none' }
  | { kind: 'status'; status: number }
  | { kind: 'drop' }
  | { kind: 'slow'; delayMs: number }

/** Decides which fault, if any, a HubSpot API request gets: queued faults first, then random ones. */
export class FaultInjector {
  private queue: QueuedFault[] = []

  constructor(
    private readonly options: () => FaultOptions,
    private readonly random: Random,
  ) {}

  enqueue(faults: QueuedFault[]): void {
    for (const fault of faults) this.queue.push({ count: 1, ...fault })
  }

  clear(): void {
    this.queue = []
  }

  decide(endpoint: string): FaultDecision[] {
    const queued = this.queue.find((fault) => fault.endpoint === undefined || fault.endpoint === endpoint)
    if (queued) {
      queued.count = (queued.count ?? 1) - 1
      if (queued.count <= 0) this.queue.splice(this.queue.indexOf(queued), 1)
      return [toDecision(queued)]
    }
    const options = this.options()
    const decisions: FaultDecision[] = []
    if (this.random.chance(options.slowRate)) decisions.push({ kind: 'slow', delayMs: options.slowResponseMs })
    if (this.random.chance(options.dropRate)) decisions.push({ kind: 'drop' })
    else if (this.random.chance(options.errorRate)) {
      decisions.push({ kind: 'status', status: this.random.pick(options.errorStatuses) })
    }
    return decisions
  }
}

function toDecision(fault: QueuedFault): FaultDecision {
  if (fault.kind === 'drop') return { kind: 'drop' }
  if (fault.kind === 'slow') return { kind: 'slow', delayMs: fault.delayMs ?? 1000 }
  return { kind: 'status', status: fault.status ?? 500 }
}

/** Returns the body HubSpot's edge sends for an injected status: 502 and 504 come as HTML from the proxy. */
export function faultBody(status: number): { body: unknown; isJson: boolean } {
  if (status === 502 || status === 504) {
    const title = status === 502 ? '502 Bad Gateway' : '504 Gateway Time-out'
    return { body: `<html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>`, isJson: false }
  }
  if (status === 423) {
    return {
      body: { status: 'error', message: 'The resource is locked by another operation. Retry after at least 2 seconds.', category: 'LOCKED' },
      isJson: true,
    }
  }
  return { body: { status: 'error', message: 'internal error' }, isJson: true }
}
