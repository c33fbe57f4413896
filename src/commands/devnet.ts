import type { Command } from "commander";
import { notBuilt } from "./common";

export function register(program: Command): void {
  notBuilt(program, "devnet", "start a local chain with the real tBTC v1 contracts and a seeded scenario");
}
