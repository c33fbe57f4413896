import { sha256, hexlify } from "ethers";
import { UsageError } from "../errors";

/**
 * Bitcoin address -> output script, for the `_redeemerOutputScript` argument of tBTC v1's
 * requestRedemption / VendingMachine.tbtcToBtc. The contract concatenates the 8-byte output
 * value with that argument and parses it as a Bitcoin tx output (BTCUtils.extractHash), so the
 * argument is the scriptPubKey prefixed by its length (one byte for every standard script).
 * extractHash only recognises P2PKH, P2SH and witness version 0 (P2WPKH, P2WSH); taproot and
 * other witness versions would revert with "Output script must be a standard type", so they are
 * rejected here with a clear message instead.
 */
export type BtcNetwork = "mainnet" | "testnet";
export type BtcAddressType = "p2pkh" | "p2sh" | "p2wpkh" | "p2wsh";

export interface DecodedBtcAddress {
  address: string;
  type: BtcAddressType;
  /** The network family the address belongs to (regtest counts as testnet). */
  network: BtcNetwork;
  /** Raw scriptPubKey, 0x-hex. */
  script: string;
  /** The `bytes` tBTC expects: length byte + scriptPubKey, 0x-hex. */
  redeemerOutputScript: string;
}

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32_CONST = 1;
const BECH32M_CONST = 0x2bc830a3;
const HRP_NETWORK: Record<string, BtcNetwork> = { bc: "mainnet", tb: "testnet", bcrt: "testnet" };
// base58check version byte -> (network, type)
const BASE58_VERSIONS: Record<number, [BtcNetwork, BtcAddressType]> = {
  0x00: ["mainnet", "p2pkh"],
  0x05: ["mainnet", "p2sh"],
  0x6f: ["testnet", "p2pkh"],
  0xc4: ["testnet", "p2sh"],
};

function polymod(values: number[]): number {
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ gen[i]) >>> 0;
  }
  return chk;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

/** Decodes a bech32 or bech32m string; returns undefined when it is not valid in either. */
export function bech32Decode(str: string): { hrp: string; data: number[]; variant: "bech32" | "bech32m" } | undefined {
  if (str.length > 90) return undefined;
  if (str !== str.toLowerCase() && str !== str.toUpperCase()) return undefined;
  const s = str.toLowerCase();
  const pos = s.lastIndexOf("1");
  if (pos < 1 || pos + 7 > s.length) return undefined;
  const hrp = s.slice(0, pos);
  for (const c of hrp) if (c.charCodeAt(0) < 33 || c.charCodeAt(0) > 126) return undefined;
  const data: number[] = [];
  for (const c of s.slice(pos + 1)) {
    const d = CHARSET.indexOf(c);
    if (d < 0) return undefined;
    data.push(d);
  }
  const check = polymod([...hrpExpand(hrp), ...data]);
  const variant = check === BECH32_CONST ? "bech32" : check === BECH32M_CONST ? "bech32m" : undefined;
  if (!variant) return undefined;
  return { hrp, data: data.slice(0, -6), variant };
}

/** Encodes 5-bit groups as bech32/bech32m (used by tests to build vectors, and for symmetry). */
export function bech32Encode(hrp: string, data: number[], variant: "bech32" | "bech32m" = "bech32"): string {
  const values = [...hrpExpand(hrp), ...data, 0, 0, 0, 0, 0, 0];
  const mod = polymod(values) ^ (variant === "bech32" ? BECH32_CONST : BECH32M_CONST);
  const checksum: number[] = [];
  for (let i = 0; i < 6; i++) checksum.push((mod >>> (5 * (5 - i))) & 31);
  return hrp + "1" + [...data, ...checksum].map((d) => CHARSET[d]).join("");
}

/** Regroups bits (8 -> 5 or 5 -> 8); undefined on invalid padding when not padding. */
export function convertBits(data: number[], from: number, to: number, pad: boolean): number[] | undefined {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const maxv = (1 << to) - 1;
  const maxAcc = (1 << (from + to - 1)) - 1; // keeps acc inside 32-bit JS bit operations
  for (const v of data) {
    if (v < 0 || v >> from !== 0) return undefined;
    acc = ((acc << from) | v) & maxAcc;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & maxv);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & maxv);
  } else if (bits >= from || ((acc << (to - bits)) & maxv) !== 0) {
    return undefined;
  }
  return out;
}

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Base58 -> bytes, keeping leading zero bytes (one per leading '1'); undefined on a bad char. */
export function base58Decode(str: string): Uint8Array | undefined {
  let n = 0n;
  for (const c of str) {
    const d = B58.indexOf(c);
    if (d < 0) return undefined;
    n = n * 58n + BigInt(d);
  }
  const bytes: number[] = [];
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  let zeros = 0;
  while (zeros < str.length && str[zeros] === "1") zeros++;
  return Uint8Array.from([...new Array(zeros).fill(0), ...bytes]);
}

