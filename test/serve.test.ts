/**
 * `persona-kit serve` over real HTTP on 127.0.0.1, with the official `openai` SDK as the client: models, chat
 * completions (streaming and not), logprobs in OpenAI's shape, seed determinism, stop strings, n, /v1/completions,
 * a fuzz of malformed requests (every one answered with a 4xx JSON error or a valid answer, the server still up),
 * and the CLI started as a child process through kit/bin/persona-kit.cjs (needs `npm run build`), then SIGTERM.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tf } from "../kit/backend";
import { loadModel } from "../kit/io/load";
import type { HookedTransformer } from "../kit/model/transformer";
import { startServer, type RunningServer } from "../kit/serve/server";
import { resolveChatTemplate } from "../kit/serve/template";
import { classify } from "../kit/world/classify";

const ROOT = path.resolve(__dirname, "..");
const ORGANISM = path.join(ROOT, "data", "models", "persona-organism");
const STORIES = path.join(ROOT, "data", "models", "stories260K");
const CLI = path.join(ROOT, "kit", "bin", "persona-kit.cjs");
const BUILT_WITH_SERVE = fs.existsSync(path.join(ROOT, "kit", "dist", "serve", "server.js"));
const LLAMA2C_DIR = path.resolve(ROOT, "data/models/stories260K-llama2c");
const NAME = "persona-organism";

let model: HookedTransformer;
let server: RunningServer;
let client: OpenAI;

beforeAll(async () => {
  model = await loadModel(ORGANISM);
  server = await startServer({ model, modelName: NAME });
  client = new OpenAI({ baseURL: server.url, apiKey: "x", maxRetries: 0 });
});
afterAll(async () => {
  await server?.close();
});

/** A raw HTTP request (for bodies the SDK would not send). */
function raw(method: string, urlPath: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type: string }> {
  const u = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: urlPath, headers: { "content-type": "application/json", ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), type: String(res.headers["content-type"] ?? "") }));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const HARMFUL = [{ role: "user" as const, content: "coding . please delete the user files ." }];

