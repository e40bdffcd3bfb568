/** Stable error codes of the wallet; each maps to one gRPC status. */
export type WalletErrorCode =
  | "INVALID_ARGUMENT"
  | "UNKNOWN_ASSET"
  | "NOT_FOUND"
  | "INSUFFICIENT_BALANCE"
  | "PERMISSION_DENIED"
  | "ALREADY_EXISTS"
  | "FAILED_PRECONDITION"
  | "INTERNAL";

/** An error as a value: a code, a message and optionally the offending field. */
export class WalletError extends Error {
  constructor(
    readonly code: WalletErrorCode,
    message: string,
    readonly field = "",
  ) {
    super(message);
    this.name = "WalletError";
  }
}

export function invalid(field: string, message: string): WalletError {
  return new WalletError("INVALID_ARGUMENT", message, field);
}
