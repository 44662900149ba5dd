#!/usr/bin/env node
'use strict';
// The `rlhf` command: runs the bundled CLI (built by `npm run build`).
require('../dist/cli.js').cliMain();
