import { ethers } from "ethers";

/**
 * The devnet stands in for each keep's off-chain signing group. A keep's secp256k1 key is
 * derived from its address, so any process attached to the devnet (the `keepctl devnet`
 * process, a test, the demo) can sign for any devnet keep without sharing state. These keys
 * guard nothing of value: they exist only on a throwaway local chain.
 */
const KEY_DOMAIN = ethers.toUtf8Bytes("keepctl devnet keep signing key v1");

export function keepSigningKey(keepAddress: string): ethers.SigningKey {
  const pk = ethers.keccak256(ethers.concat([KEY_DOMAIN, ethers.getAddress(keepAddress)]));
  return new ethers.SigningKey(pk);
}

/** 64-byte X‖Y form that `getPublicKey` returns and tBTC stores. */
export function keepPublicKey64(keepAddress: string): string {
  return "0x" + keepSigningKey(keepAddress).publicKey.slice(4);
}

export function keepCompressedPublicKey(keepAddress: string): string {
  return keepSigningKey(keepAddress).compressedPublicKey;
}

export interface DigestSignature {
  r: string;
  s: string;
  /** 0 or 1, as keep-ecdsa's SignatureSubmitted carries it. */
  recoveryID: number;
  /** 27 or 28, as Deposit.provideRedemptionSignature takes it. */
  v: number;
}

/** Signs a raw 32-byte digest (no message prefix); ethers always returns the low-s form. */
export function signDigest(keepAddress: string, digest: string): DigestSignature {
  const sig = keepSigningKey(keepAddress).sign(digest);
  return { r: sig.r, s: sig.s, v: sig.v, recoveryID: sig.v - 27 };
}
