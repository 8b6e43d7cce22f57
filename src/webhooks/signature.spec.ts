import { createHmac } from 'node:crypto';
import { newWebhookSecret, SECRET_PREFIX, sign, webhookHeaders } from './signature';

describe('webhook signatures', () => {
  it("matches the Standard Webhooks specification's example", () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    expect(sign(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('keys the HMAC with the base64-decoded part after whsec_', () => {
    const secret = newWebhookSecret();
    const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
    expect(key).toHaveLength(32);
    const expected = createHmac('sha256', key).update('id.1.{}').digest('base64');
    expect(sign(secret, 'id', 1, '{}')).toBe(`v1,${expected}`);
  });

  it('signs with every secret given, space-separated, after a rotation', () => {
    const [a, b] = [newWebhookSecret(), newWebhookSecret()];
    const headers = webhookHeaders([a, b], 'evt', 1700000000, '{"x":1}');
    expect(headers['webhook-id']).toBe('evt');
    expect(headers['webhook-timestamp']).toBe('1700000000');
    expect(headers['webhook-signature']).toBe(
      `${sign(a, 'evt', 1700000000, '{"x":1}')} ${sign(b, 'evt', 1700000000, '{"x":1}')}`,
    );
  });

  it('makes a new secret each time', () => {
    expect(newWebhookSecret()).not.toBe(newWebhookSecret());
    expect(newWebhookSecret()).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  });
});
