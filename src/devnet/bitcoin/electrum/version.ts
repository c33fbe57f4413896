/**
 * server.version negotiation as ElectrumX does it: the client sends a version or [min, max]; the
 * server uses min(client max, server max) unless that is below max(client min, server min), in
 * which case there is none in common (the server answers an error and closes).
 */
export const PROTOCOL_MIN = "1.4";
/** 1.4.2 adds blockchain.scripthash.unsubscribe, which the double serves. */
export const PROTOCOL_MAX = "1.4.2";

/** "1.4.2" -> [1, 4, 2]; anything else -> [0] (never supported). */
function parse(v: unknown): number[] {
  if (typeof v !== "string" || !/^\d+(\.\d+)+$/.test(v)) return [0];
  return v.split(".").map(Number);
}

/** Python's tuple order: element by element, a prefix sorts first. */
function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The negotiated version string, or undefined when there is none in common. */
export function negotiateVersion(request: unknown): string | undefined {
  const [lo, hi] = Array.isArray(request) && request.length === 2 ? [parse(request[0]), parse(request[1])] : [parse(request), parse(request)];
  const serverMin = parse(PROTOCOL_MIN);
  const serverMax = parse(PROTOCOL_MAX);
  const chosen = compare(hi, serverMax) < 0 ? hi : serverMax;
  const floor = compare(lo, serverMin) > 0 ? lo : serverMin;
  if (compare(chosen, floor) < 0 || (chosen.length === 1 && chosen[0] === 0)) return undefined;
  return chosen.join(".");
}
