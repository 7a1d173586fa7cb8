/**
 * Every NATS subject the service publishes, as CloudEvents types. A deployment may put a
 * prefix in front (NATS_SUBJECT_PREFIX), so several environments can share one NATS.
 */
export const Subject = {
  leadsImported: 'leads.imported',
  leadsUpdated: 'leads.updated',
  leadsDeleted: 'leads.deleted',
  leadsRestored: 'leads.restored',
  leadsMerged: 'leads.merged',
  leadsPurged: 'leads.purged',
  leadsAssigned: 'leads.assigned',
  leadsAnalysisRequested: 'leads.analysis.requested',
  notificationsRequested: 'notifications.requested',
  sequencesEnrollmentRequested: 'sequences.enrollment.requested',
  syncCompleted: 'hubspot.sync.completed',
  syncFailed: 'hubspot.sync.failed',
} as const

export type Subject = (typeof Subject)[keyof typeof Subject]

/** JetStream streams and the subjects each captures, before the prefix is applied. */
export const streams = [
  { name: 'LEADS', subjects: ['leads.>'] },
  { name: 'HUBSPOT_SYNC', subjects: ['hubspot.sync.>'] },
  { name: 'NOTIFICATIONS', subjects: ['notifications.>'] },
  { name: 'SEQUENCES', subjects: ['sequences.>'] },
] as const

/** Returns the subject as published, with the deployment prefix in front. */
export function prefixedSubject(prefix: string, subject: string): string {
  return prefix === '' ? subject : `${prefix}.${subject}`
}

/** Returns a stream name for the prefix; stream names may not contain dots. */
export function prefixedStreamName(prefix: string, name: string): string {
  if (prefix === '') return name
  return `${prefix.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase()}_${name}`
}
