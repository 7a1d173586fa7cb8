#!/usr/bin/env node
// Runs the compiled command line; `npm run build` (or `npm start`) produces dist/.
try {
  const { main } = await import('../dist/src/cli.js')
  await main()
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/src/cli.js')) throw error
  process.stderr.write('hubspot-sync is not built yet: run `npm run build` in the project directory first\n')
  process.exitCode = 1
}
