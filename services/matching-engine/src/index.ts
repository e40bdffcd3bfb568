export * from "./book/common.ts";
export * from "./book/fast-book.ts";
export * from "./book/reference/reference-book.ts";
export * from "./book/types.ts";
export * from "./engine.ts";
export * from "./service/index.ts";
