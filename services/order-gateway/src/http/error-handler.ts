/** Maps every failure of a REST request to Binance's `{code, msg}` with Binance's HTTP status. */
import type { FastifyError, FastifyInstance } from "fastify";
import { BinanceError, errors } from "../errors.ts";

export function registerBinanceErrors(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | BinanceError, request, reply) => {
    const binance =
      error instanceof BinanceError
        ? error
        : fromFastify(error as FastifyError, request.query as Record<string, unknown> | undefined);
    if (binance.code === -1000) request.log.error({ err: error }, "request failed");
    reply.status(binance.httpStatus).headers(binance.headers).send(binance.toJSON());
  });
  // Binance answers an unknown path with 404 and an empty body.
  app.setNotFoundHandler((_request, reply) => {
    reply.status(404).send("");
  });
}

function fromFastify(error: FastifyError, query: Record<string, unknown> | undefined): BinanceError {
  const issue = error.validation?.[0];
  if (issue) {
    const param =
      issue.keyword === "required"
        ? String((issue.params as { missingProperty?: string }).missingProperty)
        : issue.instancePath.replace(/^\//, "");
    if (issue.keyword === "required" || query?.[param] === "") return errors.mandatory(param);
    if (param === "interval") return errors.badInterval();
    if (issue.keyword === "type") return errors.duplicateParam();
    if (issue.keyword === "pattern") {
      return errors.illegalChars(param, String((issue.params as { pattern?: string }).pattern));
    }
    return errors.mandatory(param);
  }
  if (error.statusCode === 415 || error.statusCode === 400) return errors.invalidParameter();
  return errors.unknown();
}
