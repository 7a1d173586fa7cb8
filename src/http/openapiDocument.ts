import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { parse } from 'yaml'

/** Path of openapi.yaml at the repository root, found from the source tree and from dist/. */
export const openapiPath = findOpenapiPath()

function findOpenapiPath(): string {
  const moduleDir = path.dirname(fileURLToPath(import.meta.url))
  const inBuild = moduleDir.includes(`${path.sep}dist${path.sep}`)
  return path.resolve(moduleDir, inBuild ? '../../../openapi.yaml' : '../../openapi.yaml')
}

/** Reads openapi.yaml once; routes serve the text and the parsed document. */
export function loadOpenapi(): { text: string; document: Record<string, unknown> } {
  const text = readFileSync(openapiPath, 'utf8')
  return { text, document: parse(text) as Record<string, unknown> }
}
