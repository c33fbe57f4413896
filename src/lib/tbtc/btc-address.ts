import { bech32, bech32m, base58, createBase58check, utils as scureUtils } from "@scure/base";
import { getBytes, sha256, hexlify } from "ethers";
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

const HRP_NETWORK: Record<string, BtcNetwork> = { bc: "mainnet", tb: "testnet", bcrt: "testnet" };
// base58check version byte -> (network, type)
const BASE58_VERSIONS: Record<number, [BtcNetwork, BtcAddressType]> = {
  0x00: ["mainnet", "p2pkh"],
  0x05: ["mainnet", "p2sh"],
  0x6f: ["testnet", "p2pkh"],
  0xc4: ["testnet", "p2sh"],
};

/*
 * The codecs (bech32 / bech32m checksums, base58, base58check) come from @scure/base, an audited
 * library made for exactly this; what stays here is tBTC's own rules: which scripts its
 * contracts accept, and which network an address must belong to. The wrappers keep the old
 * shape (undefined on invalid input) so the decoding below reads as before.
 */

/** Decodes a bech32 or bech32m string; returns undefined when it is not valid in either. */
export function bech32Decode(str: string): { hrp: string; data: number[]; variant: "bech32" | "bech32m" } | undefined {
  const b = bech32.decodeUnsafe(str);
  if (b) return { hrp: b.prefix, data: [...b.words], variant: "bech32" };
  const m = bech32m.decodeUnsafe(str);
  if (m) return { hrp: m.prefix, data: [...m.words], variant: "bech32m" };
  return undefined;
}

/** Encodes 5-bit groups as bech32/bech32m (used by tests to build vectors, and for symmetry). */
export function bech32Encode(hrp: string, data: number[], variant: "bech32" | "bech32m" = "bech32"): string {
  return (variant === "bech32" ? bech32 : bech32m).encode(hrp, data);
}

/** Regroups bits (8 -> 5 or 5 -> 8); undefined on a value out of range or invalid padding. */
export function convertBits(data: number[], from: number, to: number, pad: boolean): number[] | undefined {
  try {
    return scureUtils.convertRadix2(data, from, to, pad);
  } catch {
    return undefined;
  }
}

/** Base58 -> bytes, keeping leading zero bytes (one per leading '1'); undefined on a bad char. */
export function base58Decode(str: string): Uint8Array | undefined {
  try {
    return base58.decode(str);
  } catch {
    return undefined;
  }
}

export function base58Encode(bytes: Uint8Array): string {
  return base58.encode(bytes);
}

const base58check = createBase58check((data) => getBytes(sha256(data)));

export function base58CheckEncode(version: number, payload: Uint8Array): string {
  return base58check.encode(Uint8Array.from([version, ...payload]));
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
  let body: Uint8Array;
  try {
    body = base58check.decode(address);
  } catch {
    throw bad(address, "has a bad base58check checksum (typo?)");
  }
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
