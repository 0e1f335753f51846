/**
 * Sign notebooks so that Jupyter treats their outputs as trusted (HTML, scripts and figures render on open).
 *
 * A port of Jupyter's `NotebookNotary` (nbformat/sign.py):
 * - the secret is the file `<data dir>/notebook_secret` (created as Jupyter creates it when absent: 1024 random
 *   bytes, base64 with a newline every 76 characters, mode 0600), used byte for byte as the HMAC key;
 * - the signature is HMAC-SHA256 (hex) over nbformat's `yield_everything` of the notebook *as nbformat reads it*:
 *   `metadata.signature`, `metadata.orig_nbformat(_minor)` and each cell's `metadata.trusted` removed, multi-line
 *   strings rejoined (`rejoin_lines`), dict keys in sorted (code point) order, each key and string as UTF-8, and
 *   every other scalar as Python's `str()` writes it (`True`, `False`, `None`, ints, float reprs such as `1.0`
 *   or `1e-05`). The file's JSON is parsed here with its number literals kept, so `1` and `1.0` sign as Python
 *   reads them;
 * - signatures are rows of the SQLite database `<data dir>/nbsignatures.db` (`nbsignatures (id, algorithm,
 *   signature, path, last_seen)` plus the `algosig` index, as sign.py creates them), written with sql.js: the file
 *   is loaded, the row inserted or its `last_seen` refreshed, and the database written back atomically (a
 *   Jupyter server that holds the old file open keeps its own view until it reopens it).
 *
 * Data dir: `options.dataDir`, else `$JUPYTER_DATA_DIR`, else Jupyter's platform default
 * (`$XDG_DATA_HOME/jupyter` or `~/.local/share/jupyter` on Linux, `~/Library/Jupyter` on macOS,
 * `%APPDATA%\jupyter` on Windows).
 */
import { createHmac, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describeValue } from "../describe";
import { isJsonMime, writeFileAtomic } from "./runner";

export interface SignOptions {
  /** Jupyter's data dir; default as described in the module comment. */
  dataDir?: string;
}

/** Jupyter's data directory, as jupyter_core's `jupyter_data_dir()` finds it. */
export function jupyterDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  const home = os.homedir();
  if (process.platform === "darwin") return path.join(home, "Library", "Jupyter");
  if (process.platform === "win32") return path.join(env.APPDATA || path.join(home, "AppData", "Roaming"), "jupyter");
  return path.join(env.XDG_DATA_HOME || path.join(home, ".local", "share"), "jupyter");
}

/** The notary secret of `dataDir`, created as Jupyter creates it when absent. */
export function notebookSecret(dataDir: string = jupyterDataDir()): Buffer {
  const file = path.join(dataDir, "notebook_secret");
  if (fs.existsSync(file)) return fs.readFileSync(file);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Python's base64.encodebytes: lines of 76 characters, each ending in "\n".
  const b64 = randomBytes(1024).toString("base64");
  const secret = Buffer.from(b64.match(/.{1,76}/g)!.map((line) => `${line}\n`).join(""), "ascii");
  fs.writeFileSync(file, secret, { mode: 0o600, flag: "wx" });
  return secret;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON with number literals kept, to reproduce what Python's json module makes of them

class PyNumber {
  constructor(readonly literal: string) {}
}
type PyJson = null | boolean | string | PyNumber | PyJson[] | { [key: string]: PyJson };

function parsePyJson(text: string, label: string): PyJson {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`signNotebook: ${label} is not valid JSON: ${what} at offset ${i}`);
  };
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
  };
  const value = (): PyJson => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: { [key: string]: PyJson } = {};
      ws();
      if (text[i] === "}") return i++, obj;
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key");
        const key = string();
        ws();
        if (text[i++] !== ":") fail("expected ':'");
        obj[key] = value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return i++, obj;
        else fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const arr: PyJson[] = [];
      ws();
      if (text[i] === "]") return i++, arr;
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return i++, arr;
        else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, i)) return (i += word.length), v;
    }
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail("unexpected character");
    i += m[0].length;
    return new PyNumber(m[0]);
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    if (i >= text.length) fail("unterminated string");
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const v = value();
  ws();
  if (i !== text.length) fail("trailing characters");
  return v;
}

