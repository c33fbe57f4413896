/**
 * Server URLs. Electrum: `tcp://host:port`, `tls://host:port` (alias `ssl://`), `ws://host[:port][/path]`,
 * `wss://host[:port][/path]`; `?insecure=1` on tls/wss accepts a certificate that does not verify
 * (a self-signed server you run yourself). Esplora: an `http(s)://…/api` base URL.
 *
 * Errors never echo the URL (it may carry an API key); they say what to fix.
 */
export type ElectrumTransport = "tcp" | "tls" | "ws" | "wss";

export interface ElectrumEndpoint {
  kind: "electrum";
  /** As configured (may hold secrets: show it only through redactUrl). */
  url: string;
  transport: ElectrumTransport;
  host: string;
  port: number;
  /** Skip certificate verification (tls/wss with ?insecure=1). */
  insecure: boolean;
  /** ws/wss: the URL to open, without keepctl's own `insecure` parameter. */
  wsUrl?: string;
}

export interface EsploraEndpoint {
  kind: "esplora";
  url: string;
  /** The base URL without a trailing slash; paths such as /blocks/tip/hash are appended. */
  base: string;
}

export const ELECTRUM_SCHEMES = ["tcp", "tls", "ssl", "ws", "wss"] as const;
const ACCEPTED = "tcp://, tls:// (or ssl://), ws://, wss://";

export class InvalidServerUrl extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidServerUrl";
  }
}

export function parseElectrumUrl(url: string): ElectrumEndpoint {
  let u: URL;
  try {
    if (/\s/.test(url)) throw new Error("whitespace");
    u = new URL(url);
  } catch {
    throw new InvalidServerUrl(`invalid Electrum server URL (accepted: ${ACCEPTED}, e.g. tls://electrum.example:50002)`);
  }
  const scheme = u.protocol.replace(/:$/, "");
  if (!(ELECTRUM_SCHEMES as readonly string[]).includes(scheme)) {
    throw new InvalidServerUrl(`unsupported Electrum URL scheme "${safeScheme(scheme)}://" (accepted: ${ACCEPTED})`);
  }
  const transport: ElectrumTransport = scheme === "ssl" ? "tls" : (scheme as ElectrumTransport);
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new InvalidServerUrl(`an Electrum URL needs a host (e.g. ${scheme}://electrum.example:50002)`);
  const insecureParam = u.searchParams.get("insecure");
  if (insecureParam !== null && !/^(1|true)$/.test(insecureParam)) throw new InvalidServerUrl("insecure= takes 1 or true");
  const insecure = insecureParam !== null;
  if (insecure && (transport === "tcp" || transport === "ws")) throw new InvalidServerUrl(`?insecure=1 applies to tls:// and wss:// only (${scheme}:// has no certificate)`);
  if (transport === "tcp" || transport === "tls") {
    if (!u.port) throw new InvalidServerUrl(`an Electrum ${scheme}:// URL needs a port (e.g. ${scheme}://electrum.example:${transport === "tcp" ? 50001 : 50002})`);
    if ((u.pathname && u.pathname !== "/") || u.username || u.password || [...u.searchParams.keys()].some((k) => k !== "insecure") || u.hash) {
      throw new InvalidServerUrl(`an Electrum ${scheme}:// URL is host:port only (a path, query or credentials have no meaning over a raw socket)`);
    }
    return { kind: "electrum", url, transport, host, port: Number(u.port), insecure };
  }
  u.searchParams.delete("insecure");
  const port = u.port ? Number(u.port) : transport === "wss" ? 443 : 80;
  return { kind: "electrum", url, transport, host, port, insecure, wsUrl: u.toString() };
}

export function parseEsploraUrl(url: string): EsploraEndpoint {
  let ok = false;
  try {
    ok = !/\s/.test(url) && ["http:", "https:"].includes(new URL(url).protocol);
  } catch { /* reported below */ }
  if (!ok) throw new InvalidServerUrl("invalid Esplora URL (must start with http:// or https://)");
  return { kind: "esplora", url, base: url.replace(/\/+$/, "") };
}

/**
 * The seed's three variables as one Electrum URL: BTC_ELECTRUM_SERVER (a host), BTC_ELECTRUM_PORT
 * and BTC_ELECTRUM_PROTOCOL (tcp, ssl, tls, ws or wss; default tls). The port is required: the
 * protocols' usual ports differ between server programs.
 */
export function electrumUrlFromParts(server: string, port: string | undefined, protocol: string | undefined): string {
  const proto = (protocol ?? "tls").trim().toLowerCase();
  if (!(ELECTRUM_SCHEMES as readonly string[]).includes(proto)) throw new InvalidServerUrl(`BTC_ELECTRUM_PROTOCOL must be tcp, ssl, tls, ws or wss; got "${safeScheme(proto)}"`);
  const host = server.trim();
  if (!/^[A-Za-z0-9.-]+$|^\[?[0-9A-Fa-f:]+\]?$/.test(host)) throw new InvalidServerUrl("BTC_ELECTRUM_SERVER must be a host name or IP address (no scheme, port or path)");
  if (port === undefined) throw new InvalidServerUrl("BTC_ELECTRUM_SERVER needs BTC_ELECTRUM_PORT (the server's port for that protocol)");
  if (!/^\d+$/.test(port.trim()) || Number(port) < 1 || Number(port) > 65535) throw new InvalidServerUrl(`BTC_ELECTRUM_PORT must be a port number 1..65535, got "${safeScheme(port)}"`);
  const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const url = `${proto}://${bracketed}:${Number(port)}`;
  parseElectrumUrl(url);
  return url;
}

/** A scheme or port as typed, cut and stripped to what is safe to echo. */
function safeScheme(s: string): string {
  return s.replace(/[^A-Za-z0-9+.-]/g, "?").slice(0, 16);
}
