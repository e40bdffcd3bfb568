/**
 * Native API-key administration under /v1 (not Binance): create / list / revoke keys of an account.
 * Callers authenticate with `Authorization: Bearer <adminToken>` (the operator or the account
 * service in front of the gateway); without a configured token the routes are not mounted.
 *
 *   POST   /v1/accounts/:accountId/api-keys   {permissions: ["read","trade","withdraw"], label?, ipAllowList?}
 *          → 201 {apiKey, secretKey, accountId, label, permissions, ipAllowList, createdAt}  (secret shown once)
 *   GET    /v1/accounts/:accountId/api-keys   → [{apiKey, accountId, label, permissions, ipAllowList, createdAt, revokedAt}]
 *   DELETE /v1/accounts/:accountId/api-keys/:apiKey → 204, 404 when no such active key
 */
import { timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { type ApiKeyStore, PERMISSIONS, WithdrawKeyNeedsIpsError } from "../keys/api-keys.ts";

export interface KeyRoutesOptions {
  keys: ApiKeyStore;
  adminToken: string;
}

const ACCOUNT = { type: "string", pattern: "^[A-Za-z0-9:_.@-]{1,128}$" } as const;

export const keyRoutes: FastifyPluginAsync<KeyRoutesOptions> = async (app, o) => {
  const expected = Buffer.from(`Bearer ${o.adminToken}`);
  // Native errors here are {error, message} (not Binance's {code, msg}).
  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, _request, reply) => {
    const status = error.validation ? 400 : (error.statusCode ?? 500);
    reply.status(status).send({ error: status === 400 ? "bad_request" : "internal", message: error.message });
  });
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const given = Buffer.from(request.headers.authorization ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return reply.status(401).send({ error: "unauthorized", message: "admin token required" });
    }
  });

  app.post<{
    Params: { accountId: string };
    Body: { permissions: string[]; label?: string; ipAllowList?: string[] };
  }>(
    "/accounts/:accountId/api-keys",
    {
      schema: {
        params: { type: "object", properties: { accountId: ACCOUNT }, required: ["accountId"] },
        body: {
          type: "object",
          additionalProperties: false,
          required: ["permissions"],
          properties: {
            permissions: { type: "array", minItems: 1, uniqueItems: true, items: { enum: [...PERMISSIONS] } },
            label: { type: "string", maxLength: 100 },
            ipAllowList: { type: "array", maxItems: 30, items: { type: "string", maxLength: 45 } },
          },
        },
      },
    },
    async (request, reply) => {
      const ips = request.body.ipAllowList ?? [];
      const bad = ips.find((ip) => isIP(ip) === 0);
      if (bad !== undefined)
        return reply.status(400).send({ error: "bad_request", message: `not an IP: ${bad}` });
      if (request.body.permissions.includes("withdraw") && ips.length === 0) {
        return reply
          .status(400)
          .send({ error: "bad_request", message: new WithdrawKeyNeedsIpsError().message });
      }
      const key = await o.keys.create({
        accountId: request.params.accountId,
        label: request.body.label,
        permissions: request.body.permissions as never,
        ipAllowList: ips,
      });
      reply.status(201);
      return {
        apiKey: key.apiKey,
        secretKey: key.secret,
        accountId: key.accountId,
        label: key.label,
        permissions: key.permissions,
        ipAllowList: key.ipAllowList,
        createdAt: key.createdAt,
      };
    },
  );

  app.get<{ Params: { accountId: string } }>(
    "/accounts/:accountId/api-keys",
    { schema: { params: { type: "object", properties: { accountId: ACCOUNT }, required: ["accountId"] } } },
    async (request) => o.keys.list(request.params.accountId),
  );

  app.delete<{ Params: { accountId: string; apiKey: string } }>(
    "/accounts/:accountId/api-keys/:apiKey",
    async (request, reply) => {
      const ok = await o.keys.revoke(request.params.accountId, request.params.apiKey);
      if (!ok) return reply.status(404).send({ error: "not_found", message: "no such active API key" });
      return reply.status(204).send();
    },
  );
};
