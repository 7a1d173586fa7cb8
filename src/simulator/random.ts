/**
 * Seeded pseudo-random numbers for the simulator. sfc32 (Chris Doty-Humphrey's small fast
 * counter) seeded through splitmix32, so equal seeds give equal data on every platform.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T
  /** True with probability `probability`. */
  chance(probability: number): boolean
}

function splitMix32(state: number): () => number {
  let value = state >>> 0
  return () => {
    value = (value + 0x9e3779b9) >>> 0
    let mixed = value
    mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b)
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35)
    return (mixed ^ (mixed >>> 16)) >>> 0
  }
}

/** Creates a generator for a seed; `stream` derives independent sequences from one seed. */
export function createRandom(seed: number, stream = 0): Random {
  const init = splitMix32((seed ^ Math.imul(stream + 1, 0x27d4eb2d)) >>> 0)
  let a = init()
  let b = init()
  let c = init()
  let counter = 1

  function nextUint32(): number {
    const result = (((a + b) >>> 0) + counter) >>> 0
    counter = (counter + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = ((c << 21) | (c >>> 11)) >>> 0
    c = (c + result) >>> 0
    return result
  }
  for (let i = 0; i < 12; i++) nextUint32()

  const random: Random = {
    next: () => nextUint32() / 4294967296,
    int: (min, max) => min + Math.floor(random.next() * (max - min + 1)),
    pick: (items) => items[Math.floor(random.next() * items.length)],
    chance: (probability) => probability > 0 && random.next() < probability,
  }
  return random
}

/** A stable 32-bit hash of a number and a salt, used to shuffle ties the same way every time. */
export function hashNumber(value: number, salt: number): number {
  let mixed = (Math.imul(value % 4294967296, 0x9e3779b1) ^ Math.imul(Math.floor(value / 4294967296), 0x85ebca6b) ^ salt) >>> 0
  mixed = Math.imul(mixed ^ (mixed >>> 16), 0x7feb352d)
  mixed = Math.imul(mixed ^ (mixed >>> 15), 0x846ca68b)
  return (mixed ^ (mixed >>> 16)) >>> 0
}
