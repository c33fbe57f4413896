/**
 * JSON-RPC 2.0 as ElectrumX (aiorpcx) speaks it: one message per line or frame, batches as
 * arrays, notifications without an id; parse errors answered with -32700 and the connection kept;
 * argument-count errors -32602 with aiorpcx's wording; unknown methods -32601.
 */
export class RpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** An error answered, after which the connection is closed (ElectrumX's ReplyAndDisconnect). */
export class RpcErrorThenClose extends RpcError {}

export const BAD_REQUEST = 1;
export const DAEMON_ERROR = 2;

export interface MethodSpec<S> {
  /** Parameter names, in order (named parameters use them). */
  params: string[];
  required: number;
  /** Extra positional arguments are ignored instead of refused (server.version's rule). */
  extraAllowed?: boolean;
  call(session: S, args: unknown[]): unknown | Promise<unknown>;
}

interface Outcome {
  message?: Record<string, unknown>;
  close: boolean;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Python's str() of a JSON value, for messages that quote a parameter as ElectrumX does. */
export function pyStr(v: unknown): string {
  if (typeof v === "string") return v;
  return pyRepr(v);
}
function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (typeof v === "object") return `{${Object.entries(v as object).map(([k, x]) => `'${k}': ${pyRepr(x)}`).join(", ")}}`;
  return String(v);
}

const errorMessage = (code: number, message: string, id: unknown) => ({ jsonrpc: "2.0", error: { code, message }, id });

export class RpcDispatcher<S> {
  constructor(private readonly methods: Record<string, MethodSpec<S>>, private readonly before: (session: S, method: string) => void) {}

  /** Handles one received message (a line or a frame); returns the text to send, if any, and whether to close. */
  async receive(session: S, text: string): Promise<{ reply?: string; close: boolean }> {
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return { reply: JSON.stringify(errorMessage(-32700, "invalid JSON", null)), close: false };
    }
    if (Array.isArray(payload)) {
      if (payload.length === 0) return { reply: JSON.stringify(errorMessage(-32600, "batch is empty", null)), close: false };
      const parts: Array<Record<string, unknown>> = [];
      let close = false;
      for (const item of payload) {
        const o = await this.one(session, item);
        if (o.message) parts.push(o.message);
        close ||= o.close;
      }
      return { reply: parts.length ? JSON.stringify(parts) : undefined, close };
    }
    const o = await this.one(session, payload);
    return { reply: o.message ? JSON.stringify(o.message) : undefined, close: o.close };
  }

  private async one(session: S, item: unknown): Promise<Outcome> {
    if (typeof item !== "object" || item === null || Array.isArray(item)) return { message: errorMessage(-32600, "request object must be a dictionary", null), close: false };
    const req = item as Record<string, unknown>;
    const hasId = "id" in req;
    const id = req.id;
    if (hasId && !(typeof id === "number" || typeof id === "string" || id === null)) return { message: errorMessage(-32600, `invalid "id": ${pyStr(id)}`, null), close: false };
    if (!("method" in req)) return { close: false }; // a response from the client: nothing of ours to match
    const reply = (r: Record<string, unknown>): Outcome => ({ message: hasId ? r : undefined, close: false });
    if (typeof req.method !== "string") return reply(errorMessage(-32601, "method must be a string", id));
    const method = req.method;
    const params = req.params ?? [];
    if (typeof params !== "object" || params === null) return reply(errorMessage(-32602, `invalid request arguments: ${pyStr(params)}`, id));
    try {
      this.before(session, method);
      const spec = this.methods[method];
      if (!spec) throw new RpcError(-32601, `unknown method "${method}"`);
      const result = await spec.call(session, this.arguments(method, spec, params as unknown[] | Record<string, unknown>));
      return reply({ jsonrpc: "2.0", result: result === undefined ? null : result, id });
    } catch (e) {
      if (e instanceof RpcError) return { message: hasId ? errorMessage(e.code, e.message, id) : undefined, close: e instanceof RpcErrorThenClose };
      return reply(errorMessage(-32603, "internal server error", id));
    }
  }

  private arguments(method: string, spec: MethodSpec<S>, params: unknown[] | Record<string, unknown>): unknown[] {
    if (Array.isArray(params)) {
      if (params.length < spec.required) throw new RpcError(-32602, `${plural(params.length, "argument")} passed to method "${method}" but it requires ${spec.required}`);
      if (params.length > spec.params.length && !spec.extraAllowed) throw new RpcError(-32602, `${plural(params.length, "argument")} passed to method ${method} taking at most ${spec.params.length}`);
      return params.slice(0, spec.params.length);
    }
    const missing = spec.params.slice(0, spec.required).filter((n) => !(n in params));
    if (missing.length) throw new RpcError(-32602, `method "${method}" requires parameter${missing.length === 1 ? "" : "s"} ${missing.sort().map((n) => `"${n}"`).join(", ")}`);
    const excess = Object.keys(params).filter((n) => !spec.params.includes(n));
    if (excess.length && !spec.extraAllowed) throw new RpcError(-32602, `method "${method}" does not take parameter${excess.length === 1 ? "" : "s"} ${excess.sort().map((n) => `"${n}"`).join(", ")}`);
    const args: unknown[] = [];
    spec.params.forEach((n, i) => (args[i] = params[n]));
    while (args.length && args[args.length - 1] === undefined) args.pop();
    return args;
  }
}