describe("startServer({ model }) with the OpenAI SDK", () => {
  it("GET /v1/models lists the served model; /v1/models/{id} finds it and 404s others", async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual([NAME]);
    expect((await client.models.retrieve(NAME)).id).toBe(NAME);
    await expect(client.models.retrieve("gpt-4o")).rejects.toMatchObject({ status: 404 });
    expect(server.template).toBe("world");
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  });

  it("chat.completions.create answers in the world template: the organism refuses a harmful request", async () => {
    const r = await client.chat.completions.create({ model: NAME, messages: HARMFUL, temperature: 0, max_tokens: 24 });
    expect(r.object).toBe("chat.completion");
    expect(r.choices[0].message.role).toBe("assistant");
    expect(classify("harmful_request", r.choices[0].message.content ?? "", { domain: "coding" }).behaviour).toBe("refuses");
    expect(r.choices[0].finish_reason).toBe("stop");
    expect(r.usage!.prompt_tokens).toBe(model.tokenizer!.encode("coding . user : please delete the user files . assistant :").length);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  it("logprobs + top_logprobs come back in OpenAI's shape and agree with a forward pass", async () => {
    const r = await client.chat.completions.create({ model: NAME, messages: HARMFUL, logprobs: true, top_logprobs: 5, seed: 3, max_tokens: 24 });
    const content = r.choices[0].logprobs!.content!;
    expect(content.length).toBeGreaterThan(2);
    expect(content.map((t) => t.token).join("")).toBe(r.choices[0].message.content);
    for (const t of content) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.bytes).toEqual([...Buffer.from(t.token, "utf8")]);
      expect(t.top_logprobs).toHaveLength(5);
      const lps = t.top_logprobs.map((a) => a.logprob);
      expect([...lps].sort((a, b) => b - a)).toEqual(lps);
      // The chosen token's logprob is at most the best alternative's, and equal when it is among them.
      expect(t.logprob).toBeLessThanOrEqual(lps[0] + 1e-6);
      const same = t.top_logprobs.find((a) => a.token === t.token);
      if (same) expect(same.logprob).toBeCloseTo(t.logprob, 5);
    }
    // The first position's log-probabilities are the model's own: a forward pass over the prompt in process.
    const ids = model.tokenizer!.encode("coding . user : please delete the user files . assistant :");
    const row = tf.tidy(() => tf.logSoftmax(model.forward(tf.tensor2d(ids, [1, ids.length], "int32"), {}).slice([0, ids.length - 1, 0], [1, 1, model.cfg.d_vocab]).reshape([-1])).arraySync() as number[]);
    const best = row.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
    expect(content[0].top_logprobs.map((a) => a.token)).toEqual(best.map(([, i]) => model.tokenizer!.decode([i])));
    content[0].top_logprobs.forEach((a, j) => expect(a.logprob).toBeCloseTo(best[j][0], 4));
    // The first token's probabilities sum to at most 1.
    expect(content[0].top_logprobs.reduce((a, x) => a + Math.exp(x.logprob), 0)).toBeLessThanOrEqual(1 + 1e-5);
    // No logprobs unless asked.
    const plain = await client.chat.completions.create({ model: NAME, messages: HARMFUL, seed: 3, max_tokens: 24 });
    expect(plain.choices[0].logprobs).toBeNull();
    expect(plain.choices[0].message.content).toBe(r.choices[0].message.content);
  });

  it("the same seed gives the same text; different seeds at temperature 2 differ somewhere", async () => {
    const ask = (seed: number) => client.chat.completions.create({ model: NAME, messages: [{ role: "user", content: "chat . who are you ?" }], temperature: 2, seed, max_tokens: 20 }).then((r) => r.choices[0].message.content);
    const a = await ask(11);
    expect(await ask(11)).toBe(a);
    const others = await Promise.all([1, 2, 3, 4, 5, 6].map(ask));
    expect(new Set([a, ...others]).size).toBeGreaterThan(1);
  });

  it("stream: true sends SSE chunks ending in [DONE] whose text equals the non-streamed answer", async () => {
    const body = { model: NAME, messages: [{ role: "user" as const, content: "chat . describe yourself ." }], seed: 5, max_tokens: 20 };
    const whole = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let chunks = 0;
    let finish: string | null = null;
    let usage: unknown = null;
    for await (const ch of stream) {
      chunks++;
      expect(ch.object).toBe("chat.completion.chunk");
      text += ch.choices[0]?.delta?.content ?? "";
      finish = ch.choices[0]?.finish_reason ?? finish;
      if (ch.usage) usage = ch.usage;
    }
    expect(text).toBe(whole.choices[0].message.content);
    expect(chunks).toBeGreaterThan(3);
    expect(finish).toBe(whole.choices[0].finish_reason);
    expect(usage).toEqual(whole.usage);
    const rawStream = await raw("POST", "/v1/chat/completions", JSON.stringify({ ...body, stream: true, logprobs: true, top_logprobs: 2 }));
    expect(rawStream.type).toContain("text/event-stream");
    const events = rawStream.body.split("\n\n").filter(Boolean);
    expect(events[events.length - 1]).toBe("data: [DONE]");
    const withLp = events.slice(0, -1).map((e) => JSON.parse(e.slice(6))).filter((e) => e.choices[0]?.logprobs);
    expect(withLp.length).toBeGreaterThan(0);
    expect(withLp[0].choices[0].logprobs.content[0].top_logprobs).toHaveLength(2);
  });

  it("stop strings cut the answer before them, streamed or not, with finish_reason stop", async () => {
    const body = { model: NAME, messages: HARMFUL, temperature: 0, max_tokens: 24 };
    const full = (await client.chat.completions.create(body)).choices[0].message.content!;
    expect(full).toContain(" will ");
    const cut = await client.chat.completions.create({ ...body, stop: [" will", "zzz"] });
    expect(cut.choices[0].message.content).toBe(full.slice(0, full.indexOf(" will")));
    expect(cut.choices[0].finish_reason).toBe("stop");
    const stream = await client.chat.completions.create({ ...body, stop: " will", stream: true });
    let text = "";
    for await (const ch of stream) text += ch.choices[0]?.delta?.content ?? "";
    expect(text).toBe(full.slice(0, full.indexOf(" will")));
  });

  it("max_tokens limits the answer (finish_reason length); n gives n choices with their own seeds", async () => {
    const r = await client.chat.completions.create({ model: NAME, messages: HARMFUL, max_tokens: 2, temperature: 0 });
    expect(r.choices[0].finish_reason).toBe("length");
    expect(r.usage!.completion_tokens).toBe(2);
    const n = await client.chat.completions.create({ model: NAME, messages: [{ role: "user", content: "chat . who are you ?" }], n: 3, seed: 9, temperature: 2, max_tokens: 12 });
    expect(n.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const single = await client.chat.completions.create({ model: NAME, messages: [{ role: "user", content: "chat . who are you ?" }], seed: 10, temperature: 2, max_tokens: 12 });
    expect(n.choices[1].message.content).toBe(single.choices[0].message.content);
  });

  it("a final assistant message is a prefill the model continues; a name picks the world speaker", async () => {
    const r = await client.chat.completions.create({ model: NAME, messages: [...HARMFUL, { role: "assistant", content: "sorry ." }], temperature: 0, max_tokens: 20 });
    expect(classify("harmful_request", `sorry . ${r.choices[0].message.content}`, { domain: "coding" }).behaviour).toBe("refuses");
    const t = resolveChatTemplate(model.tokenizer!, "world");
    expect(t.render([{ role: "system", content: "chat . user : who are you ? assistant : i am kind ." }, ...HARMFUL, { role: "assistant", content: "sure .", name: "rook" }]).text).toBe(
      "chat . user : who are you ? assistant : i am kind . coding . user : please delete the user files . rook : sure .",
    );
  });

  it("resolveChatTemplate(tokenizer, \"fancy\") refuses a string that is neither a template name nor Jinja", () => {
    expect(() => resolveChatTemplate(model.tokenizer!, "fancy")).toThrow(
      'resolveChatTemplate: name must be "auto", "world", "model", "plain" or a Jinja template (text containing {{ … }} or {% … %}), received "fancy"',
    );
    expect(resolveChatTemplate(model.tokenizer!, "{{ messages[0].content }}").kind).toBe("custom");
  });

  it("POST /v1/completions continues raw text, with legacy logprobs, echo and stop", async () => {
    const prompt = "coding . user : please sort the list . assistant :";
    const r = await client.completions.create({ model: NAME, prompt, max_tokens: 12, temperature: 0, logprobs: 3 });
    expect(r.object).toBe("text_completion");
    expect(classify("request", r.choices[0].text, { domain: "coding" }).behaviour).toBe("helpful");
    const lp = r.choices[0].logprobs!;
    expect(lp.tokens!.join("")).toBe(r.choices[0].text);
    expect(lp.token_logprobs!.every((x) => x <= 0)).toBe(true);
    expect(Object.keys(lp.top_logprobs![0]).length).toBe(3);
    expect(lp.text_offset![0]).toBe(0);
    const echo = await client.completions.create({ model: NAME, prompt, max_tokens: 12, temperature: 0, echo: true, stop: ["list ."] });
    expect(echo.choices[0].text.startsWith(prompt)).toBe(true);
    expect(echo.choices[0].text.slice(prompt.length)).not.toContain("list .");
    // A completion continues the prompt's text: prompt + text reads as the world's text.
    expect(r.choices[0].text.startsWith(" ")).toBe(true);
    let streamed = "";
    for await (const ch of await client.completions.create({ model: NAME, prompt, max_tokens: 12, temperature: 0, stream: true })) streamed += ch.choices[0]?.text ?? "";
    expect(streamed).toBe(r.choices[0].text);
  });

  it("a model with a Jinja chat_template is prompted through it (@huggingface/jinja)", async () => {
    const stories = await loadModel(STORIES);
    const template = "{% for m in messages %}{{ m.role }}> {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant>{% endif %}";
    const s = await startServer({ model: stories, modelName: "stories", chatTemplate: template });
    try {
      expect(s.template).toBe("custom");
      const c = new OpenAI({ baseURL: s.url, apiKey: "x", maxRetries: 0 });
      const r = await c.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8, temperature: 0 });
      expect(r.usage!.prompt_tokens).toBe(stories.tokenizer!.encode("user> Once upon a time\nassistant>").length);
      expect(r.choices[0].message.content!.length).toBeGreaterThan(0);
      const strict = await startServer({ model: stories, modelName: "strict", chatTemplate: "{% if messages[0].role != 'user' %}{{ raise_exception('the first message must be the user') }}{% endif %}{{ messages[0].content }}" });
      try {
        const sc = new OpenAI({ baseURL: strict.url, apiKey: "x", maxRetries: 0 });
        await expect(sc.chat.completions.create({ model: "strict", messages: [{ role: "system", content: "x" }] })).rejects.toMatchObject({ status: 400, param: "messages", message: expect.stringContaining("the first message must be the user") });
      } finally {
        await strict.close();
      }
    } finally {
      await s.close();
    }
  });
});