export function base58Encode(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = "";
  while (n > 0n) {
    out = B58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = "1" + out;
  }
  return out;
}

function doubleSha256(bytes: Uint8Array): Uint8Array {
  const h = sha256(sha256(bytes));
  return Uint8Array.from(Buffer.from(h.slice(2), "hex"));
}

export function base58CheckEncode(version: number, payload: Uint8Array): string {
  const body = Uint8Array.from([version, ...payload]);
  return base58Encode(Uint8Array.from([...body, ...doubleSha256(body).slice(0, 4)]));
}

function toHex(bytes: number[] | Uint8Array): string {
  return hexlify(Uint8Array.from(bytes));
}

function result(address: string, type: BtcAddressType, network: BtcNetwork, script: number[]): DecodedBtcAddress {
  return { address, type, network, script: toHex(script), redeemerOutputScript: toHex([script.length, ...script]) };
}

function bad(address: string, problem: string, hint?: string): UsageError {
  return new UsageError(`BTC address "${address}" ${problem}`, { hint });
}

function decodeSegwit(address: string): DecodedBtcAddress | undefined {
  const lower = address.toLowerCase();
  const hrpGuess = lower.slice(0, Math.max(0, lower.lastIndexOf("1")));
  if (!(hrpGuess in HRP_NETWORK)) return undefined;
  const dec = bech32Decode(address);
  if (!dec) throw bad(address, "is not valid bech32 (bad checksum, character or case)");
  if (dec.data.length < 1) throw bad(address, "has no witness version");
  const version = dec.data[0];
  const program = convertBits(dec.data.slice(1), 5, 8, false);
  if (!program || program.length < 2 || program.length > 40 || version > 16) throw bad(address, "has an invalid witness program");
  if (version === 0 && dec.variant !== "bech32") throw bad(address, "is a version 0 witness address with a bech32m checksum");
  if (version !== 0 && dec.variant !== "bech32m") throw bad(address, `is a version ${version} witness address with a bech32 (not bech32m) checksum`);
  if (version !== 0) {
    throw bad(address, `is a witness version ${version} (e.g. taproot) address, which tBTC v1 cannot pay`, "use a P2WPKH (bc1q...), P2WSH, P2PKH or P2SH address");
  }
  const network = HRP_NETWORK[dec.hrp];
  if (program.length === 20) return result(address, "p2wpkh", network, [0x00, 0x14, ...program]);
  if (program.length === 32) return result(address, "p2wsh", network, [0x00, 0x20, ...program]);
  throw bad(address, `has a version 0 witness program of ${program.length} bytes (must be 20 or 32)`);
}

function decodeBase58Check(address: string): DecodedBtcAddress {
  const raw = base58Decode(address);
  if (!raw) throw bad(address, "is neither bech32 nor base58 (unexpected character)");
  if (raw.length !== 25) throw bad(address, `decodes to ${raw.length} bytes, not the 25 of a P2PKH/P2SH address`);
  const body = raw.slice(0, 21);
  const sum = doubleSha256(body).slice(0, 4);
  if (!sum.every((b, i) => b === raw[21 + i])) throw bad(address, "has a bad base58check checksum (typo?)");
  const kind = BASE58_VERSIONS[body[0]];
  if (!kind) throw bad(address, `has unknown version byte 0x${body[0].toString(16).padStart(2, "0")}`);
  const hash = [...body.slice(1)];
  const [network, type] = kind;
  return type === "p2pkh"
    ? result(address, type, network, [0x76, 0xa9, 0x14, ...hash, 0x88, 0xac])
    : result(address, type, network, [0xa9, 0x14, ...hash, 0x87]);
}

/**
 * Decodes `address` and checks it belongs to `network` (mainnet, or the testnet/regtest family).
 * Throws a one-line UsageError naming the problem.
 */
export function decodeBtcAddress(address: string, network: BtcNetwork): DecodedBtcAddress {
  const a = address.trim();
  if (!a) throw new UsageError("BTC address is empty", { hint: "pass --btc-address or set KEEPCTL_BTC_ADDRESS" });
  const decoded = decodeSegwit(a) ?? decodeBase58Check(a);
  if (decoded.network !== network) {
    const other = decoded.network === "mainnet" ? "Bitcoin mainnet" : "Bitcoin testnet/regtest";
    const want = network === "mainnet" ? "Bitcoin mainnet" : "Bitcoin testnet/regtest";
    throw bad(a, `is a ${other} address but this chain redeems to ${want}`, "use an address of the matching Bitcoin network");
  }
  return decoded;
}

/** The Bitcoin network whose addresses a given Ethereum chain's tBTC deployment pays out to. */
export function btcNetworkForChain(chainId: bigint | number): BtcNetwork {
  return BigInt(chainId) === 1n ? "mainnet" : "testnet";
}
