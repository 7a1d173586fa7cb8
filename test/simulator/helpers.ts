import type { Test } from 'tap'
import { startSimulator, type Simulator, type StartSimulatorParams } from '../../src/simulator/server.js'

/** Starts a simulator on a free port and closes it when the test ends. */
export async function startTestSimulator(t: Test, params: StartSimulatorParams = {}): Promise<Simulator> {
  const sim = await startSimulator({ port: 0, host: '127.0.0.1', seed: 1, contacts: 100, ...params })
  t.teardown(() => sim.close())
  return sim
}

/** Calls the simulator with the private-app token unless another Authorization is given. */
export async function call(
  sim: Simulator,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${sim.privateAppToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    // Non-JSON bodies (HTML 502 pages) stay text.
  }
  return { status: response.status, headers: response.headers, body: parsed }
}
