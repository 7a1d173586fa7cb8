import { actionNames, type ActionName } from '../actions/config.js'
import type { Queryable } from './connection.js'
import { leadColumns, toLead, type Lead, type LeadRow } from './leads.js'

export type LeadActionStatus = 'done' | 'skipped'

export interface LeadActionRow {
  lead_id: number
  action: ActionName
  status: LeadActionStatus
  decision: Record<string, unknown>
  event_id: string | null
  created_at: Date
}

/** One recorded action of a lead, as `GET /leads/:id` shows it. */
export interface LeadAction {
  action: ActionName
  status: LeadActionStatus
  /** Why a skipped action did nothing, such as `disabled` or `condition_not_met`. */
  reason: string | null
  decision: Record<string, unknown>
  eventId: string | null
  createdAt: Date
}

export interface NewLeadAction {
  action: ActionName
  status: LeadActionStatus
  decision: Record<string, unknown>
  eventId: string | null
}

/** A lead with its portal id, as the actions consumer needs it to build events. */
export type LeadForActions = Lead & { portalId: number }

function toLeadAction(row: LeadActionRow): LeadAction {
  const reason = row.decision.reason
  return {
    action: row.action,
    status: row.status,
    reason: typeof reason === 'string' ? reason : null,
    decision: row.decision,
    eventId: row.event_id,
    createdAt: row.created_at,
  }
}

/** Lists what the new-lead actions did for a lead, in the order they run. */
export async function listLeadActions(sql: Queryable, leadId: number): Promise<LeadAction[]> {
  const rows = await sql<LeadActionRow[]>`
    select lead_id, action, status, decision, event_id, created_at
    from lead_actions
    where lead_id = ${leadId}
    order by array_position(array['assign', 'analyze', 'notify', 'sequence'], action)
  `
  return rows.map(toLeadAction)
}

/**
 * Reads a lead and locks its row until the transaction ends, so two deliveries of one
 * lead's message, a replay, and a purge of the lead take turns.
 */
export async function lockLeadForActions(
  sql: Queryable,
  leadId: number,
): Promise<LeadForActions | null> {
  const [row] = await sql<(LeadRow & { portal_id: number })[]>`
    select
      ${sql(leadColumns)},
      (select portal_id from integrations where integrations.id = leads.integration_id) as portal_id
    from leads
    where id = ${leadId}
    for no key update
  `
  return row ? { ...toLead(row), portalId: row.portal_id } : null
}

/**
 * Records actions and returns the names of those written. A recorded action is kept as it
 * is, except that `replaceSkipped` lets a `done` record replace a `skipped` one.
 */
export async function insertLeadActions(
  sql: Queryable,
  leadId: number,
  actions: NewLeadAction[],
  replaceSkipped: boolean,
): Promise<ActionName[]> {
  if (actions.length === 0) return []
  const rows = actions.map((entry) => ({
    lead_id: leadId,
    action: entry.action,
    status: entry.status,
    decision: entry.decision,
    event_id: entry.eventId,
  }))
  const written = await sql<{ action: ActionName }[]>`
    insert into lead_actions ${sql(rows as never[], 'lead_id', 'action', 'status', 'decision', 'event_id')}
    on conflict (lead_id, action) do update set
      status = excluded.status,
      decision = excluded.decision,
      event_id = excluded.event_id,
      created_at = now()
    where ${replaceSkipped}::boolean
      and lead_actions.status = 'skipped'
      and excluded.status = 'done'
    returning action
  `
  return written.map((row) => row.action)
}

/** Adds the outcome of an effect (such as the assigned user) to a recorded decision. */
export async function mergeLeadActionDecision(
  sql: Queryable,
  leadId: number,
  action: ActionName,
  extra: Record<string, unknown>,
): Promise<void> {
  await sql`
    update lead_actions
    set decision = decision || ${extra as never}::jsonb
    where lead_id = ${leadId}
      and action = ${action}
  `
}

