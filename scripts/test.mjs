#!/usr/bin/env node
// Runs the vitest suite, then prints one plain closing line "Tests: N passed, N failed, N skipped" that any CI can
// read, and exits with vitest's own exit code.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";

fs.mkdirSync("out", { recursive: true });
const results = "out/test-results.json";
fs.rmSync(results, { force: true });
const run = spawnSync("npx", ["--no-install", "vitest", "run", "--reporter=default", "--reporter=json", `--outputFile=${results}`, ...process.argv.slice(2)], {
  stdio: "inherit",
});
let code = run.status ?? 1;
if (fs.existsSync(results)) {
  const r = JSON.parse(fs.readFileSync(results, "utf8"));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(`\nTests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  if (r.numTotalTests === 0) code = code || 1;
} else {
  console.log("\nTests: 0 passed, 1 failed (vitest wrote no results)");
  code = code || 1;
}
process.exit(code);
