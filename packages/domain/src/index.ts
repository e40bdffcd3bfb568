export * from "./fixed.ts";
export * from "./market.ts";
