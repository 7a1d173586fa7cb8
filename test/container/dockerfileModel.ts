import { readFileSync } from 'node:fs'

import { DockerfileParser, type Copy, type Instruction } from 'dockerfile-ast'

/** The repository root, which is also the build context of the Dockerfile. */
export const contextDir = new URL('../..', import.meta.url).pathname

export const dockerfileText = readFileSync(new URL('Dockerfile', `file://${contextDir}`), 'utf8')

/** One `FROM` and the instructions up to the next one. */
export interface Stage {
  /** The `AS` name; null for an unnamed stage. */
  name: string | null
  image: string
  instructions: Instruction[]
}

/** Splits a Dockerfile into its build stages, in order; the last one is the image. */
export function readStages(text = dockerfileText): Stage[] {
  const stages: Stage[] = []
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    const keyword = instruction.getKeyword()
    if (keyword === 'FROM') {
      const [image, , name] = instruction.getArguments().map((argument) => argument.getValue())
      stages.push({ name: name ?? null, image, instructions: [] })
      continue
    }
    stages.at(-1)?.instructions.push(instruction)
  }
  return stages
}

export function instructionsOf(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.getKeyword() === keyword)
}

/** Returns the WORKDIR in force at the end of a stage ('/' without one). */
export function workdirOf(stage: Stage): string {
  const last = instructionsOf(stage, 'WORKDIR').at(-1)
  return last?.getArguments()[0]?.getValue() ?? '/'
}

/** Splits a shell-form RUN at `&&` into its commands, each as its words. */
export function runCommands(instruction: Instruction): string[][] {
  const commands: string[][] = [[]]
  for (const argument of instruction.getArguments()) {
    const word = argument.getValue()
    if (word === '&&') commands.push([])
    else commands.at(-1)?.push(word)
  }
  return commands.filter((words) => words.length > 0)
}

export interface CopySpec {
  /** The stage named by `--from`, or null for the build context. */
  from: string | null
  sources: string[]
  destination: string
}

export function copySpec(instruction: Instruction): CopySpec {
  const words = instruction.getArguments().map((argument) => argument.getValue())
  const from = (instruction as Copy).getFromFlag()?.getValue() ?? null
  return { from, sources: words.slice(0, -1), destination: words.at(-1) ?? '' }
}

/**
 * Returns the JSON array of an exec-form instruction (CMD, ENTRYPOINT, or the command after
 * `HEALTHCHECK ... CMD`); null for the shell form.
 */
export function execForm(instruction: Instruction): string[] | null {
  const raw = instruction.getRawArgumentsContent() ?? ''
  const json = instruction.getKeyword() === 'HEALTHCHECK' ? raw.replace(/^[\s\S]*?\bCMD\s+/, '') : raw
  try {
    const value: unknown = JSON.parse(json.replace(/\\\n/g, ' '))
    return Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : null
  } catch {
    return null
  }
}

/** Returns the variables the ENV instructions of a stage set. */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const instruction of instructionsOf(stage, 'ENV')) {
    for (const argument of instruction.getArguments()) {
      const [name, ...value] = argument.getValue().split('=')
      env[name] = value.join('=')
    }
  }
  return env
}
