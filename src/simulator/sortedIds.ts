/** Binary search helpers over ascending id arrays (the list endpoint's order). */

export function lowerBound(ids: number[], id: number): number {
  let low = 0
  let high = ids.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (ids[middle] < id) low = middle + 1
    else high = middle
  }
  return low
}

export function insertSorted(ids: number[], id: number): void {
  ids.splice(lowerBound(ids, id), 0, id)
}

export function removeSorted(ids: number[], id: number): void {
  const position = lowerBound(ids, id)
  if (ids[position] === id) ids.splice(position, 1)
}
