import http from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** Ready to take miners: at least one upstream is up. */
  readonly ready: () => boolean;
  readonly logger: Logger;
}

/** /metrics (Prometheus text), /healthz (the process runs), /readyz (an upstream is up). */
export async function startAdminServer(options: AdminServerOptions): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
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
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const ready = options.ready();
      response
        .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
        .end(ready ? 'ready\n' : 'no upstream is up\n');
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
  options.logger.info({ address }, 'admin listener (metrics, healthz, readyz)');
  return server;
}
