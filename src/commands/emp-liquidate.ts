import type { Command } from "commander";
import { notBuilt } from "./common";

export function register(program: Command): void {
  notBuilt(program, "emp-liquidate", "UMA ExpiringMultiParty liquidator bot");
}
