import http from "node:http";

/** A local HTTP endpoint that answers "ok" and records every request: the stand-in for Slack and webhooks. */
export interface Recorder {
  port: number;
  got: { path: string; body: string }[];
  close(): Promise<void>;
}

export async function startRecorder(): Promise<Recorder> {
  const got: { path: string; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      got.push({ path: req.url ?? "", body });
      res.end("ok");
    });
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const port = (server.address() as { port: number }).port;
  return { port, got, close: () =>
      new Promise<void>((res) => {
        server.close(() => res());
        // Keep-alive sockets of the client would otherwise hold close() open.
        server.closeAllConnections();
      }) };
}

/** A JSON-RPC endpoint in front of a real node that answers 503 while `down` is set: an RPC outage on demand. */
export interface RpcSwitch {
  url: string;
  down: boolean;
  /** JSON-RPC methods received, in order (a batch adds each of its calls). */
  methods: string[];
  close(): Promise<void>;
}

/** `downAfter`: answer that many requests, then go down by itself (for a process the test cannot reach into). */
export async function startRpcSwitch(upstream: string, o: { downAfter?: number } = {}): Promise<RpcSwitch> {
  let served = 0;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const json = JSON.parse(body) as { method: string } | { method: string }[];
      sw.methods.push(...(Array.isArray(json) ? json : [json]).map((c) => c.method));
      if (o.downAfter !== undefined && ++served > o.downAfter) sw.down = true;
      if (sw.down) return void res.writeHead(503, { "content-type": "application/json" }).end('{"error":"unavailable"}');
      try {
        const up = await fetch(upstream, { method: "POST", headers: { "content-type": "application/json" }, body });
        res.writeHead(up.status, { "content-type": "application/json" }).end(await up.text());
      } catch {
        res.writeHead(502).end();
      }
    });
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const port = (server.address() as { port: number }).port;
  const sw: RpcSwitch = {
    url: `http://127.0.0.1:${port}`,
    down: false,
    methods: [],
    close: () => new Promise<void>((res) => { server.close(() => res()); server.closeAllConnections(); }),
  };
  return sw;
}