/**
 * Takes the integration's next round-robin position (1, 2, 3, ...). The upsert locks the
 * integration's row until the transaction ends, so replicas hand out positions in turn and
 * a rolled-back assignment gives its position back.
 */
export async function advanceAssignmentPosition(sql: Queryable, integrationId: number): Promise<number> {
  const [row] = await sql<{ position: number }[]>`
    insert into assignment_positions (integration_id, position)
    values (${integrationId}, 1)
    on conflict (integration_id) do update set
      position = assignment_positions.position + 1
    returning position
  `
  return row.position
}

export interface Assignment {
  userId: number | null
  teamId: string | null
}

/** Writes a lead's assignment and returns the time it was written. */
export async function assignLead(sql: Queryable, leadId: number, assignment: Assignment): Promise<Date> {
  const [row] = await sql<{ assigned_at: Date }[]>`
    update leads
    set assigned_user_id = ${assignment.userId},
        assigned_team_id = ${assignment.teamId},
        assigned_at = now()
    where id = ${leadId}
    returning assigned_at
  `
  return row.assigned_at
}

export interface NewDeadLetter {
  eventId: string
  leadId: number | null
  deliveries: number
  reason: string
  payload: unknown
}

/**
 * Records a leads.imported message the consumer gave up on. A message already recorded
 * under the same event id and reason is not recorded twice.
 */
export async function insertActionDeadLetter(sql: Queryable, letter: NewDeadLetter): Promise<void> {
  await sql`
    insert into action_dead_letters (event_id, lead_id, deliveries, reason, payload)
    select
      ${letter.eventId}::uuid,
      ${letter.leadId}::bigint,
      ${letter.deliveries},
      ${letter.reason},
      ${letter.payload as never}::jsonb
    where not exists (
      select 1
      from action_dead_letters
      where event_id = ${letter.eventId}::uuid
        and reason = ${letter.reason}
    )
  `
}

export interface ActionDeadLetterRow {
  id: number
  event_id: string
  lead_id: number | null
  deliveries: number
  reason: string
  payload: unknown
  created_at: Date
}

/** Lists dead letters newest first, of one lead or of all, before an id when paging. */
export async function listActionDeadLetters(
  sql: Queryable,
  options: { leadId?: number; before?: number; limit?: number } = {},
): Promise<ActionDeadLetterRow[]> {
  const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000)
  const leadId = options.leadId ?? null
  const before = options.before ?? null
  return sql<ActionDeadLetterRow[]>`
    select id, event_id, lead_id, deliveries, reason, payload, created_at
    from action_dead_letters
    where (${leadId}::bigint is null or lead_id = ${leadId}::bigint)
      and (${before}::bigint is null or id < ${before}::bigint)
    order by id desc
    limit ${limit}
  `
}

/**
 * Lists, in id order after `afterLeadId`, the integration's live leads that still miss a
 * record of some action, or with `includeSkipped` also those with a skipped action.
 */
export async function listLeadsForReplay(
  sql: Queryable,
  integrationId: number,
  options: { afterLeadId: number; limit: number; includeSkipped: boolean },
): Promise<number[]> {
  const rows = await sql<{ id: number }[]>`
    select leads.id
    from leads
    where leads.integration_id = ${integrationId}
      and leads.id > ${options.afterLeadId}
      and leads.deleted_at is null
      and leads.purged_at is null
      and leads.merged_into_contact_id is null
      and (
        (select count(*) from lead_actions where lead_actions.lead_id = leads.id)
          < ${actionNames.length}
        or (
          ${options.includeSkipped}::boolean
          and exists (
            select 1
            from lead_actions
            where lead_actions.lead_id = leads.id
              and lead_actions.status = 'skipped'
          )
        )
      )
    order by leads.id
    limit ${options.limit}
  `
  return rows.map((row) => row.id)
}
