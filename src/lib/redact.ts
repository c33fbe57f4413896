import { wordlists } from "ethers";

/**
 * Secrets never reach output. Most of the work needs no registration, because a value can be
 * echoed before the config that would register it has loaded (a key typed into --operator):
 * - anything shaped like a 32-byte hex secret (64 hex digits, with or without 0x);
 * - a BIP-39 mnemonic: a run of 12 or more lowercase words of the English list;
 * - URL credentials, path and query (providers put API keys there): URLs keep their origin only.
 * Registered values (passwords, webhook tokens, URL parts that a provider may echo alone) are
 * replaced too, wherever they appear.
 *
 * Tx and block hashes are also 32-byte hex, and keepctl prints them on purpose. Two modes:
 * - redact(text) (errors, hints, JSON errors, alerts, journal reasons): every 64-hex value is
 *   masked unless a hash label stands right before it (`tx 0x…`, `hash: 0x…`, `"hash":"0x…"`,
 *   `transaction 0x…`, `block 0x…`, `log 0x…`). A key typed by mistake never carries such a label.
 * - redact(text, { keepHashes: true }) (informational lines and logs that keepctl builds from
 *   chain data, e.g. `sent redeem (nonce 3) 0x…`): 0x-prefixed 64-hex values are kept unless
 *   registered; bare 64-hex (the form keys are usually pasted in) is still masked unless labelled
 *   (`Bitcoin tx 4a5e…`: Bitcoin prints its txids bare).
 * Tables, events and result documents are data, not messages: they are not passed through here.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) secrets.add(value);
}

/** A host label that looks like an API key (some providers put the key in the hostname). */
export function keyLikeHostLabel(label: string): boolean {
  return label.length >= 12 && /\d/.test(label) && /[a-z]/i.test(label);
}

/**
 * Parts of a URL that may be an API key and may be echoed alone by a provider's error: path
 * segments, query values, user name and password. Short parts count too (some keys are 8 or
 * 10 characters); plain lowercase words such as "v3", "rpc" or "mainnet" do not, so that
 * registering them does not mask ordinary words in every message.
 */
export function urlSecretParts(url: string): string[] {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [];
  }
  const parts = [...u.pathname.split("/"), ...u.searchParams.values(), safeDecode(u.username), safeDecode(u.password)];
  const keyLike = (p: string) => p.length >= 16 || (p.length >= 6 && !/^[a-z-]+$/.test(p)) || (p.length >= 4 && /\d/.test(p) && /[a-z]/i.test(p) && !/^v\d+$/.test(p));
  return [...parts.filter(keyLike), ...u.hostname.split(".").filter(keyLikeHostLabel)];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Registers a secret URL whole and its key-like parts. */
export function registerSecretUrl(url: string | undefined): void {
  if (!url) return;
  registerSecret(url);
  for (const p of urlSecretParts(url)) registerSecret(p);
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const hasMore = (u.pathname && u.pathname !== "/") || u.search || u.username || u.password;
    const host = u.hostname.split(".").map((l) => (keyLikeHostLabel(l) ? "***" : l)).join(".") + (u.port ? `:${u.port}` : "");
    return `${u.protocol}//${host}${hasMore ? "/***" : ""}`;
  } catch {
    return "***";
  }
}


let words: Set<string> | undefined;
function englishWords(): Set<string> {
  if (!words) {
    const list = wordlists.en;
    words = new Set<string>();
    for (let i = 0; i < 2048; i++) words.add(list.getWord(i));
  }
  return words;
}

/**
 * Masks every run of 12 or more English BIP-39 words separated by whitespace (longer runs too: a
 * phrase may sit beside another list word). One linear pass over the tokens: no regex backtracking
 * on long input.
 */
