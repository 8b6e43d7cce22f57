// Seeding through keymeter's own HTTP API, and keys made with keymeter's own key format.
import { createRequire } from 'node:module';
import path from 'node:path';
import { basicAuth, mapLimit, request } from './util.mjs';

/**
 * Key makers built on the app snapshot's own generateKey / hashKey (dist/common/crypto), so
 * that generated keys have the prefix, length, checksum and hash the server expects.
 */
export function appKeys(appDir) {
  const appRequire = createRequire(path.join(appDir, 'dist', 'main.js'));
  const { generateKey, displayPrefix } = appRequire('./common/crypto/key-format.js');
  const { hashKey } = appRequire('./common/crypto/key-crypto.js');

  /** Well-formed keys (right prefix, length and checksum) that no database holds. */
  function unknownKeys(n) {
    return Array.from({ length: n }, () => generateKey('km_'));
  }

  /** Keys that fail before any lookup: wrong checksum, wrong length, wrong prefix, junk. */
  function invalidKeys(n) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const key = generateKey('km_');
      switch (i % 4) {
        case 0:
        case 1: {
          const last = key.at(-1) === 'A' ? 'B' : 'A';
          out.push(key.slice(0, -1) + last); // checksum does not match
          break;
        }
        case 2:
          out.push(key.slice(0, -3)); // too short
          break;
        default:
          out.push(`xx_${key.slice(3)}`); // wrong prefix
      }
    }
    return out;
  }

  /** Keys to insert with SQL (DirectDb.insertKeys): plaintext, hash, display prefix, name. */
  function generatedKeys(n, namePrefix) {
    return Array.from({ length: n }, (_, i) => {
      const key = generateKey('km_');
      return {
        key,
        hash: hashKey(key),
        prefix: displayPrefix(key, 'km_'),
        name: `${namePrefix}-${i}`,
      };
    });
  }

  return { generateKey, unknownKeys, invalidKeys, generatedKeys };
}

export async function register(server, label) {
  const email = `${label}-${Date.now()}-${Math.floor(Math.random() * 1e9)}@bench.example.com`;
  const res = await request(server.port, 'POST', '/api/v1/auth/register', {
    body: { email, password: 'benchmark-password' },
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${res.text()}`);
  const { data } = res.json();
  return { email, accountId: data.account.id, master: data.apiKey, masterId: data.id };
}

/** A new key through POST /1.0/keys; `extra` joins the body (rateLimit, quota: limits). */
export async function createKey(server, master, name, extra = {}) {
  const res = await request(server.port, 'POST', '/1.0/keys', {
    headers: { authorization: basicAuth(master) },
    body: { name, ...extra },
  });
  if (res.status !== 200) throw new Error(`create key: ${res.status} ${res.text()}`);
  return res.json().key;
}

export async function listKeys(server, master) {
  const res = await request(server.port, 'GET', '/1.0/keys', {
    headers: { authorization: basicAuth(master) },
  });
  if (res.status !== 200) throw new Error(`list keys: ${res.status} ${res.text()}`);
  return res.json().keys;
}

export async function createKeys(server, master, names) {
  return mapLimit(names, 16, (name) => createKey(server, master, name));
}

/**
 * The shared instance's seed, through the API: an account ("load"), one hot key and 1,000
 * load keys with their ids, in the order of the keys.
 */
export async function seedLoadKeys(server) {
  const load = await register(server, 'load');
  const hot = await createKey(server, load.master, 'hot');
  const loadKeys = await createKeys(
    server,
    load.master,
    Array.from({ length: 1000 }, (_, i) => `load-${i}`),
  );
  const byKey = new Map((await listKeys(server, load.master)).map((k) => [k.key, k.id]));
  const loadIds = loadKeys.map((k) => byKey.get(k));
  return { load, hot, loadKeys, loadIds };
}
