import { WsProvider } from '@polkadot/api';

/** One of chopsticks' `dev_*` RPC methods (`dev_setStorage`, `dev_setBlockBuildMode`, ...). */
export async function devRpc(endpoint: string, method: string, params: unknown[]): Promise<unknown> {
  const provider = new WsProvider(endpoint);
  try {
    await provider.isReady;
    return await provider.send(method, params);
  } finally {
    await provider.disconnect();
  }
}

/** chopsticks' `dev_setStorage` (storage given decoded, by pallet and item). */
export async function devSetStorage(endpoint: string, storage: Record<string, unknown>): Promise<void> {
  await devRpc(endpoint, 'dev_setStorage', [storage]);
}