function redactMnemonics(text: string): string {
  const list = englishWords();
  const tokens = text.match(/[a-z]+|\s+|[^a-z\s]+/g) ?? [];
  const out: string[] = [];
  let run: string[] = []; // list words and the whitespace between them
  let count = 0;
  const flush = () => {
    // Trailing whitespace is not part of the phrase.
    const tail = run.length && /^\s/.test(run[run.length - 1]) ? run.pop()! : "";
    out.push(count >= 12 ? "***" : run.join(""), tail);
    run = [];
    count = 0;
  };
  for (const t of tokens) {
    if (/^[a-z]/.test(t) && list.has(t)) {
      run.push(t);
      count++;
    } else if (/^\s/.test(t) && count > 0) {
      run.push(t);
    } else {
      if (count > 0) flush();
      out.push(t);
    }
  }
  if (count > 0) flush();
  return out.join("");
}

export function redact(text: string, opts: { keepHashes?: boolean } = {}): string {
  // The patterns live here rather than at module level so that mutation testing (which swaps code
  // while the module stays loaded) can measure them; V8 compiles a literal once either way.
  // Electrum's raw-socket schemes too: a tls:// URL can carry credentials like any other.
  const URL_RE = /\b(?:https?|wss?|tcp|tls|ssl):\/\/[^\s"'<>)]+/g;
  const HEX_KEY_RE = /(^|[^0-9a-zA-Z])((?:0x)?[0-9a-fA-F]{64})(?![0-9a-zA-Z])/g;
  /** Labels after which a 64-hex value is a hash keepctl means to show. */
  const HASH_LABEL_RE = /(?:\btx|\btxHash|\bhash|\btransactionHash|\bblockHash|\btransaction|\bblock|\blog)["']?\s*[:=]?\s*["']?$/i;
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join("***");
  out = out.replace(URL_RE, (m) => redactUrl(m));
  out = out.replace(HEX_KEY_RE, (m, before: string, hex: string, offset: number, whole: string) => {
    if (isRegistered(hex)) return before + "***";
    if (opts.keepHashes && hex.startsWith("0x")) return m;
    // Labelled in both modes: Bitcoin txids are bare hex by convention (`Bitcoin tx 4a5e…`).
    if (HASH_LABEL_RE.test(whole.slice(Math.max(0, offset - 24), offset + before.length))) return m;
    return before + "***";
  });
  return redactMnemonics(out);
}

function isRegistered(hex: string): boolean {
  const bare = (hex.startsWith("0x") ? hex.slice(2) : hex).toLowerCase();
  for (const s of secrets) if (s.toLowerCase().includes(bare)) return true;
  return false;
}

export const ECHO_MAX = 80;

/**
 * A user's value as it may appear in a message: redacted, control characters escaped (a newline
 * could fake a second error line, an escape sequence could drive the terminal) and cut to
 * ECHO_MAX characters with "…". Every parse error that echoes a value goes through here.
 */
export function echo(value: unknown): string {
  // Only the start can be shown; redacting a 100 kB value whole would be wasted work.
  const s = redact(String(value).slice(0, ECHO_MAX * 4));
  const escaped = escapeControls(s);
  return escaped.length > ECHO_MAX ? escaped.slice(0, ECHO_MAX - 1) + "…" : escaped;
}

/** C0 and C1 controls (and DEL) as visible escapes; `keepNewlines` for multi-line help text. */
export function escapeControls(s: string, keepNewlines = false): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    if (keepNewlines && c === "\n") return c;
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0");
  });
}

/**
 * Text that commander prints itself (its errors echo option names and values): redacted, controls
 * escaped, and any quoted value longer than ECHO_MAX cut. Help text passes through unchanged in shape.
 */
export function sanitizeCommanderText(s: string): string {
  if (!s.startsWith("error:")) return s;
  const cut = (v: string) => (v.length > ECHO_MAX ? v.slice(0, ECHO_MAX - 1) + "…" : v);
  // Values sit between single quotes: escape everything there (a newline in a value must not
  // start a line of its own); outside, commander's own newlines ("(Did you mean ...?)") stay.
  const quoted = redact(s).replace(/'([^']*)'/g, (_m, v: string) => `'${cut(escapeControls(v))}'`);
  return escapeControls(quoted, true);
}
