#!/usr/bin/env node
// Runs the compiled command line; `npm run build` produces dist/.
import '../dist/src/cli.js'