/** Python's `repr(float(literal))`. */
function pyFloatRepr(literal: string): string {
  const x = Number(literal);
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa, expText] = x.toExponential().split("e"); // shortest round-trip digits, like repr
  const exp = Number(expText);
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  let body: string;
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    body = `${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  } else if (exp < 0) {
    body = `0.${"0".repeat(-exp - 1)}${digits}`;
  } else {
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    const frac = digits.slice(exp + 1);
    body = `${intPart}.${frac || "0"}`;
  }
  return negative ? `-${body}` : body;
}

/** Python's `str()` of what `json.loads` makes of a number literal. */
function pyNumberStr(literal: string): string {
  if (/[.eE]/.test(literal)) return pyFloatRepr(literal);
  return BigInt(literal).toString(); // Python ints are exact; "-0" is 0
}

type PyObject = { [key: string]: PyJson };
const isObject = (v: PyJson | undefined): v is PyObject => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof PyNumber);

function rejoinBundle(bundle: PyJson | undefined): void {
  if (!isObject(bundle)) return;
  for (const [mime, value] of Object.entries(bundle)) {
    if (!isJsonMime(mime) && Array.isArray(value) && value.every((l) => typeof l === "string")) bundle[mime] = (value as string[]).join("");
  }
}

/** nbformat's v4 read path: `rejoin_lines` and `strip_transient`, plus `signature_removed`. */
function asNbformatReadsIt(nb: PyObject): void {
  const metadata = nb.metadata;
  if (isObject(metadata)) {
    delete metadata.orig_nbformat;
    delete metadata.orig_nbformat_minor;
    delete metadata.signature;
  }
  const cells = Array.isArray(nb.cells) ? nb.cells : [];
  for (const cell of cells) {
    if (!isObject(cell)) continue;
    if (Array.isArray(cell.source)) cell.source = (cell.source as string[]).join("");
    if (isObject(cell.attachments)) for (const a of Object.values(cell.attachments)) rejoinBundle(a);
    if (cell.cell_type === "code" && Array.isArray(cell.outputs)) {
      for (const out of cell.outputs) {
        if (!isObject(out)) continue;
        const type = typeof out.output_type === "string" ? out.output_type : "";
        if (type === "execute_result" || type === "display_data") rejoinBundle(out.data);
        else if (type && Array.isArray(out.text)) out.text = (out.text as string[]).join("");
      }
    }
    if (isObject(cell.metadata)) delete cell.metadata.trusted;
  }
}

const byCodePoint = (a: string, b: string): number => {
  const x = Array.from(a), y = Array.from(b);
  for (let k = 0; k < Math.min(x.length, y.length); k++) {
    const d = x[k].codePointAt(0)! - y[k].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
};

/** nbformat's `yield_everything`, fed to `update`. */
function yieldEverything(v: PyJson, update: (s: string) => void): void {
  if (v === null) update("None");
  else if (v === true) update("True");
  else if (v === false) update("False");
  else if (typeof v === "string") update(v);
  else if (v instanceof PyNumber) update(pyNumberStr(v.literal));
  else if (Array.isArray(v)) for (const e of v) yieldEverything(e, update);
  else {
    for (const key of Object.keys(v).sort(byCodePoint)) {
      update(key);
      yieldEverything(v[key], update);
    }
  }
}

/** Jupyter's signature (HMAC-SHA256 hex) of notebook JSON text, with the given secret. */
export function computeSignature(notebookJson: string, secret: Buffer | string, label = "notebook"): string {
  const nb = parsePyJson(notebookJson, label);
  if (!isObject(nb)) throw new TypeError(`computeSignature: ${label} must hold a JSON object, received ${describeValue(nb)}`);
  asNbformatReadsIt(nb);
  const hmac = createHmac("sha256", secret);
  yieldEverything(nb, (s) => hmac.update(s, "utf8"));
  return hmac.digest("hex");
}

// ---------------------------------------------------------------------------------------------------------------
// The signature database (sql.js)

interface SqlDatabase {
  run(sql: string, params?: unknown[]): void;
  exec(sql: string, params?: unknown[]): { columns: string[]; values: unknown[][] }[];
  export(): Uint8Array;
  close(): void;
}
interface SqlJs {
  Database: new (data?: Uint8Array) => SqlDatabase;
}

let sqlJs: Promise<SqlJs> | null = null;
function loadSqlJs(): Promise<SqlJs> {
  if (!sqlJs) {
    let init: () => Promise<SqlJs>;
    try {
      init = require("sql.js") as () => Promise<SqlJs>;
    } catch {
      throw new Error("signNotebook: the sql.js package is required (npm install sql.js) but could not be resolved");
    }
    sqlJs = init();
  }
  return sqlJs;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS nbsignatures
            (
                id integer PRIMARY KEY AUTOINCREMENT,
                algorithm text,
                signature text,
                path text,
                last_seen timestamp
            )`,
  `CREATE INDEX IF NOT EXISTS algosig ON nbsignatures(algorithm, signature)`,
];

