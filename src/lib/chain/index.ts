export * from "./provider";
export * from "./logs";
