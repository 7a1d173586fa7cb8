import type { FaultOptions } from './options.js'
import type { Random } from './random.js'
import { SimulatorError } from './simulatorError.js'

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

export const faultKinds = ['status', 'drop', 'slow'] as const

type FaultKind = QueuedFault['kind']

/** Fields each kind takes besides `kind`, `endpoint` and `count`. */
const kindFields: Record<FaultKind, readonly string[]> = {
  status: ['status'],
  drop: [],
  slow: ['delayMs'],
}

/** One rejected field of a fault, named by its JSON path such as `faults[0].kind`. */
export interface FaultIssue {
  field: string
  message: string
}

/**
 * Checks a list of queued faults and returns the issues. Rejected are a kind outside
 * `faultKinds`, a field the kind does not take, a status outside 100-599, a negative or
 * fractional `delayMs` or `count`, and an endpoint missing from `endpoints` when given.
 */
export function findFaultIssues(faults: unknown, endpoints?: readonly string[]): FaultIssue[] {
  if (!Array.isArray(faults)) {
    const message = 'faults must be an array such as [{"kind": "status", "status": 503}]'
    return [{ field: 'faults', message }]
  }
  return faults.flatMap((fault, index) => findIssuesOfOne(fault, `faults[${index}]`, endpoints))
}

function findIssuesOfOne(
  fault: unknown,
  path: string,
  endpoints?: readonly string[],
): FaultIssue[] {
  if (typeof fault !== 'object' || fault === null || Array.isArray(fault)) {
    const message = `${path} must be an object with a kind (status, drop or slow)`
    return [{ field: path, message }]
  }
  const input = fault as Record<string, unknown>
  if (!faultKinds.includes(input.kind as FaultKind)) {
    const message = `${path}.kind is ${JSON.stringify(input.kind)}; expected status, drop or slow`
    return [{ field: `${path}.kind`, message }]
  }

  const kind = input.kind as FaultKind
  const allowed = ['kind', ...kindFields[kind], 'endpoint', 'count']
  const issues: FaultIssue[] = Object.keys(input)
    .filter((key) => !allowed.includes(key))
    .map((key) => ({
      field: `${path}.${key}`,
      message: `${path}.${key} is not a field of a ${kind} fault; allowed: ${allowed.join(', ')}`,
    }))
  const check = (key: string, isValid: (value: unknown) => boolean, expected: string) => {
    if (input[key] === undefined || isValid(input[key])) return
    issues.push({ field: `${path}.${key}`, message: `${path}.${key} must be ${expected}` })
  }

  check('status', (value) => isIntegerIn(value, 100, 599), 'an HTTP status from 100 to 599')
  check('delayMs', (value) => isIntegerIn(value, 0), 'a whole number of milliseconds, 0 or more')
  check('count', (value) => isIntegerIn(value, 1), 'a whole number, 1 or more')
  check('endpoint', (value) => isKnownEndpoint(value, endpoints), describeEndpoints(endpoints))
  return issues
}

function isIntegerIn(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}

function isKnownEndpoint(value: unknown, endpoints?: readonly string[]): boolean {
  return typeof value === 'string' && (endpoints === undefined || endpoints.includes(value))
}

function describeEndpoints(endpoints?: readonly string[]): string {
  if (endpoints === undefined) {
    return 'an endpoint as request counts name it, such as GET /crm/v3/objects/contacts'
  }
  return `one of: ${endpoints.join(', ')}`
}

/** Returns the 400 the control API sends for invalid faults, with every issue in `errors`. */
export function invalidFaultsError(issues: FaultIssue[]): SimulatorError {
  const message = issues.map((issue) => issue.message).join('; ')
  return SimulatorError.validation(message, { errors: issues })
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

  /** Queues faults after checking them; throws a 400 SimulatorError naming each invalid field. */
  enqueue(faults: QueuedFault[], endpoints?: readonly string[]): void {
    const issues = findFaultIssues(faults, endpoints)
    if (issues.length > 0) throw invalidFaultsError(issues)
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
