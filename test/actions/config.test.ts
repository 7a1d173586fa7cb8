import t from 'tap'

import { matchesCondition, type ConditionSubject } from '../../src/actions/conditions.js'
import { actionsConfigIssues, parseActionsConfig } from '../../src/actions/config.js'
import { ErrorCode, isAppError } from '../../src/errors.js'
import { defaultTestActions } from '../events/support.js'
import { allActions } from './support.js'

t.test('the documented example is valid', async (t) => {
  const example = {
    assign: { enabled: true, strategy: 'round_robin', userIds: [101, 102, 103] },
    analyze: { enabled: true, instructions: 'Summarise company fit and buying intent' },
    notify: { enabled: true, channel: 'slack', recipients: ['#new-leads'] },
    sequence: {
      enabled: true,
      sequenceId: 'onboarding-2026',
      when: { field: 'lifecycleStage', equals: 'lead' },
    },
  }
  t.same(actionsConfigIssues(example), [])
  t.same(parseActionsConfig(example), example)
  t.same(actionsConfigIssues({}), [], 'no actions is valid')
  t.same(actionsConfigIssues({ assign: { enabled: false } }), [], 'a disabled action needs no settings')
})

const invalid: [string, unknown, { field: string; reason: string }[]][] = [
  [
    'empty user list',
    { assign: { enabled: true, strategy: 'round_robin', userIds: [] } },
    [{ field: 'actions.assign.userIds', reason: 'expected a non-empty array of distinct positive integers (at most 1000)' }],
  ],
  [
    'user id zero',
    { assign: { enabled: true, strategy: 'round_robin', userIds: [1, 0] } },
    [{ field: 'actions.assign.userIds', reason: 'expected a non-empty array of distinct positive integers (at most 1000)' }],
  ],
  [
    'unknown strategy',
    { assign: { enabled: true, strategy: 'random' } },
    [{ field: 'actions.assign.strategy', reason: 'expected one of round_robin, team, hubspot_owner' }],
  ],
  [
    'key of another strategy',
    { assign: { enabled: true, strategy: 'team', teamId: 'emea', userIds: [1] } },
    [{ field: 'actions.assign.userIds', reason: 'unknown key; expected enabled, strategy, teamId, when' }],
  ],
  [
    'owner map with a bad key and value',
    { assign: { enabled: true, strategy: 'hubspot_owner', ownerMap: { abc: 1, '12': -3 } } },
    [
      // Integer-like keys come first in a JavaScript object.
      { field: 'actions.assign.ownerMap.12', reason: 'expected a positive integer' },
      { field: 'actions.assign.ownerMap.abc', reason: 'expected a HubSpot owner id (digits) as key' },
    ],
  ],
  [
    'enabled missing',
    { analyze: { instructions: 'x' } },
    [{ field: 'actions.analyze.enabled', reason: 'expected true or false' }],
  ],
  [
    'misspelt action',
    { sequnce: { enabled: true, sequenceId: 'x' } },
    [{ field: 'actions.sequnce', reason: 'unknown key; expected assign, analyze, notify, sequence' }],
  ],
  [
    'notify without recipients',
    { notify: { enabled: true, channel: 'slack', recipients: [] } },
    [{ field: 'actions.notify.recipients', reason: 'expected a non-empty array of strings' }],
  ],
  [
    'blank sequence id',
    { sequence: { enabled: true, sequenceId: '  ' } },
    [{ field: 'actions.sequence.sequenceId', reason: 'expected a non-empty string' }],
  ],
  [
    'condition with two tests',
    { analyze: { enabled: true, when: { field: 'email', present: true, equals: 'x' } } },
    [{ field: 'actions.analyze.when', reason: 'expected {field, equals}, {field, in} or {field, present}, with exactly one test' }],
  ],
  [
    'condition on an unknown field',
    { analyze: { enabled: true, when: { field: 'mood', equals: 'happy' } } },
    [
      {
        field: 'actions.analyze.when.field',
        reason: 'expected one of email, firstName, lastName, phone, company, jobTitle, lifecycleStage, hubspotOwnerId or properties.<HubSpot property name>',
      },
    ],
  ],
  [
    'condition with an extra key',
    { analyze: { enabled: true, when: { field: 'email', in: ['a'], not: true } } },
    [{ field: 'actions.analyze.when.not', reason: 'unknown key; expected field, in' }],
  ],
  ['not an object', [1], [{ field: 'actions', reason: 'expected an object with assign, analyze, notify or sequence' }]],
  [
    'enabled assign without strategy',
    { assign: { enabled: true, userIds: [1] } },
    [{ field: 'actions.assign.strategy', reason: 'expected one of round_robin, team, hubspot_owner' }],
  ],
  [
    'owner strategy without a map',
    { assign: { enabled: true, strategy: 'hubspot_owner', fallbackUserId: 5 } },
    [{ field: 'actions.assign.ownerMap', reason: 'expected an object mapping HubSpot owner ids to user ids' }],
  ],
  [
    'fractional fallback user',
    { assign: { enabled: true, strategy: 'hubspot_owner', ownerMap: { '1': 2 }, fallbackUserId: 1.5 } },
    [{ field: 'actions.assign.fallbackUserId', reason: 'expected a positive integer' }],
  ],
  [
    'team without team id',
    { assign: { enabled: true, strategy: 'team' } },
    [{ field: 'actions.assign.teamId', reason: 'expected a string' }],
  ],
  [
    'recipient that is not a string',
    { notify: { enabled: true, channel: 'email', recipients: ['a@example.com', 5] } },
    [{ field: 'actions.notify.recipients[1]', reason: 'expected a string' }],
  ],
  [
    'channel with capitals',
    { notify: { enabled: true, channel: 'Slack', recipients: ['#x'] } },
    [{ field: 'actions.notify.channel', reason: 'expected a channel name such as slack, email or in_app' }],
  ],
  [
    'enabled as a string',
    { sequence: { enabled: 'yes', sequenceId: 'x' } },
    [{ field: 'actions.sequence.enabled', reason: 'expected true or false' }],
  ],
]

