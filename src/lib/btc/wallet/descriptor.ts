import { UsageError } from "../../errors";
import { parseExtendedPublicKey, type ParsedExtendedKey } from "./extended-key";

/**
 * Output descriptors (BIP380) for the one script type the wallet uses, BIP84's P2WPKH:
 *   wpkh([d34db33f/84h/1h/0h]tpub…/<0;1>/*)#checksum   receive /0/*, change /1/* (BIP389 multipath)
 *   wpkh(tpub…/0/*)                                   receive chain; change is /1/* of the same key
 * The key origin ([fingerprint/path]) is kept: PSBTs name it in every input's bip32Derivation, and
 * a hardware wallet signs only for keys it can find from its own master fingerprint.
 * The checksum is BIP380's BCH code; optional (as BIP380 allows), verified whenever it is given.
 */
export interface KeyOrigin {
  /** The master key's fingerprint (first 4 bytes of HASH160 of its public key), as a uint32. */
  fingerprint: number;
  /** Derivation from the master to the account key (hardened steps have the 0x80000000 bit). */
  path: number[];
}

export interface ParsedDescriptor {
  key: ParsedExtendedKey;
  origin?: KeyOrigin;
  /** `/<0;1>/*` (both chains named) rather than `/0/*`. */
  multipath: boolean;
  checksum: "verified" | "absent";
}

const HARDENED = 0x80000000;

function expand(s: string): number[] | undefined {
  const charset = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
  const symbols: number[] = [];
  const groups: number[] = [];
  for (const c of s) {
    const v = charset.indexOf(c);
    if (v < 0) return undefined;
    symbols.push(v & 31);
    groups.push(v >> 5);
    if (groups.length === 3) {
      symbols.push(groups[0] * 9 + groups[1] * 3 + groups[2]);
      groups.length = 0;
    }
  }
  if (groups.length === 1) symbols.push(groups[0]);
  else if (groups.length === 2) symbols.push(groups[0] * 3 + groups[1]);
  return symbols;
}

function polymod(symbols: number[]): bigint {
  const generator = [0xf5dee51989n, 0xa9fdca3312n, 0x1bab10e32dn, 0x3706b1677an, 0x644d626ffdn];
  let chk = 1n;
  for (const value of symbols) {
    const top = chk >> 35n;
    chk = ((chk & 0x7ffffffffn) << 5n) ^ BigInt(value);
    for (let i = 0; i < 5; i++) if ((top >> BigInt(i)) & 1n) chk ^= generator[i];
  }
  return chk;
}

/** The 8-character checksum of a descriptor body (BIP380); throws on a character outside its set. */
export function descriptorChecksum(body: string): string {
  const symbols = expand(body);
  if (!symbols) throw new UsageError("the descriptor has a character outside the descriptor character set", { hint: "copy the descriptor again; descriptors are plain ASCII" });
  const checksumChars = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  const c = polymod([...symbols, 0, 0, 0, 0, 0, 0, 0, 0]) ^ 1n;
  let out = "";
  for (let i = 0; i < 8; i++) out += checksumChars[Number((c >> BigInt(5 * (7 - i))) & 31n)];
  return out;
}

export function withChecksum(body: string): string {
  return `${body}#${descriptorChecksum(body)}`;
}

/**
 * Splits `BODY#CHECKSUM` and verifies the checksum when there is one. A `#` must be followed by
 * exactly 8 checksum characters that match.
 */
export function splitDescriptorChecksum(text: string): { body: string; checksum?: string } {
  const hash = text.indexOf("#");
  if (hash < 0) {
    descriptorChecksum(text); // the character-set check applies with or without a checksum
    return { body: text };
  }
  const body = text.slice(0, hash);
  const checksum = text.slice(hash + 1);
  const hint = "copy the descriptor again, with the #checksum Bitcoin Core (getdescriptorinfo) or the wallet printed";
  if (checksum.length !== 8) throw new UsageError(`the descriptor checksum must be 8 characters after "#", got ${checksum.length}`, { hint });
  if (descriptorChecksum(body) !== checksum) throw new UsageError(`the descriptor checksum #${checksum} does not match the descriptor (a character is wrong or missing)`, { hint });
  return { body, checksum };
}

