import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The rooms of docs/architecture.md, enforced: every import of src/**\/*.ts is parsed (with the
 * TypeScript parser, so comments and strings never count) and each rule lists the edges that
 * break it, as `from -> to`, so a failure names what to move.
 */
const ROOT = path.resolve(__dirname, "..", "..");
const SRC = path.join(ROOT, "src");

interface Edge {
  /** Importing file, relative to the repository root, with forward slashes. */
  from: string;
  /** Imported file, same form (`src/lib/x.ts`, or `src/lib/x` for a directory's index). */
  to: string;
  /** `import(...)`: loaded only when the code runs, not when the module loads. */
  dynamic: boolean;
  /** `import type` / `export type`: erased at compile time, loads nothing. */
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(p);
    return d.name.endsWith(".ts") && !d.name.endsWith(".d.ts") ? [p] : [];
  });
}

const rel = (p: string) => path.relative(ROOT, p).split(path.sep).join("/");

/** A relative specifier resolved to the file it names; packages (`ethers`, `node:fs`) are not ours. */
function resolveLocal(fromFile: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = path.resolve(path.dirname(fromFile), spec);
  for (const c of [base + ".ts", path.join(base, "index.ts"), base]) if (fs.existsSync(c) && fs.statSync(c).isFile()) return rel(c);
  return rel(base); // a JSON file or something outside src: still an edge, judged by its path
}

function importEdges(file: string): Edge[] {
  const text = fs.readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const edges: Edge[] = [];
  const add = (spec: ts.Expression | undefined, dynamic: boolean, typeOnly: boolean) => {
    if (!spec || !ts.isStringLiteralLike(spec)) return;
    const to = resolveLocal(file, spec.text);
    if (to) edges.push({ from: rel(file), to, dynamic, typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      // `import { type A, type B } from` loads nothing either.
      const allTypeNames = !!c && !c.name && !!c.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier, false, !!c?.isTypeOnly || allTypeNames);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, false, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, false, node.isTypeOnly);
    } else if (ts.isCallExpression(node)) {
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0], true, false);
      else if (ts.isIdentifier(node.expression) && node.expression.text === "require") add(node.arguments[0], false, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal as ts.Expression, false, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir + "/") || p.startsWith(dir + ".");
const PROTOCOLS = ["src/lib/tbtc", "src/lib/rai", "src/lib/uma"];
/** The commands that start a devnet, each loading src/devnet only lazily. */
const DEVNET_LOADERS = ["src/commands/devnet.ts", "src/commands/replay.ts"];
/** What src/lib/btc may use of src/lib/chain: protocol-free helpers, nothing Ethereum-specific. */
const BTC_MAY_USE_FROM_CHAIN = ["src/lib/chain/endpoint-pool.ts", "src/lib/chain/sleep.ts"];

