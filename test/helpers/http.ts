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
