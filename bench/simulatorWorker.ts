// Worker-thread entry that runs the simulator off the benchmark's event loop, as HubSpot runs
// on other machines. It posts the URL once listening and closes the server on 'close'.
import { parentPort, workerData } from 'node:worker_threads'

import { startSimulator, type StartSimulatorParams } from '../src/simulator/server.js'

const sim = await startSimulator(workerData as StartSimulatorParams)
parentPort?.postMessage({ url: sim.url, portalId: sim.portalId, privateAppToken: sim.privateAppToken })
parentPort?.on('message', (message) => {
  if (message === 'close') void sim.close().then(() => process.exit(0))
})
