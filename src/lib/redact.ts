/**
 * Secrets never reach output. Anything registered here (keys, passwords, full RPC URLs) is
 * replaced wherever it appears in text we print; RPC URLs are shown as origin only, because
 * providers embed API keys in the path or query.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) secrets.add(value);
}

/** A host label that looks like an API key (some providers put the key in the hostname). */
export function keyLikeHostLabel(label: string): boolean {
  return label.length >= 12 && /\d/.test(label) && /[a-z]/i.test(label);
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const hasMore = (u.pathname && u.pathname !== "/") || u.search || u.username || u.password;
    const host = u.host.split(".").map((l) => (keyLikeHostLabel(l) ? "***" : l)).join(".");
    return `${u.protocol}//${host}${hasMore ? "/***" : ""}`;
  } catch {
    return "***";
  }
}

const URL_RE = /\b(?:https?|wss?):\/\/[^\s"'<>)]+/g;
const HEX_KEY_RE = /\b(?:0x)?[0-9a-fA-F]{64}\b/g;

/**
 * Redacts registered secrets, credentials in URLs, and anything shaped like a raw private key.
 * (32-byte hex values are also tx hashes; callers that print hashes on purpose don't pass them here.)
 */
export function redact(text: string, opts: { keepHashes?: boolean } = {}): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join("***");
  out = out.replace(URL_RE, (m) => redactUrl(m));
  if (!opts.keepHashes) out = out.replace(HEX_KEY_RE, (m) => (secretLike(m) ? "***" : m));
  return out;
}

function secretLike(hex: string): boolean {
  const bare = hex.startsWith("0x") ? hex.slice(2) : hex;
  for (const s of secrets) if (s.toLowerCase().includes(bare.toLowerCase())) return true;
  return false;
}
