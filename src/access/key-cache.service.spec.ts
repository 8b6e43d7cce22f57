import { loadConfig } from '../config/config';
import { KeyAccess, KeyAccessRepository } from './key-access.repository';
import { KeyCache } from './key-cache.service';

const key = (id: string): KeyAccess =>
  ({
    id,
    accountId: 'account',
    name: id,
    isMaster: false,
    isActive: true,
    expiresAtMs: null,
  }) as KeyAccess;

function cacheWith(findByHash: (hash: string) => Promise<KeyAccess | null>): KeyCache {
  const config = loadConfig({ KEYMETER_SECRET: 'ab'.repeat(32), DATA_DIR: '/tmp' });
  const repository = { findByHash } as unknown as KeyAccessRepository;
  return new KeyCache(config, repository);
}

describe(KeyCache.name, () => {
  it('tells the onEvict listeners of a change made here, but not of one heard of', () => {
    const cache = cacheWith(() => Promise.resolve(null));
    const heard: string[] = [];
    cache.onEvict((id) => heard.push(id));
    cache.set('h1', key('k1'));
    cache.set('h2', key('k2'));
    cache.evict('k1');
    cache.evictLocally('k2');
    expect(heard).toEqual(['k1']);
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.get('h2')).toBeUndefined();
  });

  it('clear forgets every key and every unknown hash', () => {
    const cache = cacheWith(() => Promise.resolve(null));
    cache.set('h1', key('k1'));
    cache.set('h2', null);
    cache.clear();
    expect(cache.size).toEqual({ known: 0, unknown: 0 });
    expect(cache.get('h2')).toBeUndefined();
  });

  it('clear keeps a lookup under way from caching what it read before', async () => {
    const answers: ((found: KeyAccess) => void)[] = [];
    const findByHash = jest.fn(
      () => new Promise<KeyAccess | null>((resolve) => answers.push(resolve)),
    );
    const cache = cacheWith(findByHash);
    const before = cache.find('h1');
    cache.clear();
    // A request after the clear starts its own lookup instead of joining the old one.
    const after = cache.find('h1');
    expect(findByHash).toHaveBeenCalledTimes(2);
    answers[0](key('k1'));
    await before;
    expect(cache.get('h1')).toBeUndefined();
    const changed = { ...key('k1'), isActive: false };
    answers[1](changed);
    await after;
    expect(cache.get('h1')).toEqual(changed);
  });
});
