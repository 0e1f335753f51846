/**
 * tslab's converter misses a name declared in an earlier cell when a later cell uses it in object shorthand
 * (`{ positive }`): the cell throws `ReferenceError: positive is not defined`. The headless runner therefore expands
 * every shorthand property before tslab sees the cell (`{ positive }` → `{ positive: positive }`), which means the
 * same in object literals, destructuring assignments (`({ a } = o)`) and with defaults (`{ a = 1 } = o`).
 */

/** The parts of the TypeScript API this needs (tslab's own TypeScript fork provides them). */
export interface TsForShorthand {
  createSourceFile(fileName: string, text: string, languageVersion: number, setParentNodes?: boolean, scriptKind?: number): TsNode;
  forEachChild(node: TsNode, cb: (child: TsNode) => void): void;
  isShorthandPropertyAssignment(node: TsNode): boolean;
  ScriptTarget: { Latest: number };
  ScriptKind: { TS: number };
}
interface TsNode {
  name?: { text?: string; end: number };
}

/** `src` with every shorthand property `{ x }` written out as `{ x: x }`; unchanged when there is none. */
export function expandShorthand(ts: TsForShorthand, src: string): string {
  const file = ts.createSourceFile("cell.ts", src, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const inserts: { at: number; text: string }[] = [];
  const visit = (node: TsNode): void => {
    if (ts.isShorthandPropertyAssignment(node) && node.name?.text) inserts.push({ at: node.name.end, text: `: ${node.name.text}` });
    ts.forEachChild(node, visit);
  };
  visit(file);
  let out = src;
  for (const { at, text } of inserts.sort((a, b) => b.at - a.at)) out = out.slice(0, at) + text + out.slice(at);
  return out;
}
