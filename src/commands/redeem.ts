import type { Command } from "commander";
import { notBuilt } from "./common";

export function register(program: Command): void {
  notBuilt(program, "redeem", "redeem at-risk deposits with the wallet's TBTC");
}
