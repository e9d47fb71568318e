/** A listener that failed to bind, said so an operator knows which port and what to do. */
export function describeListenFailure(listener: string, error: unknown): string {
  const failure = error as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = failure.port === undefined ? '' : ` ${failure.address ?? ''}:${failure.port}`;
  switch (failure.code) {
    case 'EADDRINUSE':
      return `port ${failure.port ?? '?'} in use: the ${listener}${where} cannot listen because another process (another hashrelay?) holds it; stop that process or choose another port`;
    case 'EACCES':
      return `the ${listener}${where} may not listen there: ports below 1024 need privileges; choose a higher port`;
    case 'EADDRNOTAVAIL':
      return `the ${listener}${where} cannot listen: that address is not one of this machine's; use 0.0.0.0, 127.0.0.1 or a local address`;
    default:
      return `the ${listener}${where} cannot listen: ${failure.message}`;
  }
}
