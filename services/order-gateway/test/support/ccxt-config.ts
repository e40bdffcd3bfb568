/**
 * The whole ccxt configuration a user of the gateway needs (README "Using ccxt"): Binance's REST
 * (`public` / `private` = /api/v3, `sapi` = /sapi/v1 for deposits and withdrawals) and WebSocket URLs
 * pointed at the gateway, and the options that keep ccxt off Binance's other products.
 */
import type { Key } from "./order-harness.ts";

export function ccxtConfig(gatewayUrl: string, key?: Key) {
  const wsUrl = gatewayUrl.replace(/^http/, "ws");
  return {
    ...(key ? { apiKey: key.apiKey, secret: key.secretKey } : {}),
    urls: {
      api: {
        public: `${gatewayUrl}/api/v3`,
        private: `${gatewayUrl}/api/v3`,
        sapi: `${gatewayUrl}/sapi/v1`,
        ws: { spot: `${wsUrl}/ws`, "ws-api": { spot: `${wsUrl}/ws-api/v3` } },
      },
    },
    options: {
      fetchMarkets: { types: ["spot"] }, // no fapi / dapi exchangeInfo
      fetchCurrencies: false, // sapi capital/config/getall (not served)
      fetchMargins: false, // sapi margin/allPairs (not served)
    },
  };
}