function parseOrigin(text: string): KeyOrigin {
  const m = /^([0-9a-fA-F]{8})((?:\/\d+['hH]?)*)$/.exec(text);
  if (!m) throw new UsageError(`the key origin [${text}] is not [fingerprint/path] (8 hex digits, then /84h/0h/0h-style steps)`, { hint: "write it as [d34db33f/84h/0h/0h]" });
  const path = m[2] === "" ? [] : m[2].slice(1).split("/").map((step) => {
    const hardened = /['hH]$/.test(step);
    const n = Number(hardened ? step.slice(0, -1) : step);
    if (n >= HARDENED) throw new UsageError(`the key origin step ${step} is out of range (below 2^31)`, { hint: "write it as [d34db33f/84h/0h/0h]" });
    return hardened ? n + HARDENED : n;
  });
  return { fingerprint: parseInt(m[1], 16) >>> 0, path };
}

function scriptTypeHint(body: string): string {
  if (/^sh\(wpkh\(/.test(body)) return "nested segwit (sh(wpkh(...)))";
  if (/^tr\(/.test(body)) return "taproot (tr(...))";
  if (/^pkh\(/.test(body)) return "legacy (pkh(...))";
  if (/^(wsh|sh)\(/.test(body)) return "a script hash (sh/wsh)";
  return "not a wpkh(...) descriptor";
}

/** Parses a BIP84 account descriptor; see the module comment for the accepted shapes. */
export function parseWpkhDescriptor(text: string): ParsedDescriptor {
  const { body, checksum } = splitDescriptorChecksum(text.trim());
  const outer = /^wpkh\((.*)\)$/.exec(body);
  if (!outer) {
    throw new UsageError(`only wpkh(...) descriptors are supported (BIP84 native segwit); this one is ${scriptTypeHint(body)}`, { hint: "export the wallet's native segwit descriptor: wpkh([fingerprint/84h/0h/0h]xpub…/<0;1>/*)" });
  }
  let inner = outer[1];
  let origin: KeyOrigin | undefined;
  if (inner.startsWith("[")) {
    const close = inner.indexOf("]");
    if (close < 0) throw new UsageError("the key origin has no closing ]", { hint: "write it as [d34db33f/84h/0h/0h]" });
    origin = parseOrigin(inner.slice(1, close));
    inner = inner.slice(close + 1);
  }
  const slash = inner.indexOf("/");
  const keyText = slash < 0 ? inner : inner.slice(0, slash);
  const suffix = slash < 0 ? "" : inner.slice(slash);
  const key = parseExtendedPublicKey(keyText);
  if (key.kind === "zpub" || key.kind === "vpub") {
    throw new UsageError(`a descriptor takes the key as BIP32 writes it (xpub/tpub), not as a ${key.kind}`, { hint: "give the zpub/vpub alone to --btc-xpub, or the descriptor with its xpub/tpub" });
  }
  if (/\*['hH]$/.test(suffix)) throw new UsageError("hardened child derivation (*h) needs the private key; a watch-only wallet derives unhardened children", { hint: "use /<0;1>/* or /0/*" });
  if (suffix !== "/<0;1>/*" && suffix !== "/0/*") {
    throw new UsageError(`the descriptor's derivation "${suffix || "(none)"}" is not an account's address chains`, { hint: "give the account key with /<0;1>/* (receive and change) or /0/* (receive; change is /1/*)" });
  }
  return { key, origin, multipath: suffix === "/<0;1>/*", checksum: checksum === undefined ? "absent" : "verified" };
}

export function formatOrigin(origin: KeyOrigin): string {
  const steps = origin.path.map((n) => (n >= HARDENED ? `${n - HARDENED}h` : String(n)));
  return [origin.fingerprint.toString(16).padStart(8, "0"), ...steps].join("/");
}

/** The account's descriptor with its checksum: `/<0;1>/*`, or one chain (`/0/*`, `/1/*`) for wallets without BIP389. */
export function formatWpkhDescriptor(standardKey: string, origin: KeyOrigin | undefined, chains: "multipath" | 0 | 1 = "multipath"): string {
  const o = origin ? `[${formatOrigin(origin)}]` : "";
  const d = chains === "multipath" ? "<0;1>" : String(chains);
  return withChecksum(`wpkh(${o}${standardKey}/${d}/*)`);
}

/** A descriptor rather than a bare extended key. */
export function looksLikeDescriptor(text: string): boolean {
  return /^[a-z_]+\(/.test(text.trim());
}
