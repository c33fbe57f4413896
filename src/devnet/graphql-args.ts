/**
 * Just enough GraphQL to read the queries the RAI subgraph client (and a person with curl) sends:
 * root fields with arguments (variables, numbers, strings, enums, objects, lists) and a flat
 * selection of field names. Not a general GraphQL parser.
 */
export type GqlValue = string | number | boolean | null | GqlValue[] | { [k: string]: GqlValue };

export interface RootField {
  name: string;
  args: Record<string, GqlValue>;
  fields: string[];
}

const TOKEN_RE = /\s*(?:(#[^\n]*)|(\.\.\.|[{}()[\]:,!$=@])|("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*))/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  TOKEN_RE.lastIndex = 0;
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    TOKEN_RE.lastIndex = i;
    const m = TOKEN_RE.exec(src);
    if (!m) throw new Error(`Syntax Error: unexpected character at ${i}`);
    i = TOKEN_RE.lastIndex;
    if (m[1]) continue; // comment
    out.push(m[2] ?? m[3] ?? m[4] ?? m[5]);
  }
  return out;
}

export function parseQuery(query: string, variables: Record<string, unknown> = {}): RootField[] {
  const t = tokenize(query);
  let p = 0;
  const peek = () => t[p];
  const next = () => {
    if (p >= t.length) throw new Error("Syntax Error: unexpected end of query");
    return t[p++];
  };
  const expect = (s: string) => {
    const got = next();
    if (got !== s) throw new Error(`Syntax Error: expected "${s}", found "${got}"`);
  };
  const value = (): GqlValue => {
    const tok = next();
    if (tok === "$") {
      const name = next();
      if (!(name in variables)) throw new Error(`Variable "$${name}" is not defined`);
      return variables[name] as GqlValue;
    }
    if (tok === "{") {
      const obj: Record<string, GqlValue> = {};
      while (peek() !== "}") {
        const k = next();
        expect(":");
        obj[k] = value();
        if (peek() === ",") next();
      }
      next();
      return obj;
    }
    if (tok === "[") {
      const list: GqlValue[] = [];
      while (peek() !== "]") {
        list.push(value());
        if (peek() === ",") next();
      }
      next();
      return list;
    }
    if (tok.startsWith('"')) return JSON.parse(tok) as string;
    if (/^-?\d/.test(tok)) return Number(tok);
    if (tok === "true" || tok === "false") return tok === "true";
    if (tok === "null") return null;
    return tok; // enum value
  };
  const selection = (): string[] => {
    const fields: string[] = [];
    expect("{");
    while (peek() !== "}") {
      const f = next();
      if (peek() === "{") selection(); // nested object: accepted, not projected
      fields.push(f);
      if (peek() === ",") next();
    }
    next();
    return fields;
  };

  // Skip `query Name($a: T!, ...)` up to the operation's selection set.
  if (peek() === "query") {
    next();
    while (p < t.length && peek() !== "{") next();
  }
  expect("{");
  const roots: RootField[] = [];
  while (peek() !== "}") {
    let name = next();
    if (peek() === ":") { next(); name = next(); } // alias: keep the real field name
    const args: Record<string, GqlValue> = {};
    if (peek() === "(") {
      next();
      while (peek() !== ")") {
        const k = next();
        expect(":");
        args[k] = value();
        if (peek() === ",") next();
      }
      next();
    }
    const fields = peek() === "{" ? selection() : [];
    roots.push({ name, args, fields });
    if (peek() === ",") next();
  }
  return roots;
}
