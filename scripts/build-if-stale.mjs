#!/usr/bin/env node
// Builds the kit (`npm run build`) only when kit/dist is missing or older than a kit source file (kit/**/*.ts,
// kit/tsconfig.json, the root tsconfig.json); otherwise says it is fresh. Used by `npm run notebooks` / `npm start`.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const kit = path.join(root, "kit");
const stamp = path.join(kit, "dist", "index.js");

/** Newest modification time (ms) of the kit's sources. */
function newestSource(dir = kit) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "dist" || entry.name === "node_modules") continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith(".ts") || entry.name === "tsconfig.json") newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

const sources = Math.max(newestSource(), fs.statSync(path.join(root, "tsconfig.json")).mtimeMs);
if (fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs >= sources) {
  console.log("build: kit/dist is up to date (skipped)");
} else {
  const r = spawnSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(kit, "tsconfig.json")], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
  // tsc leaves an unchanged output file's time alone; touch the stamp so the next run sees a fresh build.
  const now = new Date();
  fs.utimesSync(stamp, now, now);
  console.log("build: kit/dist rebuilt");
}
