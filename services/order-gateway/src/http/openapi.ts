/**
 * OpenAPI 3.1 description of the order-entry routes, served at GET /docs (JSON). The Binance
 * endpoints are described by their parameters and security; shapes follow Binance's documentation.
 * The native /v1 user routes (linked wallet, identity) list their ExCraft error codes; the /sapi/v1
 * capital routes (deposits, withdrawals) their Binance SAPI codes and status values.
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

/** The native /v1 user routes: signed as /api/v3, ExCraft error codes -5000..-5008 (account-routes.ts). */
const native = (
  summary: string,
  permission: string,
  params: { name: string; description: string }[],
  ok: string,
  errors: Record<number, string> = {},
) => ({
  summary,
  description: `ExCraft native SIGNED endpoint (key permission \`${permission}\`), signed exactly like /api/v3: parameters in the query string or an x-www-form-urlencoded body (JSON bodies → -5000); signature = hex HMAC-SHA256(secret, query ‖ body). Weight 1. Errors are {code, msg}.`,
  security: [{ apiKey: [] }],
  parameters: [
    ...params.map((p) => ({ ...p, in: "query", required: true, schema: { type: "string" } })),
    ...["timestamp", "recvWindow", "signature"].map((name) => ({
      name,
      in: "query",
      required: name !== "recvWindow",
      schema: { type: "string" },
    })),
  ],
  responses: {
    200: { description: ok },
    400: {
      description: `{code, msg}: -1102 missing parameter, -1100 malformed parameter, -1021 / -1022 / -1131 signing, -5000 not a form body${errors[400] ? `, ${errors[400]}` : ""}`,
    },
    401: { description: "-2014 API-key format invalid / -2015 unknown key, IP or missing permission" },
    ...(errors[403] ? { 403: { description: errors[403] } } : {}),
    ...(errors[409] ? { 409: { description: errors[409] } } : {}),
    429: { description: "-1003" },
    503: { description: "-1001 wallet unreachable" },
  },
});

/** Binance /sapi/v1 capital endpoints over the wallet (capital-routes.ts). */
const capital = (
  summary: string,
  permission: string,
  weight: string,
  params: { name: string; required?: boolean; description: string }[],
  ok: string,
  errors: string,
) => ({
  summary,
  description: `Binance SAPI SIGNED endpoint (key permission \`${permission}\`), signed exactly like /api/v3: parameters in the query string or an x-www-form-urlencoded body (JSON bodies → -5000); signature = hex HMAC-SHA256(secret, query ‖ body). Weight ${weight} (X-MBX-USED-WEIGHT-1M and X-SAPI-USED-IP-WEIGHT-1M). Amounts are decimal text with 8 fractional digits.`,
  security: [{ apiKey: [] }],
  parameters: [
    ...params.map((p) => ({
      name: p.name,
      description: p.description,
      in: "query",
      required: p.required ?? false,
      schema: { type: "string" },
    })),
    ...["timestamp", "recvWindow", "signature"].map((name) => ({
      name,
      in: "query",
      required: name !== "recvWindow",
      schema: { type: "string" },
    })),
  ],
  responses: {
    200: { description: ok },
    400: {
      description: `{code, msg}: -1102 missing parameter, -1100 malformed parameter, -1130 invalid value, -1021 / -1022 / -1131 signing, -5000 not a form body, ${errors}`,
    },
    401: {
      description:
        permission === "withdraw"
          ? "-2014 API-key format invalid / -2015 unknown key or IP / -1002 You are not authorized to execute this request. (key without `withdraw`)"
          : "-2014 API-key format invalid / -2015 unknown key, IP or missing permission",
    },
    429: { description: "-1003" },
    503: { description: "-1001 wallet unreachable" },
  },
});