for (const [name, input, issues] of invalid) {
  t.test(`rejects ${name}`, async (t) => {
    t.same(actionsConfigIssues(input), issues)
  })
}

t.test('parseActionsConfig throws VALIDATION_FAILED', async (t) => {
  try {
    parseActionsConfig({ assign: { enabled: true, strategy: 'round_robin', userIds: [] } })
    t.fail('expected a throw')
  } catch (error) {
    t.ok(isAppError(error, ErrorCode.VALIDATION_FAILED))
    t.equal((error as { statusCode: number }).statusCode, 400)
    t.match((error as Error).message, /actions\.assign\.userIds: expected a non-empty array/)
  }
})

t.test('conditions match lead values', async (t) => {
  const subject: ConditionSubject = {
    fields: {
      email: 'a@example.com',
      firstName: null,
      lastName: '',
      phone: null,
      company: 'Acme',
      jobTitle: null,
      lifecycleStage: 'lead',
      hubspotOwnerId: '7',
    },
    properties: { hs_lead_status: 'NEW' },
  }
  t.ok(matchesCondition(subject, undefined), 'no condition matches')
  t.ok(matchesCondition(subject, { field: 'email', present: true }))
  t.notOk(matchesCondition(subject, { field: 'lastName', present: true }), 'blank is not present')
  t.ok(matchesCondition(subject, { field: 'phone', present: false }))
  t.ok(matchesCondition(subject, { field: 'lifecycleStage', equals: 'lead' }))
  t.notOk(matchesCondition(subject, { field: 'lifecycleStage', equals: 'Lead' }), 'case-sensitive')
  t.ok(matchesCondition(subject, { field: 'company', in: ['Acme', 'Globex'] }))
  t.notOk(matchesCondition(subject, { field: 'jobTitle', in: ['CTO'] }), 'null is in no list')
  t.ok(matchesCondition(subject, { field: 'properties.hs_lead_status', equals: 'NEW' }))
  t.notOk(matchesCondition(subject, { field: 'properties.missing', present: true }))
})

t.test('test fixtures hold valid settings', async (t) => {
  t.same(actionsConfigIssues(defaultTestActions), [], 'default of createIntegration')
  t.same(actionsConfigIssues(allActions), [], 'allActions')
})

t.test('conditions ignore names every object inherits', async (t) => {
  const subject: ConditionSubject = {
    fields: {
      email: null,
      firstName: null,
      lastName: null,
      phone: null,
      company: null,
      jobTitle: null,
      lifecycleStage: null,
      hubspotOwnerId: null,
    },
    properties: { own: 'x' },
  }
  for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
    const field = `properties.${name}`
    t.equal(matchesCondition(subject, { field, present: true }), false, `${field} is not present`)
    t.equal(matchesCondition(subject, { field, present: false }), true, `${field} counts as missing`)
    t.equal(matchesCondition(subject, { field, equals: 'x' }), false, `${field} equals nothing`)
  }
})
