/**
 * `persona-kit serve` against hostile requests over raw sockets (node:net): malformed percent-encoding in the path,
 * HEAD, repeated slashes, and a client too slow to send its headers.
 */
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../kit/io/load";
import { requestPath, startServer, type RunningServer } from "../kit/serve/server";

const ORGANISM = path.join(__dirname, "..", "data", "models", "persona-organism");
let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ model: await loadModel(ORGANISM), modelName: "persona-organism", headersTimeoutMs: 300 });
});
afterAll(async () => {
  await server?.close();
});

/** Writes `text` on a raw socket and resolves with everything the server sends before it closes (or `waitMs`). */
function rawSocket(text: string, { endAfterWrite = false, waitMs = 5000 } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, server.host, () => socket.write(text));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on("data", (c) => {
      chunks.push(c);
      if (endAfterWrite) socket.end();
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    socket.on("error", reject);
  });
}

const request = (method: string, target: string) => rawSocket(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
const status = (reply: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1]);
const body = (reply: string) => reply.slice(reply.indexOf("\r\n\r\n") + 4);

describe("startServer(options) answers hostile requests with the right status", () => {
  it("GET /v1/models/%ZZ, /v1/models/% and /v1/models/%E0%A4%A answer 400 invalid_url, not 500", async () => {
    for (const target of ["/v1/models/%ZZ", "/v1/models/%", "/v1/models/%E0%A4%A"]) {
      const reply = await request("GET", target);
      expect(status(reply), target).toBe(400);
      expect(JSON.parse(body(reply)).error).toMatchObject({ code: "invalid_url", param: "model" });
    }
    expect(status(await request("GET", "/v1/models/no%20such"))).toBe(404);
  });

  it("HEAD /health and HEAD /v1/models answer 200 with no body", async () => {
    for (const target of ["/health", "/v1/models"]) {
      const reply = await request("HEAD", target);
      expect(status(reply), target).toBe(200);
      expect(body(reply)).toBe("");
    }
  });

  it("GET //v1//models and /v1/models/?x=1 reach /v1/models (repeated and trailing slashes collapse)", async () => {
    for (const target of ["//v1//models", "/v1/models/?x=1", "/v1///models//"]) {
      const reply = await request("GET", target);
      expect(status(reply), target).toBe(200);
      expect(JSON.parse(body(reply)).data[0].id).toBe("persona-organism");
    }
  });

  it("requestPath(target) collapses slashes, drops query and fragment, and reads absolute-form targets", () => {
    expect(requestPath("//v1//models")).toBe("/v1/models");
    expect(requestPath("/health/?a=b#c")).toBe("/health");
    expect(requestPath("http://localhost:80//v1/models")).toBe("/v1/models");
    expect(requestPath(undefined)).toBe("/");
  });

  it("a client that never finishes its headers gets 408 after headersTimeoutMs, and the server stays up", async () => {
    const t0 = performance.now();
    const reply = await rawSocket("GET /health HTTP/1.1\r\nHost: x\r\n", { waitMs: 5000 });
    expect(status(reply)).toBe(408);
    expect(JSON.parse(body(reply)).error.code).toBe("request_timeout");
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(status(await request("GET", "/health"))).toBe(200);
  });
});