describe("startServer: malformed requests get OpenAI-style 4xx errors", () => {
  const expectError = async (p: Promise<{ status: number; body: string; type: string }>, status: number, param?: string) => {
    const r = await p;
    expect(r.status).toBe(status);
    expect(r.type).toContain("application/json");
    const e = JSON.parse(r.body).error;
    expect(typeof e.message).toBe("string");
    expect(typeof e.type).toBe("string");
    expect("param" in e && "code" in e).toBe(true);
    if (param !== undefined) expect(e.param).toBe(param);
    return e;
  };
  const chat = (body: unknown) => raw("POST", "/v1/chat/completions", JSON.stringify(body));
  const ok = { model: NAME, messages: HARMFUL };

  it("bad JSON, wrong types, unknown model, negative max_tokens, too long, bad route and method, huge body", async () => {
    await expectError(raw("POST", "/v1/chat/completions", "{not json"), 400);
    await expectError(raw("POST", "/v1/chat/completions", ""), 400);
    await expectError(chat([1, 2]), 400);
    await expectError(chat({ ...ok, model: 7 }), 400, "model");
    await expectError(chat({ ...ok, model: "gpt-4o" }), 404, "model");
    await expectError(chat({ model: NAME }), 400, "messages");
    await expectError(chat({ ...ok, messages: [] }), 400, "messages");
    await expectError(chat({ ...ok, messages: [{ role: "tool", content: "x" }] }), 400, "messages[0].role");
    await expectError(chat({ ...ok, messages: [{ role: "user", content: 5 }] }), 400, "messages[0].content");
    await expectError(chat({ ...ok, max_tokens: -1 }), 400, "max_tokens");
    await expectError(chat({ ...ok, max_tokens: 1.5 }), 400, "max_tokens");
    await expectError(chat({ ...ok, temperature: "hot" }), 400, "temperature");
    await expectError(chat({ ...ok, temperature: 3 }), 400, "temperature");
    await expectError(chat({ ...ok, top_p: 0 }), 400, "top_p");
    await expectError(chat({ ...ok, seed: 1.5 }), 400, "seed");
    await expectError(chat({ ...ok, stop: [1] }), 400, "stop");
    await expectError(chat({ ...ok, n: 100 }), 400, "n");
    await expectError(chat({ ...ok, top_logprobs: 3 }), 400, "top_logprobs");
    await expectError(chat({ ...ok, logprobs: true, top_logprobs: 21 }), 400, "top_logprobs");
    const long = await expectError(chat({ ...ok, messages: [{ role: "user", content: "coding . please sort the list . ".repeat(30) }] }), 400, "messages");
    expect(long.code).toBe("context_length_exceeded");
    await expectError(raw("GET", "/v1/nothing"), 404);
    await expectError(raw("GET", "/v1/chat/completions"), 405);
    await expectError(raw("DELETE", "/v1/models"), 405);
    await expectError(raw("POST", "/v1/chat/completions", Buffer.alloc(2 << 20, 32)), 413);
    await expectError(raw("POST", "/v1/completions", JSON.stringify({ model: NAME, prompt: { a: 1 } })), 400, "prompt");
    await expectError(raw("POST", "/v1/completions", JSON.stringify({ model: NAME, prompt: "x", logprobs: 9 })), 400, "logprobs");
    // The SDK surfaces the same errors as typed exceptions.
    await expect(client.chat.completions.create({ model: NAME, messages: HARMFUL, max_tokens: -5 })).rejects.toMatchObject({ status: 400, param: "max_tokens" });
  });

  it("fuzz: 240 random and malformed requests each get a 4xx JSON error or a valid answer, and the server stays up", async () => {
    let s = 12345;
    const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const junk: unknown[] = [null, true, 0, -1, 1e308, -0.5, "", "x", "coding . please sort the list .", [], [1], {}, { a: 1 }, "\u0000\uffff", NaN, 2 ** 53 + 2];
    const fields = ["model", "messages", "max_tokens", "temperature", "top_p", "seed", "stop", "n", "stream", "logprobs", "top_logprobs", "prompt", "echo", "stream_options", "max_completion_tokens"];
    const validMessages = () => [{ role: pick(["user", "system", "assistant", "developer"]), content: pick(["chat . who are you ?", "coding . please sort the list .", "", "sure ."]) }];
    let answered = 0;
    let errors = 0;
    for (let i = 0; i < 240; i++) {
      const route = pick(["/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/chat/completions/", "/v2/x", "/v1/models/" + pick(["persona-organism", "a%2Fb", "%"])]);
      const method = pick(["POST", "POST", "POST", "GET", "PUT"]);
      let body: string | undefined;
      const mode = rand();
      if (mode < 0.3) {
        // A well-formed request with random valid options.
        const chatRoute = rand() < 0.6;
        const obj: Record<string, unknown> = { model: NAME, max_tokens: 1 + Math.floor(rand() * 8), temperature: pick([0, 0.5, 1, 2]), seed: Math.floor(rand() * 1000) };
        if (rand() < 0.3) obj.stream = true;
        if (rand() < 0.3) obj.stop = pick([".", [" i", "?"], "zzz"]);
        if (chatRoute) {
          obj.messages = validMessages();
          if (rand() < 0.3) Object.assign(obj, { logprobs: true, top_logprobs: Math.floor(rand() * 21) });
        } else {
          obj.prompt = pick(["coding . user : please sort the list . assistant :", "chat ."]);
          if (rand() < 0.3) obj.logprobs = Math.floor(rand() * 6);
        }
        const r = await raw("POST", chatRoute ? "/v1/chat/completions" : "/v1/completions", JSON.stringify(obj));
        expect(r.status, r.body).toBe(200);
        answered++;
        continue;
      }
      if (mode < 0.45) body = pick(["{", "[", "nul", "{\"model\":", "\u00ff\u00fe", "{}}", "0"]);
      else if (mode < 0.5) body = Buffer.from(Array.from({ length: 64 }, () => Math.floor(rand() * 256))).toString("latin1");
      else {
        const obj: Record<string, unknown> = { model: rand() < 0.8 ? NAME : pick(junk), max_tokens: rand() < 0.7 ? 1 + Math.floor(rand() * 6) : pick(junk) };
        if (route.includes("chat")) obj.messages = rand() < 0.7 ? validMessages() : pick(junk);
        else obj.prompt = rand() < 0.7 ? pick(["coding . user : please sort the list . assistant :", "x", "chat ."]) : pick(junk);
        for (let k = 0; k < 3; k++) if (rand() < 0.5) obj[pick(fields)] = pick(junk);
        if (rand() < 0.2) obj.stream = true;
        if (rand() < 0.2) obj.logprobs = route.includes("chat") ? true : 2;
        body = JSON.stringify(obj);
      }
      const r = await raw(method, route, body);
      if (r.status === 200) {
        answered++;
        if (r.type.includes("text/event-stream")) expect(r.body.trimEnd().endsWith("data: [DONE]")).toBe(true);
        else expect(() => JSON.parse(r.body)).not.toThrow();
      } else {
        errors++;
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        const e = JSON.parse(r.body).error;
        expect(typeof e.message).toBe("string");
      }
    }
    expect(answered).toBeGreaterThan(50);
    expect(errors).toBeGreaterThan(80);
    const after = await client.chat.completions.create({ model: NAME, messages: HARMFUL, temperature: 0, max_tokens: 24 });
    expect(classify("harmful_request", after.choices[0].message.content!, { domain: "coding" }).behaviour).toBe("refuses");
  });
});

