import { createBase58check } from "@scure/base";
import { sha256 } from "@noble/hashes/sha2";
import { HDKey } from "@scure/bip32";
import { ConfigError, UsageError } from "../../errors";
import { registerSecret } from "../../redact";
import { familyOf, networkParams, type BtcNetwork, type KeyFamily } from "./network";

/**
 * Extended public keys as operators paste them: BIP32's xpub/tpub, or SLIP-132's zpub/vpub (the
 * same key with version bytes that say "BIP84 P2WPKH"). Everything is brought to the BIP32 form,
 * which descriptors, PSBTs and @scure/bip32 use; the family (mainnet or test) is kept so that a key
 * of the other family is refused before any address is shown.
 */
const base58check = createBase58check(sha256);

type Kind = "xpub" | "tpub" | "zpub" | "vpub";
const PUBLIC: Record<number, { kind: Kind; family: KeyFamily }> = {
  0x0488b21e: { kind: "xpub", family: "mainnet" },
  0x043587cf: { kind: "tpub", family: "test" },
  0x04b24746: { kind: "zpub", family: "mainnet" },
  0x045f1cf6: { kind: "vpub", family: "test" },
};
/** Versions of keys the wallet does not take, and why. */
const PRIVATE = new Set([0x0488ade4, 0x04358394, 0x04b2430c, 0x045f18bc, 0x049d7878, 0x044a4e28, 0x0295b005, 0x02aa7a99, 0x024285b5, 0x02575048]);
const OTHER_SCRIPT: Record<number, string> = {
  0x049d7cb2: "a ypub (BIP49, P2SH-wrapped segwit)",
  0x044a5262: "a upub (BIP49, P2SH-wrapped segwit)",
  0x0295b43f: "a Ypub (multisig)",
  0x02aa7ed3: "a Zpub (multisig)",
  0x024289ef: "an Upub (multisig)",
  0x02575483: "a Vpub (multisig)",
};

export interface ParsedExtendedKey {
  /** The prefix it was given with. */
  kind: Kind;
  family: KeyFamily;
  /** The same key serialized with BIP32's versions (xpub or tpub). */
  standard: string;
  /** The public HD key (no private part), ready to derive children. */
  key: HDKey;
}

export function looksLikeExtendedKey(s: string): boolean {
  return /^[xtzvyuXTZVYU](pub|prv)[1-9A-HJ-NP-Za-km-z]{100,112}$/.test(s);
}

/** Decodes an extended public key; a private one is registered as a secret and refused without being echoed. */
export function parseExtendedPublicKey(text: string): ParsedExtendedKey {
  const s = text.trim();
  let raw: Uint8Array;
  try {
    raw = base58check.decode(s);
  } catch {
    if (/^[a-zA-Z]prv/.test(s)) registerSecret(s);
    throw new UsageError("not an extended public key: its base58 checksum does not match (a character is wrong or missing)", { hint: "copy the account's xpub, zpub, tpub or vpub again" });
  }
  if (raw.length !== 78) throw new UsageError(`not an extended public key: ${raw.length} bytes where BIP32 has 78`, { hint: "copy the account's xpub, zpub, tpub or vpub again" });
  const version = new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, false);
  if (PRIVATE.has(version)) {
    registerSecret(s);
    throw new UsageError("that is an extended PRIVATE key; a watch-only wallet takes the account's public key", { hint: "export the xpub/zpub (or a wpkh(...) descriptor) of the account instead, and keep the private key off this machine" });
  }
  if (OTHER_SCRIPT[version]) {
    throw new UsageError(`the key is ${OTHER_SCRIPT[version]}; keepctl's wallet is BIP84 native segwit (P2WPKH)`, { hint: "give the zpub/vpub or xpub/tpub of the account m/84'/0'/0' (mainnet) or m/84'/1'/0' (test networks)" });
  }
  const known = PUBLIC[version];
  if (!known) throw new UsageError(`not an extended public key (version bytes 0x${version.toString(16).padStart(8, "0")})`, { hint: "give an xpub, zpub, tpub or vpub" });
  const standardVersion = known.family === "mainnet" ? networkParams("mainnet").bip32.public : networkParams("regtest").bip32.public;
  const std = Uint8Array.from(raw);
  new DataView(std.buffer).setUint32(0, standardVersion, false);
  const standard = base58check.encode(std);
  let key: HDKey;
  try {
    key = HDKey.fromExtendedKey(standard, known.family === "mainnet" ? networkParams("mainnet").bip32 : networkParams("regtest").bip32);
  } catch (e) {
    throw new UsageError(`not a valid extended public key: ${(e as Error).message}`, { hint: "copy the account's xpub, zpub, tpub or vpub again" });
  }
  return { kind: known.kind, family: known.family, standard, key };
}

/** The key in another version encoding (xpub <-> zpub, tpub <-> vpub). */
export function withVersion(extendedKey: string, version: number): string {
  const raw = Uint8Array.from(base58check.decode(extendedKey));
  new DataView(raw.buffer).setUint32(0, version, false);
  return base58check.encode(raw);
}

/** The SLIP-132 form of a BIP84 account key: zpub on mainnet, vpub on the test networks. */
export function toSlip132(standard: string, network: BtcNetwork): string {
  return withVersion(standard, networkParams(network).slip132.public);
}

/**
 * A key of the other family is refused with both named: mainnet keys would show addresses of real
 * coins on a test network (and the reverse would be worse: test addresses for real deposits).
 */
export function checkKeyFamily(family: KeyFamily, prefix: string, network: BtcNetwork, source: string): void {
  if (family === familyOf(network)) return;
  const what = family === "mainnet" ? "a mainnet key" : "a test-network key";
  throw new ConfigError(`${source} is ${what} (${prefix}), but the Bitcoin network is ${network}`, {
    code: "BTC_NETWORK_MISMATCH",
    hint: family === "mainnet" ? "give the tpub/vpub of m/84'/1'/0' for a test network, or run against mainnet" : "give the xpub/zpub of m/84'/0'/0' for mainnet, or run against a test network",
  });
}
