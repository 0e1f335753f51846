/**
 * OpenAI-style API errors for `persona-kit serve`: every bad request is answered with an HTTP 4xx status and
 * `{ "error": { "message", "type", "param", "code" } }`, as the OpenAI API does.
 */

export type ServeErrorType = "invalid_request_error" | "not_found_error" | "server_error";

export class ServeError extends Error {
  readonly status: number;
  readonly type: ServeErrorType;
  readonly param: string | null;
  readonly code: string | null;

  constructor(status: number, message: string, { type = "invalid_request_error", param = null, code = null }: { type?: ServeErrorType; param?: string | null; code?: string | null } = {}) {
    super(message);
    this.name = "ServeError";
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }

  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 for a request field: `param` names it, `code` says what kind of problem. */
export function badParam(param: string, message: string, code = "invalid_value"): ServeError {
  return new ServeError(400, message, { param, code });
}
