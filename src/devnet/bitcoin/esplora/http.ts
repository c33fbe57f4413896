import type http from "node:http";

/** An answer of the Esplora server: status, content type and body. */
export interface Reply {
  status: number;
  type: "text/plain" | "application/json" | "application/octet-stream";
  body: string | Uint8Array;
}

/** An error answered as electrs answers it: a status and a plain-text message. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export const text = (body: string, status = 200): Reply => ({ status, type: "text/plain", body });
export const json = (value: unknown): Reply => ({ status: 200, type: "application/json", body: JSON.stringify(value) });
export const binary = (body: Uint8Array): Reply => ({ status: 200, type: "application/octet-stream", body });
export const notFound = (message: string) => new HttpError(404, message);
export const badRequest = (message: string) => new HttpError(400, message);

export function send(res: http.ServerResponse, r: Reply): void {
  res.writeHead(r.status, { "content-type": r.type, "cache-control": "no-store", "access-control-allow-origin": "*" });
  res.end(typeof r.body === "string" ? r.body : Buffer.from(r.body));
}

export async function readBody(req: http.IncomingMessage, limit = 8 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw badRequest("request body too large");
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
