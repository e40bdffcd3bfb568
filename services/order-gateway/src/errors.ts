/**
 * Binance Spot error values: `{code, msg}` with Binance's codes and message texts (client libraries
 * map errors by message text, so the texts are copied exactly, with the `%s` parts filled in).
 * See https://developers.binance.com/docs/binance-spot-api-docs/errors.
 */
export class BinanceError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: number,
    msg: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(msg);
  }

  toJSON(): { code: number; msg: string } {
    return { code: this.code, msg: this.message };
  }
}

/** Integer parameters (limit, fromId, startTime, ...). */
export const INTEGER_PATTERN = "^[0-9]{1,20}$";
/** Symbols. */
export const SYMBOL_PATTERN = "^[A-Z0-9-_.]{1,20}$";

export const errors = {
  unknown: () => new BinanceError(500, -1000, "An unknown error occurred while processing the request."),
  disconnected: () =>
    new BinanceError(503, -1001, "Internal error; unable to process your request. Please try again."),
  tooManyRequests: (limit: number, retryAfterSeconds: number) =>
    new BinanceError(
      429,
      -1003,
      `Too much request weight used; current limit is ${limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.`,
      { "retry-after": String(retryAfterSeconds) },
    ),
  banned: (untilMs: number, retryAfterSeconds: number) =>
    new BinanceError(
      418,
      -1003,
      `Way too much request weight used; IP banned until ${untilMs}. Please use WebSocket Streams for live updates to avoid bans.`,
      { "retry-after": String(retryAfterSeconds) },
    ),
  illegalChars: (param: string, legalRange: string) =>
    new BinanceError(
      400,
      -1100,
      `Illegal characters found in parameter '${param}'; legal range is '${legalRange}'.`,
    ),
  duplicateParam: () => new BinanceError(400, -1101, "Duplicate values for a parameter detected."),
  mandatory: (param: string) =>
    new BinanceError(
      400,
      -1102,
      `Mandatory parameter '${param}' was not sent, was empty/null, or malformed.`,
    ),
  badInterval: () => new BinanceError(400, -1120, "Invalid interval."),
  badSymbol: () => new BinanceError(400, -1121, "Invalid symbol."),
  badCombo: () => new BinanceError(400, -1128, "Combination of optional parameters invalid."),
  invalidParameter: () => new BinanceError(400, -1130, "Invalid data sent for a parameter."),
  notFound: () => new BinanceError(404, -1000, "An unknown error occurred while processing the request."),
} as const;
