import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedAddress } from './webhook-resolver';

/** How long one attempt may take, connection to the end of the response. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** The most of a response body that is read (then the connection is dropped). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * A lookup that answers with the address already checked, whatever it is asked: the connection
 * goes where the SSRF check looked, and no second DNS answer can send it elsewhere.
 */
function pinned(checked: CheckedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address: checked.address, family: checked.family },
      ]);
    } else callback(null, checked.address, checked.family);
  };
}

/**
 * POSTs one delivery: resolves with the response's status (whatever it is), rejects when no
 * response came (refused, reset, TLS, timeout). Only this attempt's own connection is used.
 */
export function post(
  url: URL,
  address: CheckedAddress,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<number> {
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<number>((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method: 'POST',
        agent: false,
        lookup: pinned(address),
        signal,
        timeout: DELIVERY_TIMEOUT_MS,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'keymeter-webhooks/1',
        },
      },
      (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) res.destroy();
        });
        res.on('close', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