const HISTORY_PARAMS = [
  { name: "coin", description: "only this asset (unknown → -4018)" },
  {
    name: "startTime",
    description:
      "ms, inclusive; default endTime − 90 days (7 with withdrawOrderId); at most 90 days before endTime (-4047)",
  },
  { name: "endTime", description: "ms, inclusive; default now" },
  { name: "offset", description: "rows skipped, newest first (default 0)" },
  { name: "limit", description: "default 1000, at most 1000" },
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
    "/api/v3/account/commission": {
      get: signed("The account's commission rates in a market (Wallet.GetFeeRates)", ["symbol"], 20),
    },
    "/v1/wallet/link/challenge": {
      post: native(
        "Create an EIP-4361 (SIWE) challenge to link an Ethereum address (Wallet.CreateLinkChallenge)",
        "withdraw",
        [{ name: "address", description: "0x + 40 hex digits (any case; answered EIP-55 checksummed)" }],
        "{message, nonce}: sign `message` with the address's key (personal_sign); valid 10 minutes, once",
        { 400: "-5001 invalid address (e.g. bad EIP-55 checksum)" },
      ),
    },
    "/v1/wallet/link": {
      post: native(
        "Link the address of a signed challenge to the account (Wallet.LinkWallet)",
        "withdraw",
        [
          { name: "message", description: "the challenge message, unchanged" },
          {
            name: "walletSignature",
            description: "0x + 130 hex digits: the 65-byte personal_sign signature",
          },
        ],
        "{linkedAddress}",
        {
          400: "-5001 invalid message / walletSignature, -5002 unknown challenge",
          403: "-5006 challenge issued to another account, -5007 signature not made by the message's address",
          409: "-5003 challenge already used (replay) or expired, -5004 account already linked, -5005 address linked to another account",
        },
      ),
      delete: native("Unlink the account's address (Wallet.UnlinkWallet)", "withdraw", [], "{}", {
        409: "-5008 account has no linked address",
      }),
    },
    "/v1/account/identity": {
      get: native(
        "KYC status and linked address (Wallet.GetKyc)",
        "read",
        [],
        '{kycStatus: "NONE" | "PENDING" | "VERIFIED" | "REJECTED", linkedAddress: "0x…" | null}',
      ),
    },
    "/sapi/v1/capital/deposit/hisrec": {
      get: capital(
        "Deposit history (Wallet.ListDeposits)",
        "read",
        "1 per 1000 rows walked: ⌈(offset + limit) / 1000⌉",
        [
          ...HISTORY_PARAMS,
          {
            name: "status",
            description:
              "0 pending (fewer confirmations than required), 1 success (credited), 2 rejected (dropped by a reorg before it was credited); 6, 7, 8 never occur",
          },
          { name: "txId", description: "0x + 64 hex digits" },
        ],
        '[{id, amount, coin, network: ETH ("" when not from the chain), status, address (the hot wallet), addressTag, txId, insertTime, transferType (0 chain, 1 booked by the exchange), confirmTimes: "n/required", unlockConfirm, walletType}] newest first',
        "-4018 unknown coin, -4047 time interval not within 0-90 days",
      ),
    },
    "/sapi/v1/capital/withdraw/history": {
      get: capital(
        "Withdraw history (Wallet.ListWithdrawals)",
        "read",
        "10 per 1000 rows walked: 10·⌈(offset + limit) / 1000⌉",
        [
          ...HISTORY_PARAMS,
          {
            name: "status",
            description:
              "4 processing (held, or signed and broadcast), 5 failure (reverted on chain; amount released), 6 completed (confirmed and paid); 0–3 never occur",
          },
          { name: "withdrawOrderId", description: "the client's id given to withdraw/apply" },
          { name: "idList", description: "comma-separated ids returned by withdraw/apply (at most 50)" },
        ],
        '[{id, amount, transactionFee: 0, coin, status, address, txId, applyTime (UTC "YYYY-MM-DD HH:mm:ss"), network: ETH, transferType: 0, withdrawOrderId (when given), info, completeTime (status 6), walletType}] newest first',
        "-4018 unknown coin, -4047 time interval not within 0-90 days",
      ),
    },
    "/sapi/v1/capital/withdraw/apply": {
      post: capital(
        "Withdraw ETH or EXT on chain (Wallet.RequestWithdrawal): the amount is held at once",
        "withdraw",
        "1",
        [
          { name: "coin", required: true, description: "an on-chain asset (ETH, EXT)" },
          {
            name: "address",
            required: true,
            description: "0x + 40 hex digits (EIP-55 checked when mixed case)",
          },
          {
            name: "amount",
            required: true,
            description: "decimal; no more decimals than the asset's ledger decimals (8)",
          },
          {
            name: "withdrawOrderId",
            description:
              "the client's id (^[.A-Z:/a-z0-9_-]{1,60}$): a retry with the same id and parameters returns the same withdrawal",
          },
          { name: "network", description: "ETH (the only network)" },
        ],
        "{id}",
        "-4018 unknown coin, -4019 coin not withdrawn on chain, -4021 more decimals than the asset has, -4022 amount zero, -4026 insufficient balance, -4033 illegal address, -1106 addressTag sent; 409: -5009 withdrawOrderId used with other parameters",
      ),
    },
    "/sapi/v1/capital/deposit/address": {
      get: capital(
        "Deposit address: the exchange's hot wallet. Deposits are credited only when sent from the account's linked address (POST /v1/wallet/link); transfers from other addresses are not attributed to any account",
        "read",
        "10",
        [
          { name: "coin", required: true, description: "an on-chain asset (ETH, EXT)" },
          { name: "network", description: "ETH (the only network)" },
        ],
        '{coin, address, tag: "", url: ""}',
        "-4018 unknown coin, -5010 coin not deposited on chain; 503: -5011 no deposit address configured",
      ),
    },
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