/** Python's `str(datetime.utcnow())`, as sqlite3's default adapter stores it. */
function utcTimestamp(d = new Date()): string {
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 23)}000`;
}

async function withDatabase<T>(dataDir: string, write: boolean, fn: (db: SqlDatabase) => T): Promise<T> {
  const SQL = await loadSqlJs();
  const file = path.join(dataDir, "nbsignatures.db");
  const existing = fs.existsSync(file) ? fs.readFileSync(file) : undefined;
  const db = new SQL.Database(existing);
  try {
    for (const sql of SCHEMA) db.run(sql);
    const result = fn(db);
    if (write) {
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      writeFileAtomic(file, db.export());
    }
    return result;
  } finally {
    db.close();
  }
}

function readNotebookText(notebookPath: string, fn: string): string {
  if (typeof notebookPath !== "string" || notebookPath === "") {
    throw new TypeError(`${fn}: path must be a non-empty string, received ${describeValue(notebookPath)}`);
  }
  try {
    return fs.readFileSync(notebookPath, "utf8");
  } catch (e) {
    throw new Error(`${fn}: cannot read ${notebookPath}: ${(e as Error).message}`);
  }
}

/** Mark the notebook file at `notebookPath` (as it is on disk now) trusted; returns its signature. */
export async function signNotebook(notebookPath: string, { dataDir = jupyterDataDir() }: SignOptions = {}): Promise<string> {
  const text = readNotebookText(notebookPath, "signNotebook");
  const signature = computeSignature(text, notebookSecret(dataDir), notebookPath);
  await withDatabase(dataDir, true, (db) => {
    const now = utcTimestamp();
    const found = db.exec("SELECT id FROM nbsignatures WHERE algorithm = ? AND signature = ?", ["sha256", signature]);
    if (found.length > 0 && found[0].values.length > 0) {
      db.run("UPDATE nbsignatures SET last_seen = ? WHERE algorithm = ? AND signature = ?", [now, "sha256", signature]);
    } else {
      db.run("INSERT INTO nbsignatures (algorithm, signature, last_seen) VALUES (?, ?, ?)", ["sha256", signature, now]);
    }
  });
  return signature;
}

/** Whether Jupyter would trust the notebook file at `notebookPath` (its signature is in the database). */
export async function isNotebookTrusted(notebookPath: string, { dataDir = jupyterDataDir() }: SignOptions = {}): Promise<boolean> {
  const text = readNotebookText(notebookPath, "isNotebookTrusted");
  const secretFile = path.join(dataDir, "notebook_secret");
  if (!fs.existsSync(secretFile) || !fs.existsSync(path.join(dataDir, "nbsignatures.db"))) return false;
  const signature = computeSignature(text, fs.readFileSync(secretFile), notebookPath);
  return withDatabase(dataDir, false, (db) => {
    const found = db.exec("SELECT id FROM nbsignatures WHERE algorithm = ? AND signature = ?", ["sha256", signature]);
    return found.length > 0 && found[0].values.length > 0;
  });
}
