/**
 * OpenAPI 3.1 description of the order-entry routes, served at GET /docs (JSON). The Binance
 * endpoints are described by their parameters and security; shapes follow Binance's documentation.
 */
import type { FastifyPluginAsync } from "fastify";

const signed = (summary: string, params: string[], weight: number | string) => ({
  summary,
  description: `Binance Spot v3 SIGNED endpoint. Weight ${weight}. Parameters in the query string or an x-www-form-urlencoded body; signature = hex HMAC-SHA256(secret, query ‖ body).`,
  security: [{ apiKey: [] }],
  parameters: [...params, "timestamp", "recvWindow", "signature"].map((name) => ({
    name,
    in: "query",
    required: name === "timestamp" || name === "signature",
    schema: { type: "string" },
  })),
  responses: {
    200: { description: "Binance JSON" },
    400: { description: "{code, msg}" },
    401: { description: "-2014 / -2015" },
    429: { description: "-1003 / -1015" },
  },
});

const ORDER_PARAMS = [
  "symbol",
  "side",
  "type",
  "timeInForce",
  "quantity",
  "quoteOrderQty",
  "price",
  "stopPrice",
  "newClientOrderId",
  "selfTradePreventionMode",
  "newOrderRespType",
];

const keyPath = { name: "accountId", in: "path", required: true, schema: { type: "string" } };

export const OPENAPI = {
  openapi: "3.1.0",
  info: { title: "ExCraft order gateway (order entry)", version: "0.1.0" },
  components: {
    securitySchemes: {
      apiKey: { type: "apiKey", in: "header", name: "X-MBX-APIKEY" },
      admin: { type: "http", scheme: "bearer" },
    },
  },
  paths: {
    "/api/v3/order": {
      post: signed("New order", ORDER_PARAMS, 1),
      get: signed("Query order", ["symbol", "orderId", "origClientOrderId"], 4),
      delete: signed("Cancel order", ["symbol", "orderId", "origClientOrderId", "newClientOrderId"], 1),
    },
    "/api/v3/order/test": { post: signed("Test new order", [...ORDER_PARAMS, "computeCommissionRates"], 1) },
    "/api/v3/openOrders": {
      get: signed("Open orders", ["symbol"], "6 with symbol, else 80"),
      delete: signed("Cancel all open orders of a symbol", ["symbol"], 1),
    },
    "/api/v3/allOrders": {
      get: signed("All orders", ["symbol", "orderId", "startTime", "endTime", "limit"], 20),
    },
    "/api/v3/myTrades": {
      get: signed(
        "Account trades",
        ["symbol", "orderId", "fromId", "startTime", "endTime", "limit"],
        "20 (5 with orderId)",
      ),
    },
    "/api/v3/account": { get: signed("Account information (Wallet.GetBalances)", ["omitZeroBalances"], 20) },
    "/v1/accounts/{accountId}/api-keys": {
      post: {
        summary: "Create an API key (secret returned once)",
        security: [{ admin: [] }],
        parameters: [keyPath],
        requestBody: {
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["permissions"],
                properties: {
                  permissions: { type: "array", items: { enum: ["read", "trade", "withdraw"] } },
                  label: { type: "string" },
                  ipAllowList: { type: "array", items: { type: "string" } },
                },
              },
            },
          },
        },
        responses: {
          201: { description: "{apiKey, secretKey, accountId, label, permissions, ipAllowList, createdAt}" },
        },
      },
      get: {
        summary: "List API keys (no secrets)",
        security: [{ admin: [] }],
        parameters: [keyPath],
        responses: {
          200: {
            description: "[{apiKey, accountId, label, permissions, ipAllowList, createdAt, revokedAt}]",
          },
        },
      },
    },
    "/v1/accounts/{accountId}/api-keys/{apiKey}": {
      delete: {
        summary: "Revoke an API key",
        security: [{ admin: [] }],
        parameters: [keyPath, { name: "apiKey", in: "path", required: true, schema: { type: "string" } }],
        responses: { 204: { description: "revoked" }, 404: { description: "no such active key" } },
      },
    },
  },
} as const;

export const openApiRoutes: FastifyPluginAsync = async (app) => {
  app.get("/docs", async () => OPENAPI);
};
