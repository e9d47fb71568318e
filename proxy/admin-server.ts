import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { gzip, gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from './status-page.js';

/** What the authenticated admin API can see and do. */
export interface AdminApi {
  /** A JSON-serialisable view of the process (upstreams, split target vs realised, miners). */
  state(): unknown;
  /** Starts a graceful drain (as SIGTERM does). */
  drain(): void;
  /** Re-reads the configuration file (as SIGHUP does); undefined in roles that cannot. */
  reload?(): ReloadAnswer;
}

/** A reload's outcome: what applied and what needs a restart, or why the file was not taken. */
export type ReloadAnswer =
  | {
      readonly ok: true;
      readonly applied: readonly string[];
      readonly refused: readonly { readonly key: string; readonly reason: string }[];
    }
  | { readonly ok: false; readonly error: string };

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** Ready to take miners (the ledger records, an upstream is up), or why not. */
  readonly ready: () => boolean | { readonly ready: boolean; readonly reason: string };
  readonly logger: Logger;
  readonly api?: AdminApi;
  /** Bearer token for /api/*; without one the API answers 403 and says how to set it. */
  readonly token?: string;
  /** The status page's JSON (GET /api/status); the page at GET / reads it. */
  readonly status?: () => Promise<unknown>;
  /** GET /api/status answers without the token (`admin.publicStatus`); the rest of /api/* never does. */
  readonly publicStatus?: boolean;
}

const STATUS_PAGE_GZIP = gzipSync(STATUS_PAGE_HTML);

function acceptsGzip(request: http.IncomingMessage): boolean {
  return /\bgzip\b/.test(request.headers['accept-encoding'] ?? '');
}

/**
 * /metrics (Prometheus text), /healthz (the process runs), /readyz (ready for miners), the status
 * page at / (data from GET /api/status), and with a bearer token: GET /api/state, POST /api/drain,
 * POST /api/reload. Listens where it is told (the CLI defaults it to loopback).
 */
export async function startAdminServer(options: AdminServerOptions): Promise<http.Server> {
  const expected = options.token === undefined ? undefined : Buffer.from(`Bearer ${options.token}`);
  const authorized = (request: http.IncomingMessage): boolean => {
    if (expected === undefined) return false;
    const given = Buffer.from(request.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const json = (response: http.ServerResponse, status: number, body: unknown): void => {
    response.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
  };

  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (path === '/api/status' && options.status !== undefined && request.method === 'GET') {
      if (options.publicStatus !== true && !authorized(request)) {
        if (expected !== undefined) response.setHeader('www-authenticate', 'Bearer');
        json(response, expected === undefined ? 403 : 401, {
          error:
            expected === undefined
              ? 'the status page is off: set HASHRELAY_ADMIN_TOKEN (or adminTokenFile), or admin.publicStatus: true'
              : 'missing or wrong bearer token',
        });
        return;
      }
      options.status().then(
        (body) => {
          // Compressed off the event loop (libuv's pool): at 1,000 miners the JSON is ~340 kB, ~10× less gzipped.
          const text = `${JSON.stringify(body)}\n`;
          const headers = {
            'content-type': 'application/json',
            'cache-control': 'no-store',
            vary: 'accept-encoding',
          };
          if (!acceptsGzip(request)) {
            response.writeHead(200, headers).end(text);
            return;
          }
          gzip(text, (error, packed) => {
            if (error !== null) response.writeHead(200, headers).end(text);
            else response.writeHead(200, { ...headers, 'content-encoding': 'gzip' }).end(packed);
          });
        },
        (error: unknown) => {
          options.logger.error({ error: (error as Error).message }, 'status report failed');
          json(response, 500, { error: 'status report failed; see the log' });
        },
      );
      return;
    }
    if (path.startsWith('/api/')) {
      if (options.api === undefined) {
        json(response, 404, { error: 'no admin API in this role' });
        return;
      }
      if (expected === undefined) {
        json(response, 403, {
          error: 'the admin API is off: set HASHRELAY_ADMIN_TOKEN or adminTokenFile to enable it',
        });
        return;
      }
      if (!authorized(request)) {
        response.setHeader('www-authenticate', 'Bearer');
        json(response, 401, { error: 'missing or wrong bearer token' });
        return;
      }
      if (path === '/api/state' && request.method === 'GET') {
        json(response, 200, options.api.state());
        return;
      }
      if (path === '/api/drain' && request.method === 'POST') {
        options.logger.warn(
          { remote: request.socket.remoteAddress },
          'drain requested through the admin API',
        );
        json(response, 202, { draining: true });
        options.api.drain();
        return;
      }
      if (path === '/api/reload' && request.method === 'POST') {
        if (options.api.reload === undefined) {
          json(response, 404, { error: 'no configuration reload here: restart to change settings' });
          return;
        }
        options.logger.info(
          { remote: request.socket.remoteAddress },
          'reload requested through the admin API',
        );
        const answer = options.api.reload();
        json(response, answer.ok ? 200 : 400, answer);
        return;
      }
      json(response, 404, { error: `no ${request.method ?? ''} ${path}` });
      return;
    }
    if (request.method !== 'GET') {
      response.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': options.registry.contentType }).end(text);
        },
        (error: unknown) => {
          options.logger.error({ error: (error as Error).message }, 'metrics collection failed');
          response.writeHead(500).end();
        },
      );
      return;
    }
    if (path === '/' && options.status !== undefined) {
      // The page holds no data (it fetches /api/status), so it is served to anyone.
      if (acceptsGzip(request))
        response
          .writeHead(200, { ...STATUS_PAGE_HEADERS, vary: 'accept-encoding', 'content-encoding': 'gzip' })
          .end(STATUS_PAGE_GZIP);
      else response.writeHead(200, { ...STATUS_PAGE_HEADERS, vary: 'accept-encoding' }).end(STATUS_PAGE_HTML);
      return;
    }
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const answer = options.ready();
      const { ready, reason } =
        typeof answer === 'boolean'
          ? { ready: answer, reason: answer ? 'ready' : 'no upstream is up' }
          : answer;
      response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${reason}\n`);
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  options.logger.info(
    { address, api: expected !== undefined },
    'admin listener (metrics, healthz, readyz, api)',
  );
  return server;
}
