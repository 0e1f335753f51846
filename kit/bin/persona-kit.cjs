#!/usr/bin/env node
// The `persona-kit` command: a committed launcher for the compiled CLI (kit/dist/cli.js, built by `npm run build`).
require("../dist/cli.js").run(process.argv.slice(2));
