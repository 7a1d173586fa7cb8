/** The part of a tap test that helpers need: a place to register cleanup. */
export interface Teardown {
  teardown(fn: () => unknown): void
}