/** Each rule: a name and a predicate over one edge; the test lists every edge a rule rejects. */
const RULES: Array<{ name: string; breaks: (e: Edge) => boolean }> = [
  { name: "lib imports a command", breaks: (e) => under(e.from, "src/lib") && under(e.to, "src/commands") },
  { name: "a command imports another command", breaks: (e) => under(e.from, "src/commands") && under(e.to, "src/commands") && !e.to.startsWith("src/commands/common") && !e.to.startsWith("src/commands/bot-common") },
  {
    name: "production code loads src/devnet (only commands/devnet.ts may, by a lazy import() or a type)",
    // commands/replay.ts runs the devnet in-process (`keepctl replay`): the same lazy rule applies.
    breaks: (e) => !under(e.from, "src/devnet") && under(e.to, "src/devnet") && !(DEVNET_LOADERS.includes(e.from) && (e.dynamic || e.typeOnly)),
  },
  { name: "src/lib/chain imports a protocol", breaks: (e) => under(e.from, "src/lib/chain") && PROTOCOLS.some((p) => under(e.to, p)) },
  {
    name: "tBTC and UMA import each other",
    breaks: (e) => (under(e.from, "src/lib/tbtc") && under(e.to, "src/lib/uma")) || (under(e.from, "src/lib/uma") && under(e.to, "src/lib/tbtc")),
  },
  { name: "RAI imports tBTC or UMA (the feed is a source UMA uses, never the other way)", breaks: (e) => under(e.from, "src/lib/rai") && (under(e.to, "src/lib/tbtc") || under(e.to, "src/lib/uma")) },
  { name: "src/lib/alert imports chain or a protocol (notifiers are a leaf)", breaks: (e) => under(e.from, "src/lib/alert") && [...PROTOCOLS, "src/lib/chain"].some((p) => under(e.to, p)) },
  { name: "lib or a command imports the CLI entry", breaks: (e) => (under(e.from, "src/lib") || under(e.from, "src/commands")) && e.to === "src/cli.ts" },
  // The Bitcoin layer sits beside lib/chain: it knows no protocol, and of lib/chain it may use only
  // the generic endpoint pool (cool-downs) and the abortable sleep; lib/chain never needs Bitcoin.
  { name: "src/lib/btc imports a protocol or lib/chain beyond its generic helpers", breaks: (e) => under(e.from, "src/lib/btc") && (PROTOCOLS.some((p) => under(e.to, p)) || (under(e.to, "src/lib/chain") && !BTC_MAY_USE_FROM_CHAIN.includes(e.to))) },
  { name: "src/lib/chain imports the Bitcoin layer", breaks: (e) => under(e.from, "src/lib/chain") && under(e.to, "src/lib/btc") },
  // tBTC's flows each have a room; reading (scan, report, health) is below them all.
  { name: "tBTC's read room imports a flow (redeem, watch)", breaks: (e) => under(e.from, "src/lib/tbtc/read") && (under(e.to, "src/lib/tbtc/redeem") || under(e.to, "src/lib/tbtc/watch")) },
  { name: "tBTC's redeem room imports the watch loop", breaks: (e) => under(e.from, "src/lib/tbtc/redeem") && under(e.to, "src/lib/tbtc/watch") },
  // Minting builds on redeem's Bitcoin handle and sender; watch drives it (--replenish-to), never the reverse.
  { name: "tBTC's mint room imports the watch loop", breaks: (e) => under(e.from, "src/lib/tbtc/mint") && under(e.to, "src/lib/tbtc/watch") },
  { name: "tBTC's read or redeem room imports the mint room", breaks: (e) => (under(e.from, "src/lib/tbtc/read") || under(e.from, "src/lib/tbtc/redeem")) && under(e.to, "src/lib/tbtc/mint") },
  // The state store knows journals and leases, not what they are for; and the PostgreSQL client
  // (pg-store, the only importer of `pg`) loads only when --state-url is given: lazily, or as a type.
  { name: "src/lib/state imports a protocol or the Bitcoin layer", breaks: (e) => under(e.from, "src/lib/state") && [...PROTOCOLS, "src/lib/btc"].some((p) => under(e.to, p)) },
  { name: "pg-store (the PostgreSQL client) is loaded eagerly", breaks: (e) => e.to === "src/lib/state/pg-store.ts" && !e.dynamic && !e.typeOnly },
  // The Bitcoin network double is dev tooling with no protocol knowledge (it serves blocks, not
  // deposits), and it shares no code with the Bitcoin layer it stands in for: a bug in lib/btc's
  // hashing or parsing copied into the double would agree with itself and hide.
  { name: "the Bitcoin double (src/devnet/bitcoin) imports a protocol, lib/btc or the tBTC devnet", breaks: (e) => under(e.from, "src/devnet/bitcoin") && ([...PROTOCOLS, "src/lib/btc"].some((p) => under(e.to, p)) || (under(e.to, "src/devnet") && !under(e.to, "src/devnet/bitcoin"))) },
];

function violations(edges: Edge[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of RULES) {
    const bad = edges.filter(r.breaks).map((e) => `${e.from} -> ${e.to}${e.dynamic ? " (dynamic)" : ""}${e.typeOnly ? " (type)" : ""}`);
    if (bad.length) out[r.name] = [...new Set(bad)].sort();
  }
  return out;
}