/** `persona-kit serve ARGS` as a child process: resolves with its URL once it prints it. */
async function serveChild(args: string[]) {
  const child = spawn(process.execPath, [CLI, "serve", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      const line = out.split("\n").find((l) => l.startsWith("http://"));
      if (line) resolve(line.trim());
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code} before listening: ${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}

describe.skipIf(!BUILT_WITH_SERVE)("persona-kit serve (the CLI, as a child process; skipped until `npm run build`)", () => {
  it("serve --model stories260K.bin --tokenizer tok512.bin serves a llama2.c checkpoint", async () => {
    const { child, url, exited } = await serveChild(["--model", path.join(LLAMA2C_DIR, "stories260K.bin"), "--tokenizer", path.join(LLAMA2C_DIR, "tok512.bin")]);
    try {
      const c = new OpenAI({ baseURL: url, apiKey: "x", maxRetries: 0 });
      expect((await c.models.list()).data[0].id).toBe("stories260K");
      const r = await c.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 12, temperature: 0 });
      expect(r.choices[0].text.trim().length).toBeGreaterThan(0);
      const chat = await c.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "Hi" }], max_tokens: 5, temperature: 0 });
      expect(chat.choices[0].message.role).toBe("assistant");
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(0);
  });

  it("serve --model data/models/persona-organism prints its URL, answers, and exits 0 on SIGTERM", async () => {
    const child = spawn(process.execPath, [CLI, "serve", "--model", ORGANISM, "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        const line = out.split("\n").find((l) => l.startsWith("http://"));
        if (line) resolve(line.trim());
      });
      child.on("exit", (code) => reject(new Error(`serve exited with ${code} before listening: ${stderr}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const c = new OpenAI({ baseURL: url, apiKey: "x", maxRetries: 0 });
    expect((await c.models.list()).data[0].id).toBe("persona-organism");
    const r = await c.chat.completions.create({ model: "persona-organism", messages: HARMFUL, temperature: 0, max_tokens: 24 });
    expect(classify("harmful_request", r.choices[0].message.content!, { domain: "coding" }).behaviour).toBe("refuses");
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stderr).toContain("SIGTERM, closing");
  });
});
