import { Address, OutScript } from "@scure/btc-signer";
import { toHex } from "./bytes";

/** Regtest address parameters (bech32 HRP `bcrt`, base58 versions shared with testnet). */
export const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
/** Testnet's: Esplora on regtest also takes `tb1…` addresses (electrs treats them as the same network). */
const TESTNET = { bech32: "tb", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };

export type ScriptKind = "p2pk" | "p2pkh" | "p2sh" | "p2wpkh" | "p2wsh" | "p2tr" | "anchor" | "witness_unknown" | "multisig" | "op_return" | "empty" | "nonstandard";

/** One element of a script: an opcode, or a push with its data. */
export interface ScriptToken {
  op: number;
  data?: Uint8Array;
}

/** Splits a script into opcodes and pushes; undefined when a push runs past the end. */
export function tokenize(script: Uint8Array): ScriptToken[] | undefined {
  const out: ScriptToken[] = [];
  for (let i = 0; i < script.length; ) {
    const op = script[i++];
    let len = -1;
    if (op >= 0x01 && op <= 0x4b) len = op;
    else if (op === 0x4c) len = script[i++];
    else if (op === 0x4d) (len = script[i] | (script[i + 1] << 8)), (i += 2);
    else if (op === 0x4e) (len = new DataView(script.buffer, script.byteOffset + i).getUint32(0, true)), (i += 4);
    if (len < 0) {
      out.push({ op });
      continue;
    }
    if (Number.isNaN(len) || i + len > script.length) return undefined;
    out.push({ op, data: script.subarray(i, i + len) });
    i += len;
  }
  return out;
}

const isWitnessProgram = (s: Uint8Array) => s.length >= 4 && s.length <= 42 && (s[0] === 0 || (s[0] >= 0x51 && s[0] <= 0x60)) && s[1] === s.length - 2;

export function classifyScript(s: Uint8Array): ScriptKind {
  if (s.length === 0) return "empty";
  if (s[0] === 0x6a) return "op_return";
  if (s.length === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 0x14 && s[23] === 0x88 && s[24] === 0xac) return "p2pkh";
  if (s.length === 23 && s[0] === 0xa9 && s[1] === 0x14 && s[22] === 0x87) return "p2sh";
  if (isWitnessProgram(s)) {
    if (s[0] === 0 && s.length === 22) return "p2wpkh";
    if (s[0] === 0 && s.length === 34) return "p2wsh";
    if (s[0] === 0x51 && s.length === 34) return "p2tr";
    if (s[0] === 0x51 && s.length === 4 && s[2] === 0x4e && s[3] === 0x73) return "anchor";
    return s[0] === 0 ? "nonstandard" : "witness_unknown";
  }
  if ((s.length === 35 && s[0] === 33 && s[34] === 0xac) || (s.length === 67 && s[0] === 65 && s[66] === 0xac)) return "p2pk";
  const t = tokenize(s);
  if (t && t.length >= 4 && t[t.length - 1].op === 0xae && isSmallInt(t[0].op) && isSmallInt(t[t.length - 2].op) && t.slice(1, -2).every((x) => x.data && (x.data.length === 33 || x.data.length === 65))) return "multisig";
  return "nonstandard";
}

const isSmallInt = (op: number) => op >= 0x51 && op <= 0x60;

/** The regtest address of an output script, when it has one. */
export function scriptAddress(script: Uint8Array): string | undefined {
  const kind = classifyScript(script);
  if (!["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "witness_unknown", "anchor"].includes(kind)) return undefined;
  try {
    return Address(REGTEST).encode(OutScript.decode(script));
  } catch {
    return undefined;
  }
}

/** The output script of a regtest (or testnet) address; throws on anything else. */
export function addressScript(address: string): Uint8Array {
  for (const net of [REGTEST, TESTNET]) {
    try {
      return OutScript.encode(Address(net).decode(address));
    } catch {
      /* next network */
    }
  }
  throw new Error(`not a regtest address: ${address}`);
}

/** Core's dust threshold at the default -dustrelayfee (3 sat/vB): the cost to create and spend the output. */
export function dustThreshold(script: Uint8Array): bigint {
  if (script[0] === 0x6a) return 0n;
  const outSize = 8 + (script.length < 0xfd ? 1 : 3) + script.length;
  const spendSize = isWitnessProgram(script) ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  return BigInt(Math.ceil(((outSize + spendSize) * 3000) / 1000));
}

/** A scriptSig of pushes only (Core's IsPushOnly, required for standard transactions). */
export function isPushOnly(script: Uint8Array): boolean {
  const t = tokenize(script);
  return !!t && t.every((x) => x.op <= 0x60);
}

export const WITNESS_COMMITMENT_HEADER = Uint8Array.of(0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed);

export const isWitnessCommitment = (s: Uint8Array): boolean => s.length >= 38 && WITNESS_COMMITMENT_HEADER.every((b, i) => s[i] === b);

export const scriptHex = (s: Uint8Array): string => toHex(s);
