/** A temp folder for one test file, removed after its tests, and a writer of numbered files inside it. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll } from "vitest";

export function tempFiles(prefix: string): { root: string; file: (name: string, content: string) => string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  let count = 0;
  return {
    root,
    file: (name, content) => {
      const p = path.join(root, `${count++}-${name}`);
      fs.writeFileSync(p, content);
      return p;
    },
  };
}
