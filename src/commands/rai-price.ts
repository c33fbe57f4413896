import type { Command } from "commander";
import { notBuilt } from "./common";

export function register(program: Command): void {
  notBuilt(program, "rai-price", "RAI redemption-rate price feed (annualized TWAP)");
}
