import type { ConfigSource } from '../../actions/decide.js'
import { configSources } from '../../actions/replay.js'

/** Body of the action replay routes. Without a body, a replay uses the import-time settings. */
export interface ReplayBody {
  config?: ConfigSource
}

/** JSON schema of `ReplayBody`. A request without a body arrives as null. */
export const replayBody = {
  type: ['object', 'null'],
  properties: { config: { type: 'string', enum: configSources } },
  additionalProperties: false,
}

/** Returns the config source of a replay, which is `import` unless the body requests `current`. */
export function replayConfigSource(body: ReplayBody | null | undefined): ConfigSource {
  return body?.config ?? 'import'
}
