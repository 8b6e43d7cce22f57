import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { addressRefusal, hostOf, WebhookUrlError } from './addresses';

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves the URL's host and checks every address it resolves to (one bad answer refuses it:
 * which one a connection would use is the resolver's choice). Returns the first, which the
 * caller connects to, so that no second lookup can answer differently (DNS rebinding).
 */
export async function resolveChecked(url: URL, allowPrivate: boolean): Promise<CheckedAddress> {
  const host = hostOf(url);
  let addresses: { address: string; family: number }[];
  if (isIP(host) !== 0) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch {
      throw new WebhookUrlError(`url's host ${host} does not resolve`);
    }
  }
  if (addresses.length === 0) throw new WebhookUrlError(`url's host ${host} does not resolve`);
  for (const { address } of addresses) {
    const refusal = addressRefusal(url, address, allowPrivate);
    if (refusal !== null) throw new WebhookUrlError(refusal);
  }
  const [first] = addresses;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
