import { createServer, type AddressInfo } from 'node:net';

/** A loopback port free a moment ago (bound, then closed): for listeners given by number, or as a dead end. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