describe("import boundaries (docs/architecture.md)", () => {
  const edges = sourceFiles(SRC).flatMap(importEdges);

  it("finds the imports it judges (the parser sees static, dynamic and type imports)", () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(edges.some((e) => e.from === "src/cli.ts" && e.to.startsWith("src/commands/"))).toBe(true);
    // The lazy load of the devnet is what keeps it out of every other command.
    expect(edges.some((e) => e.from === "src/commands/devnet.ts" && under(e.to, "src/devnet") && e.dynamic)).toBe(true);
  });

  it("rejects the edges each rule forbids (the rules can fail)", () => {
    const sample: Edge[] = [
      { from: "src/lib/tbtc/report.ts", to: "src/commands/common.ts", dynamic: false, typeOnly: false },
      { from: "src/commands/check.ts", to: "src/commands/list-keeps.ts", dynamic: false, typeOnly: false },
      { from: "src/commands/check.ts", to: "src/commands/common.ts", dynamic: false, typeOnly: false },
      { from: "src/commands/devnet.ts", to: "src/devnet/scenario.ts", dynamic: false, typeOnly: false },
      { from: "src/commands/devnet.ts", to: "src/devnet/scenario.ts", dynamic: true, typeOnly: false },
      { from: "src/commands/watch.ts", to: "src/devnet/scenario.ts", dynamic: true, typeOnly: false },
      { from: "src/lib/chain/sender.ts", to: "src/lib/uma/emp-abi.ts", dynamic: false, typeOnly: true },
      { from: "src/lib/uma/liquidator.ts", to: "src/lib/tbtc/abis.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/tbtc/abis.ts", to: "src/lib/chain/logs.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/uma/bot-session.ts", to: "src/lib/rai/feed.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/rai/feed.ts", to: "src/lib/uma/emp-client.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/alert/hub.ts", to: "src/lib/chain/provider.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/chain/sender.ts", to: "src/lib/alert/types.ts", dynamic: false, typeOnly: true },
      { from: "src/commands/list-keeps.ts", to: "src/cli.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/btc/pool.ts", to: "src/lib/tbtc/abis.ts", dynamic: false, typeOnly: true },
      { from: "src/lib/btc/pool.ts", to: "src/lib/chain/provider.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/btc/pool.ts", to: "src/lib/chain/endpoint-pool.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/chain/tx.ts", to: "src/lib/btc/pool.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/tbtc/read/report.ts", to: "src/lib/tbtc/redeem/planner.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/tbtc/redeem/pipeline.ts", to: "src/lib/tbtc/watch/watch-decide.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/tbtc/watch/watch-loop.ts", to: "src/lib/tbtc/redeem/pipeline.ts", dynamic: false, typeOnly: false },
      { from: "src/devnet/bitcoin/chain.ts", to: "src/devnet/deposits.ts", dynamic: false, typeOnly: false },
      { from: "src/devnet/bitcoin/chain.ts", to: "src/lib/btc/header.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/tbtc/mint/mint-flow.ts", to: "src/lib/tbtc/watch/replenish.ts", dynamic: false, typeOnly: true },
      { from: "src/lib/tbtc/watch/watch-loop.ts", to: "src/lib/tbtc/mint/mint-flow.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/tbtc/redeem/pipeline.ts", to: "src/lib/tbtc/mint/mint-flow.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/tbtc/read/report.ts", to: "src/lib/tbtc/mint/mint-journal.ts", dynamic: false, typeOnly: true },
      { from: "src/lib/state/lease.ts", to: "src/lib/tbtc/abis.ts", dynamic: false, typeOnly: false },
      { from: "src/lib/state/index.ts", to: "src/lib/btc/pool.ts", dynamic: false, typeOnly: true },
      { from: "src/lib/state/index.ts", to: "src/lib/state/pg-store.ts", dynamic: true, typeOnly: false },
      { from: "src/lib/chain/session.ts", to: "src/lib/state/pg-store.ts", dynamic: false, typeOnly: true },
      { from: "src/lib/state/lease.ts", to: "src/lib/state/pg-store.ts", dynamic: false, typeOnly: false },
    ];
    expect(violations(sample)).toEqual({
      "lib imports a command": ["src/lib/tbtc/report.ts -> src/commands/common.ts"],
      "a command imports another command": ["src/commands/check.ts -> src/commands/list-keeps.ts"],
      "production code loads src/devnet (only commands/devnet.ts may, by a lazy import() or a type)": [
        "src/commands/devnet.ts -> src/devnet/scenario.ts",
        "src/commands/watch.ts -> src/devnet/scenario.ts (dynamic)",
      ],
      "src/lib/chain imports a protocol": ["src/lib/chain/sender.ts -> src/lib/uma/emp-abi.ts (type)"],
      "tBTC and UMA import each other": ["src/lib/uma/liquidator.ts -> src/lib/tbtc/abis.ts"],
      "RAI imports tBTC or UMA (the feed is a source UMA uses, never the other way)": ["src/lib/rai/feed.ts -> src/lib/uma/emp-client.ts"],
      "src/lib/alert imports chain or a protocol (notifiers are a leaf)": ["src/lib/alert/hub.ts -> src/lib/chain/provider.ts"],
      "lib or a command imports the CLI entry": ["src/commands/list-keeps.ts -> src/cli.ts"],
      "src/lib/btc imports a protocol or lib/chain beyond its generic helpers": ["src/lib/btc/pool.ts -> src/lib/chain/provider.ts", "src/lib/btc/pool.ts -> src/lib/tbtc/abis.ts (type)"],
      "src/lib/chain imports the Bitcoin layer": ["src/lib/chain/tx.ts -> src/lib/btc/pool.ts"],
      "tBTC's read room imports a flow (redeem, watch)": ["src/lib/tbtc/read/report.ts -> src/lib/tbtc/redeem/planner.ts"],
      "tBTC's redeem room imports the watch loop": ["src/lib/tbtc/redeem/pipeline.ts -> src/lib/tbtc/watch/watch-decide.ts"],
      "the Bitcoin double (src/devnet/bitcoin) imports a protocol, lib/btc or the tBTC devnet": ["src/devnet/bitcoin/chain.ts -> src/devnet/deposits.ts", "src/devnet/bitcoin/chain.ts -> src/lib/btc/header.ts"],
      "tBTC's mint room imports the watch loop": ["src/lib/tbtc/mint/mint-flow.ts -> src/lib/tbtc/watch/replenish.ts (type)"],
      "tBTC's read or redeem room imports the mint room": ["src/lib/tbtc/read/report.ts -> src/lib/tbtc/mint/mint-journal.ts (type)", "src/lib/tbtc/redeem/pipeline.ts -> src/lib/tbtc/mint/mint-flow.ts"],
      "src/lib/state imports a protocol or the Bitcoin layer": ["src/lib/state/index.ts -> src/lib/btc/pool.ts (type)", "src/lib/state/lease.ts -> src/lib/tbtc/abis.ts"],
      "pg-store (the PostgreSQL client) is loaded eagerly": ["src/lib/state/lease.ts -> src/lib/state/pg-store.ts"],
    });
  });

  it("src/ keeps to the rooms", () => {
    expect(violations(edges)).toEqual({});
  });
});
