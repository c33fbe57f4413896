import type { Command } from "commander";
import { notBuilt } from "./common";

export function register(program: Command): void {
  notBuilt(program, "list-keeps", "every keep and deposit an operator signs for");
}
