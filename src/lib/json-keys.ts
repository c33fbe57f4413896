/**
 * JSON.parse keeps the LAST of two equal keys without a word, so `{"TBTCSystem": A, "TBTCSystem": B}`
 * silently means B. This scanner walks text that JSON.parse already accepted and lists the keys of
 * every object with the raw text of their values, so a caller can refuse duplicates and name both
 * values. It validates nothing itself: call it only on valid JSON.
 */
export interface JsonObjectKeys {
  /** Keys from the root to this object (array indexes as decimal strings). */
  path: string[];
  keys: { key: string; value: string }[];
}

const VALUE_PREVIEW = 80;

export function objectKeys(text: string): JsonObjectKeys[] {
  const out: JsonObjectKeys[] = [];
  let i = 0;
  const skipWs = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const readString = (): string => {
    const start = i;
    i++; // opening quote
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string[]): void => {
    skipWs();
    const c = text[i];
    if (c === "{") {
      const obj: JsonObjectKeys = { path, keys: [] };
      out.push(obj);
      i++;
      skipWs();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        skipWs();
        const key = readString();
        skipWs();
        i++; // colon
        skipWs();
        const start = i;
        value([...path, key]);
        obj.keys.push({ key, value: preview(text.slice(start, i)) });
        skipWs();
        if (text[i++] === "}") return;
      }
    }
    if (c === "[") {
      i++;
      skipWs();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value([...path, String(n)]);
        skipWs();
        if (text[i++] === "]") return;
      }
    }
    if (c === '"') {
      readString();
      return;
    }
    while (i < text.length && !/[\s,\]}]/.test(text[i])) i++; // number, true, false, null
  };
  value([]);
  return out;
}

function preview(raw: string): string {
  const s = raw.trim();
  if (s.startsWith("{")) return "{…}";
  if (s.startsWith("[")) return "[…]";
  const shown = s.startsWith('"') ? (JSON.parse(s) as string) : s;
  return shown.length > VALUE_PREVIEW ? `${shown.slice(0, VALUE_PREVIEW)}…` : shown;
}

export interface DuplicateKey {
  path: string[];
  first: { key: string; value: string };
  second: { key: string; value: string };
}

/**
 * The first key that appears twice in one object; `foldCase(path)` says where names differing
 * only in case count as the same (a contract map: `TBTCSystem` and `tbtcsystem`).
 */
export function findDuplicateKey(text: string, foldCase: (path: string[]) => boolean = () => false): DuplicateKey | undefined {
  for (const o of objectKeys(text)) {
    const fold = foldCase(o.path);
    const seen = new Map<string, { key: string; value: string }>();
    for (const k of o.keys) {
      const id = fold ? k.key.toLowerCase() : k.key;
      const first = seen.get(id);
      if (first) return { path: o.path, first, second: k };
      seen.set(id, k);
    }
  }
  return undefined;
}
