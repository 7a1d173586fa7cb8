import { storedProperties, type ContactRecord } from './contactRecord.js'
import { SimulatorError } from './simulatorError.js'

/**
 * Email lookups of the contact store: the lower-cased email of each live contact, and the
 * emails a GDPR delete blocklisted. The lookup map is built on first use, so seeding a million
 * contacts stays fast.
 */
export class EmailIndex {
  private readonly blockedEmails = new Set<string>()
  private emailIndex: Map<string, number> | null = null

  constructor(
    private readonly records: Map<number, ContactRecord>,
    private readonly seed: number,
  ) {}

  /** Returns the id of the contact with this email, compared without case. */
  findId(email: string): number | undefined {
    return this.emails().get(email.toLowerCase())
  }

  /** Points a lower-cased email at a contact id. */
  set(email: string, id: number): void {
    this.emails().set(email, id)
  }

  /** Blocks an email from use by new contacts (GDPR delete). */
  block(email: string): void {
    this.blockedEmails.add(email.toLowerCase())
  }

  /** Removes the record's email, unless another record has taken it since. */
  forget(record: ContactRecord): void {
    const email = storedProperties(record, this.seed).email
    if (email && this.emailIndex?.get(email.toLowerCase()) === record.id) this.emailIndex.delete(email.toLowerCase())
  }

  assertEmailFree(email: string): void {
    const existing = this.emails().get(email)
    if (existing !== undefined) throw SimulatorError.conflict(`Contact already exists. Existing ID: ${existing}`)
    if (this.blockedEmails.has(email)) {
      throw SimulatorError.validation('This email address was permanently deleted (GDPR) and cannot be used again.')
    }
  }

  moveEmail(record: ContactRecord, previous: string | null, next: string): void {
    this.assertEmailFree(next.toLowerCase())
    if (previous) this.emails().delete(previous.toLowerCase())
    this.emails().set(next.toLowerCase(), record.id)
  }

  private emails(): Map<string, number> {
    if (this.emailIndex) return this.emailIndex
    const index = new Map<string, number>()
    for (const record of this.records.values()) {
      const email = storedProperties(record, this.seed).email
      if (email) index.set(email.toLowerCase(), record.id)
    }
    this.emailIndex = index
    return index
  }
}
