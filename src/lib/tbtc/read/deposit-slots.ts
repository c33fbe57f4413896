import { ethers } from "ethers";

/**
 * Deposit fields straight from storage. A deployed tBTC v1 Deposit never changes layout (no
 * upgrades), and eth_getStorageAt runs no EVM code, so it costs a node a fraction of a call:
 * slot 0 is DepositFactoryAuthority's (bool, address); `DepositUtils.Deposit self` starts at 1.
 * Slot 5 packs vendingMachineAddress (20 bytes), lotSizeSatoshis (uint64), currentState (uint8),
 * signerFeeDivisor (uint16); slot 6 packs the three uint16 thresholds. Values that fail a sanity
 * check fall back to the getters.
 */
export const DEPOSIT_STATE_SLOT = 5;
export const DEPOSIT_THRESHOLDS_SLOT = 6;

export interface SlotFacts {
  state: number;
  lotSizeSatoshis: bigint;
  initialCollateralizedPercent?: number;
  undercollateralizedThresholdPercent?: number;
  severelyUndercollateralizedThresholdPercent?: number;
}

const bits = (word: bigint, offsetBytes: number, sizeBytes: number) => (word >> BigInt(offsetBytes * 8)) & ((1n << BigInt(sizeBytes * 8)) - 1n);

/** Decodes slots 5 (and 6); undefined when the values are not those of a live tBTC deposit. */
export function decodeDepositSlots(stateWord: string, thresholdsWord?: string): SlotFacts | undefined {
  const w = BigInt(stateWord);
  const state = Number(bits(w, 28, 1));
  const lot = bits(w, 20, 8);
  if (state >= 12 || lot === 0n || bits(w, 0, 20) === 0n) return undefined;
  const out: SlotFacts = { state, lotSizeSatoshis: lot };
  if (thresholdsWord !== undefined) {
    const t = BigInt(thresholdsWord);
    const [initial, under, severe] = [Number(bits(t, 0, 2)), Number(bits(t, 2, 2)), Number(bits(t, 4, 2))];
    if (!(initial > under && under > severe && severe >= 100) || t >> 48n !== 0n) return undefined;
    Object.assign(out, { initialCollateralizedPercent: initial, undercollateralizedThresholdPercent: under, severelyUndercollateralizedThresholdPercent: severe });
  }
  return out;
}

export function getStorage(provider: ethers.JsonRpcProvider, address: string, slot: number, block: number | "latest"): Promise<string> {
  return provider.send("eth_getStorageAt", [address, ethers.toQuantity(slot), block === "latest" ? "latest" : ethers.toQuantity(block)]);
}
