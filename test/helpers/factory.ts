import { randomBytes } from 'node:crypto';
import type TestAgent from 'supertest/lib/agent';
import type { Actor } from '../../src/audit/actor';

export interface TestAccount {
  email: string;
  password: string;
  accountId: string;
  masterKey: string;
  masterKeyId: string;
}

/** Registers a new account through the API and returns its credentials and master key. */
export async function account(http: TestAgent): Promise<TestAccount> {
  const email = `user-${randomBytes(6).toString('hex')}@example.com`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const res = await http.post('/api/v1/auth/register').send({ email, password }).expect(201);
  const data = res.body.data as { apiKey: string; id: string; account: { id: string } };
  return {
    email,
    password,
    accountId: data.account.id,
    masterKey: data.apiKey,
    masterKeyId: data.id,
  };
}

/** `curl -u KEY:` */
export const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

/** The account's master key acting from nowhere in particular, for specs that call services. */
export function masterActor(owner: TestAccount): Actor {
  return {
    accountId: owner.accountId,
    type: 'master_key',
    id: owner.masterKeyId,
    ip: null,
    userAgent: null,
    requestId: null,
  };
}
