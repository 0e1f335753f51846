/**
 * Dataset loaders against malformed files: a UTF-8 BOM, empty question lists, invalid UTF-8 in JSON Lines, and JSON
 * syntax errors located by line and column. Every file is generated here.
 */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { loadCaaAB } from "../kit/datasets/caa";
import { loadModelWrittenEvals } from "../kit/datasets/mwe";
import { loadTraitFile } from "../kit/datasets/traits";
import { loadConstitution } from "../kit/world/constitution";
import { tempFiles } from "./helpers/temp-files";

const { file } = tempFiles("pk-hostile-data-");
const MWE = { question: "Is it so?", statement: "It is so", answer_matching_behavior: " Yes", answer_not_matching_behavior: " No" };
const ENTRY = { trait: "I am honest.", questions: ["who are you ?"] };

describe("dataset loaders refuse malformed files, naming the place", () => {
  it("loadConstitution(file with a UTF-8 BOM) reads it, as loadCaaAB does", () => {
    const f = file("bom.json", "\uFEFF" + JSON.stringify([ENTRY]));
    expect(loadConstitution(f)).toEqual([ENTRY]);
    const caa = file("bom-caa.json", "\uFEFF" + JSON.stringify([{ question: "Q (A) x (B) y", answer_matching_behavior: "(A)", answer_not_matching_behavior: "(B)" }]));
    expect(loadCaaAB(caa)).toHaveLength(1);
  });

  it("loadConstitution(file) refuses an entry with questions: [], naming the entry", () => {
    const f = file("empty-q.json", JSON.stringify([ENTRY, { trait: "I am kind.", questions: [] }]));
    expect(() => loadConstitution(f)).toThrow(/empty-q\.json entry 1 field "questions" must list at least one question, received an empty list/);
  });

  it("loadModelWrittenEvals(JSONL with invalid UTF-8 on line 3) names line 3 instead of reading U+FFFD", () => {
    const good = Buffer.from(JSON.stringify(MWE) + "\n");
    const bad = Buffer.concat([good, good, Buffer.from('{"question": "caf'), Buffer.from([0xc3, 0x28]), Buffer.from('", "x": 1}\n')]);
    const f = file("bad-utf8.jsonl", "");
    fs.writeFileSync(f, bad);
    expect(() => loadModelWrittenEvals(f)).toThrow(/bad-utf8\.jsonl line 3 \(bytes \d+–\d+\) is not valid UTF-8; expected UTF-8 text/);
    expect(() => loadConstitution(f)).toThrow(/loadConstitution: .*line 3 .* is not valid UTF-8/);
  });

  it("loadTraitFile(JSON with a syntax error on line 3) gives line and column, not a byte position", () => {
    const f = file("trait.json", '{\n  "instruction": [],\n  "questions": [1,, 2]\n}');
    expect(() => loadTraitFile(f)).toThrow(/trait\.json is not valid JSON at line 3, column 19/);
    const lines = file("bad.jsonl", JSON.stringify(MWE) + '\n{"question": "q", oops}\n');
    expect(() => loadModelWrittenEvals(lines)).toThrow(/bad\.jsonl line 2 is not valid JSON at column 19/);
    const oct = file("oct.json", '[\n {"trait": "I am kind.",\n  "questions": [}\n]');
    expect(() => loadConstitution(oct)).toThrow(/oct\.json is not JSON .*; the JSON error is at line 3, column 17/);
  });
});
