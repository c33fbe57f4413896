/** The run table the scale benches print: one row per run, the same columns everywhere. */
export interface RunFigures {
  name: string;
  ms: number;
  httpRequests: number;
  rpcCalls: number;
  bytesIn: number;
  bytesOut: number;
  peakRssMb?: number;
  found: number;
  rateLimited?: number;
}

export const kb = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(0)} kB`);

export function runHeader(nameWidth: number): string {
  return `${"run".padEnd(nameWidth)} ${"wall".padStart(10)} ${"HTTP".padStart(6)} ${"JSON-RPC".padStart(9)} ${"sent".padStart(9)} ${"received".padStart(9)} ${"peak RSS".padStart(9)} ${"found".padStart(6)}`;
}

export function runRow(x: RunFigures, nameWidth: number): string {
  return `${x.name.padEnd(nameWidth)} ${(x.ms.toFixed(0) + " ms").padStart(10)} ${String(x.httpRequests).padStart(6)} ${String(x.rpcCalls).padStart(9)} ${kb(x.bytesIn).padStart(9)} ${kb(x.bytesOut).padStart(9)} ${(x.peakRssMb ? x.peakRssMb.toFixed(0) + " MB" : "-").padStart(9)} ${String(x.found).padStart(6)}` +
    `${x.rateLimited ? `  (${x.rateLimited} x 429)` : ""}`;
}
