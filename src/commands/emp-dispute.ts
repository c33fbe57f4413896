import type { Command } from "commander";
import { notBuilt } from "./common";

export function register(program: Command): void {
  notBuilt(program, "emp-dispute", "UMA ExpiringMultiParty disputer bot");
}
