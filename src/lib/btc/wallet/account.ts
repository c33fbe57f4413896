import * as btc from "@scure/btc-signer";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeed } from "@scure/bip39";
import { hex } from "@scure/base";
import { registerSecret } from "../../redact";
import { UsageError } from "../../errors";
import { bip84AccountPath, formatPath, networkParams, type BtcNetwork } from "./network";
import { checkKeyFamily, parseExtendedPublicKey, toSlip132, type ParsedExtendedKey } from "./extended-key";
import { formatWpkhDescriptor, looksLikeDescriptor, parseWpkhDescriptor, type KeyOrigin } from "./descriptor";

/** BIP44's change level: 0 receives, 1 takes change. */
export type AddressChain = 0 | 1;
export const RECEIVE: AddressChain = 0;
export const CHANGE: AddressChain = 1;

/** A PSBT bip32Derivation entry: the public key, and the master fingerprint and full path that lead to it. */
export type Bip32Derivation = [Uint8Array, { fingerprint: number; path: number[] }];

/**
 * One BIP84 account seen through its public key: addresses, scripts and the derivation info a
 * PSBT needs. Hot and watch-only wallets share it; only signing (HotSigner) needs the seed.
 */
export class Bip84Account {
  private readonly chains = new Map<AddressChain, HDKey>();

  private constructor(
    readonly network: BtcNetwork,
    /** The account key, public only. */
    readonly key: HDKey,
    /** Where the account key comes from; for a bare xpub, the key's own fingerprint and an empty path. */
    readonly origin: KeyOrigin,
    /** False for a bare xpub/zpub: the master fingerprint is not known (hardware wallets need it). */
    readonly originKnown: boolean,
  ) {}

  static fromParsedKey(network: BtcNetwork, key: ParsedExtendedKey, origin: KeyOrigin | undefined, source: string): Bip84Account {
    checkKeyFamily(key.family, key.kind, network, source);
    if (key.key.privateKey) throw new Error("Bip84Account takes a public key");
    return new Bip84Account(network, key.key, origin ?? { fingerprint: key.key.fingerprint, path: [] }, origin !== undefined);
  }

  /**
   * From what an operator pastes for a watch-only wallet: an xpub/tpub/zpub/vpub of the account
   * (depth 3, m/84'/coin'/account'), or a wpkh(...) descriptor. `source` names the setting in errors.
   */
  static fromWatchOnly(text: string, network: BtcNetwork, source: string): Bip84Account {
    if (looksLikeDescriptor(text)) {
      const d = parseWpkhDescriptor(text);
      return Bip84Account.fromParsedKey(network, d.key, d.origin, source);
    }
    const key = parseExtendedPublicKey(text);
    checkKeyFamily(key.family, key.kind, network, source);
    if (key.key.depth !== 3) {
      throw new UsageError(`${source} is a key at depth ${key.key.depth}; an account key (depth 3: m/84'/${networkParams(network).coinType}'/0') is expected`, {
        hint: "export the account's xpub/zpub, or give a wpkh(...) descriptor that says where the key sits",
      });
    }
    return Bip84Account.fromParsedKey(network, key, undefined, source);
  }

  /** The account path as BIP32 writes it, when known (m/84'/1'/0'). */
  get path(): string | undefined {
    return this.originKnown ? formatPath(this.origin.path) : undefined;
  }

  /** xpub/tpub (BIP32 versions). */
  get xpub(): string {
    return this.key.publicExtendedKey;
  }

  /** zpub/vpub (SLIP-132). */
  get slip132(): string {
    return toSlip132(this.xpub, this.network);
  }

  descriptor(chains: "multipath" | AddressChain = "multipath"): string {
    return formatWpkhDescriptor(this.xpub, this.originKnown ? this.origin : undefined, chains);
  }

  /** Short id of the account for file names: its own key fingerprint, 8 hex digits. */
  get id(): string {
    return this.key.fingerprint.toString(16).padStart(8, "0");
  }

  private chainKey(chain: AddressChain): HDKey {
    let k = this.chains.get(chain);
    if (!k) {
      k = this.key.deriveChild(chain);
      this.chains.set(chain, k);
    }
    return k;
  }

  publicKey(chain: AddressChain, index: number): Uint8Array {
    checkIndex(index);
    return this.chainKey(chain).deriveChild(index).publicKey!;
  }

  payment(chain: AddressChain, index: number): { address: string; script: Uint8Array } {
    const p = btc.p2wpkh(this.publicKey(chain, index), networkParams(this.network).signer);
    return { address: p.address!, script: p.script };
  }

  address(chain: AddressChain, index: number): string {
    return this.payment(chain, index).address;
  }

  scriptHex(chain: AddressChain, index: number): string {
    return hex.encode(this.payment(chain, index).script);
  }

  derivation(chain: AddressChain, index: number): Bip32Derivation {
    return [this.publicKey(chain, index), { fingerprint: this.origin.fingerprint, path: [...this.origin.path, chain, index] }];
  }
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= 0x80000000) throw new Error(`address index ${index} is not an unhardened BIP32 index`);
}

/**
 * The private side of a hot wallet: child keys of the account, each registered with the redactor
 * the moment it exists. Nothing here is ever written anywhere.
 */
export class HotSigner {
  constructor(private readonly accountKey: HDKey) {}

  privateKey(chain: AddressChain, index: number): Uint8Array {
    checkIndex(index);
    const k = this.accountKey.deriveChild(chain).deriveChild(index).privateKey;
    if (!k) throw new Error("the hot signer holds no private key");
    registerSecret(hex.encode(k));
    return k;
  }

  /** Zeroes the account's private key bytes; the signer cannot be used afterwards. */
  wipe(): void {
    this.accountKey.wipePrivateData();
  }
}

/** A hot wallet opened from its mnemonic: the account (public side) and its signer. */
export interface HotAccount {
  account: Bip84Account;
  signer: HotSigner;
  masterFingerprint: number;
}

/**
 * BIP39 seed (no passphrase) -> BIP32 master -> m/84'/coin'/0'. Every secret form is registered
 * for redaction: the phrase, the seed, the master and account extended private keys.
 */
export async function openMnemonic(mnemonic: string, network: BtcNetwork): Promise<HotAccount> {
  registerSecret(mnemonic);
  const seed = await mnemonicToSeed(mnemonic);
  registerSecret(hex.encode(seed));
  const versions = networkParams(network).bip32;
  const master = HDKey.fromMasterSeed(seed, versions);
  seed.fill(0);
  registerSecret(master.privateExtendedKey);
  const path = bip84AccountPath(network);
  const accountPriv = master.derive(formatPath(path));
  registerSecret(accountPriv.privateExtendedKey);
  const fingerprint = master.fingerprint;
  master.wipePrivateData();
  const pub = parseExtendedPublicKey(accountPriv.publicExtendedKey);
  const account = Bip84Account.fromParsedKey(network, pub, { fingerprint, path }, "the keystore's seed");
  return { account, signer: new HotSigner(accountPriv), masterFingerprint: fingerprint };
}
