import type { ServerResponse } from 'node:http';
import { UsageMeter } from './usage-meter.service';

const KEY_ID = Symbol('keymeter.answers.keyId');
const ADMITTED_MS = Symbol('keymeter.answers.admittedMs');
const USED_AT = Symbol('keymeter.answers.usedAt');

type ObservedResponse = ServerResponse & {
  [KEY_ID]: string;
  [ADMITTED_MS]: number;
  [USED_AT]: number;
};

/**
 * The body bytes of a response keymeter finished: every answer of its API is sent whole with a
 * Content-Length (res.send, res.json, the usage writers), so the header is the exact count. A
 * response cut off before its end sent an unknown part of it: 0 is counted, never too much.
 */
export function sentBodyBytes(response: ServerResponse): number {
  if (!response.headersSent || !response.writableFinished) return 0;
  const status = response.statusCode;
  if (response.req.method === 'HEAD' || status === 204 || status === 304 || status < 200) return 0;
  const length = Number(response.getHeader('content-length'));
  return Number.isSafeInteger(length) && length > 0 ? length : 0;
}

/**
 * Records how keymeter's own API answered a metered request (status, latency from admission to
 * the end of the answer, body bytes), next to the use recorded on admission. One 'close'
 * listener shared by every response, which finds its key and start on the response.
 */
export class ApiAnswers {
  private readonly onClose: (this: ObservedResponse) => void;

  constructor(meter: UsageMeter) {
    this.onClose = function (this: ObservedResponse): void {
      const answer = {
        volumeOut: sentBodyBytes(this),
        status: this.headersSent ? this.statusCode : 0,
        latencyUs: (performance.now() - this[ADMITTED_MS]) * 1000,
      };
      meter.answered(this[KEY_ID], 0, 0, answer, this[USED_AT])?.catch(() => undefined);
    };
  }

  /** Records the answer of the use of `keyId` made at `usedAtMs`, in that use's minute. */
  observe(response: ServerResponse, keyId: string, usedAtMs: number): void {
    const observed = response as ObservedResponse;
    observed[KEY_ID] = keyId;
    observed[USED_AT] = usedAtMs;
    observed[ADMITTED_MS] = performance.now();
    // 'close' is emitted once per response, finished or cut off.
    response.on('close', this.onClose);
  }
}
