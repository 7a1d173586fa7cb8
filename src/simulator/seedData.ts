import { createRandom, type Random } from './random.js'
import {
  companyStems,
  hostileStrings,
  jobTitles,
  leadStatuses,
  lifecycleStages,
  locales,
  type Locale,
} from './seedNames.js'

/** Stored contact properties; a missing key is a property without a value (rendered as null). */
export type PropertyValues = Record<string, string | null>

/** Share of seeded contacts that carry one hostile value (emoji, CRLF, NUL, huge text ...). */
const hostileShare = 0.03
const ownerIds = ['81234567', '81234568', '90011223', '1234509876', '77700001']

/**
 * Generates the properties of seeded contact number `index`. Pure: the same seed and index give
 * the same values, so the store keeps only ids and timestamps for untouched seeded contacts.
 */
export function generateSeededProperties(seed: number, index: number): PropertyValues {
  const random = createRandom(seed, index + 1)
  const locale = random.pick(locales)
  const [firstName, firstLatin] = random.pick(locale.firstNames)
  const [lastName, lastLatin] = random.pick(locale.lastNames)
  const company = random.chance(0.75) ? generateCompany(random, locale) : null
  const values: PropertyValues = { firstname: firstName, lastname: lastName }

  if (random.chance(0.88)) values.email = generateEmail(random, locale, firstLatin, lastLatin, index, company)
  if (random.chance(0.7)) values.phone = generatePhone(random, locale)
  if (random.chance(0.2)) values.mobilephone = generatePhone(random, locale)
  if (company) values.company = company.name
  if (company && random.chance(0.6)) values.website = `https://www.${company.domain}`
  if (random.chance(0.65)) values.jobtitle = random.pick(jobTitles)
  if (random.chance(0.92)) values.lifecyclestage = random.pick(lifecycleStages)
  if (random.chance(0.4)) values.hs_lead_status = random.pick(leadStatuses)
  if (random.chance(0.5)) values.hubspot_owner_id = random.pick(ownerIds)
  if (random.chance(0.6)) addAddress(random, locale, values)

  if (random.chance(hostileShare)) addHostileValue(random, values)
  return values
}

function generateCompany(random: Random, locale: Locale): { name: string; domain: string } {
  const [stem, slug] = random.pick(companyStems)
  const suffix = random.pick(locale.companySuffixes)
  const name = /^[\u3000-\u9fff\uac00-\ud7af]/.test(suffix) ? `${suffix}${stem}` : `${stem} ${suffix}`
  return { name, domain: `${slug}.${locale.tld}` }
}

function generateEmail(
  random: Random,
  locale: Locale,
  first: string,
  last: string,
  index: number,
  company: { domain: string } | null,
): string {
  const domain = company && random.chance(0.6) ? company.domain : random.pick(locale.freeMail)
  const style = random.int(0, 3)
  const local =
    style === 0 ? `${first}.${last}` : style === 1 ? `${first[0]}${last}` : style === 2 ? `${first}_${last}` : `${last}+crm`
  // The index keeps addresses unique, as HubSpot requires for the email property.
  const address = `${local}${index}@${domain}`
  return random.chance(0.02) ? address.toUpperCase() : address
}

function generatePhone(random: Random, locale: Locale): string {
  const digits = String(random.int(100_000_000, 999_999_999))
  switch (random.int(0, 3)) {
    case 0:
      return `${locale.phonePrefix}${digits}`
    case 1:
      return `${locale.phonePrefix} ${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}`
    case 2:
      return `(${digits.slice(0, 3)}) ${digits.slice(3, 6)}-${digits.slice(6)}`
    default:
      return `0${digits} ext. ${random.int(1, 999)}`
  }
}

function addAddress(random: Random, locale: Locale, values: PropertyValues): void {
  const [city, state] = random.pick(locale.cities)
  values.city = city
  if (state !== null) values.state = state
  values.country = locale.country
}

function addHostileValue(random: Random, values: PropertyValues): void {
  const field = random.pick(['firstname', 'lastname', 'company', 'jobtitle', 'city'])
  const roll = random.next()
  if (roll < 0.15) values[field] = ''
  else if (roll < 0.25) delete values[field]
  else values[field] = random.pick(hostileStrings)
}
