import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { recordBodyBytes, requestBodyBytes } from './request-bytes';

const request = (headers: IncomingHttpHeaders): IncomingMessage => ({ headers }) as IncomingMessage;

describe('requestBodyBytes', () => {
  it('is 0 for a request without a body', () => {
    expect(requestBodyBytes(request({}))).toBe(0);
  });

  it('is what the parser read, whatever the request declared', () => {
    const declared = request({ 'content-length': '999' });
    recordBodyBytes(declared, null, Buffer.alloc(42));
    expect(requestBodyBytes(declared)).toBe(42);

    const chunked = request({ 'transfer-encoding': 'chunked' });
    recordBodyBytes(chunked, null, Buffer.alloc(7));
    expect(requestBodyBytes(chunked)).toBe(7);
  });

  it('is the declared Content-Length of a body the parser did not read', () => {
    expect(requestBodyBytes(request({ 'content-length': '1234' }))).toBe(1234);
  });

  it('is 0 for a chunked body the parser did not read, or a length that is not a count', () => {
    expect(requestBodyBytes(request({ 'transfer-encoding': 'chunked' }))).toBe(0);
    expect(requestBodyBytes(request({ 'content-length': 'abc' }))).toBe(0);
    expect(requestBodyBytes(request({ 'content-length': '-5' }))).toBe(0);
    expect(requestBodyBytes(request({ 'content-length': '1e400' }))).toBe(0);
  });
});
