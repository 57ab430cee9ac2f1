import { CachedWebhookStore } from '../../lambdas/core/definition-cache';
import type { WebhookDefinition } from '../../lambdas/core/model';
import { MemoryWebhookStore } from '../support/memory-stores';

const HOUR_MS = 3_600_000;
const at = new Date('2026-12-03T07:00:00.000Z');

function definition(id: string, version = 1, events = ['T']): WebhookDefinition {
  return {
    id,
    name: id,
    events,
    enabled: true,
    method: 'POST',
    url: 'https://example.com/',
    contentType: 'application/json',
    headers: {},
    body: '{}',
    version,
    createdAt: at.toISOString(),
    updatedAt: at.toISOString(),
  };
}

class Counting extends MemoryWebhookStore {
  lists = 0;
  gets = 0;
  override list() {
    this.lists += 1;
    return super.list();
  }
  override get(id: string) {
    this.gets += 1;
    return super.get(id);
  }
}

describe('CachedWebhookStore', () => {
  it('a write through another instance shows in the next list(), whatever the TTL', async () => {
    const store = new Counting();
    const cache = new CachedWebhookStore(store, HOUR_MS);
    await cache.list(); // warm, empty

    await store.put(definition('wh_a'));
    expect((await cache.list()).map((d) => d.id)).toEqual(['wh_a']);

    await store.put(definition('wh_a', 2, ['U']), 1);
    expect((await cache.list())[0]?.events).toEqual(['U']);

    await store.delete('wh_a');
    expect(await cache.list()).toEqual([]);
  });

  it('reuses the set while the revision is unchanged', async () => {
    const store = new Counting();
    await store.put(definition('wh_a'));
    const cache = new CachedWebhookStore(store, HOUR_MS);

    for (let i = 0; i < 10; i++) await cache.list();

    expect(store.lists).toBe(1);
  });

  it('with TTL 0 lists every time', async () => {
    const store = new Counting();
    const cache = new CachedWebhookStore(store, 0);
    await cache.list();
    await cache.list();
    expect(store.lists).toBe(2);
  });

  it('get() with minVersion reads again when the cached copy is older', async () => {
    const store = new Counting();
    await store.put(definition('wh_a', 1));
    const cache = new CachedWebhookStore(store, HOUR_MS);
    expect((await cache.get('wh_a'))?.version).toBe(1);
    await store.put(definition('wh_a', 2), 1);

    expect((await cache.get('wh_a', { minVersion: 1 }))?.version).toBe(1);
    expect(store.gets).toBe(1);
    expect((await cache.get('wh_a', { minVersion: 2 }))?.version).toBe(2);
    expect(store.gets).toBe(2);
  });

  it('get() with minVersion reads again when the cache remembers the webhook as missing', async () => {
    const store = new Counting();
    const cache = new CachedWebhookStore(store, HOUR_MS);
    expect(await cache.get('wh_new')).toBeUndefined();
    await store.put(definition('wh_new', 1));

    expect((await cache.get('wh_new', { minVersion: 1 }))?.id).toBe('wh_new');
  });

  it('get() without minVersion reuses its copy while the revision is unchanged, and reads again after any write', async () => {
    const store = new Counting();
    await store.put(definition('wh_a', 1));
    const cache = new CachedWebhookStore(store, HOUR_MS);
    expect((await cache.get('wh_a'))?.version).toBe(1);
    expect((await cache.get('wh_a'))?.version).toBe(1);
    expect(store.gets).toBe(1);

    await store.put(definition('wh_a', 2, ['U']), 1);
    expect(await cache.get('wh_a')).toMatchObject({ version: 2, events: ['U'] });
    expect(store.gets).toBe(2);

    await store.delete('wh_a');
    expect(await cache.get('wh_a')).toBeUndefined();
  });

  it('a put, disable or delete through the cache is seen by its next read, minVersion reads included', async () => {
    const store = new Counting();
    const cache = new CachedWebhookStore(store, HOUR_MS);
    await cache.put(definition('wh_a', 1));
    expect((await cache.get('wh_a', { minVersion: 1 }))?.version).toBe(1);

    await cache.put(definition('wh_a', 2, ['U']), 1);
    expect(await cache.get('wh_a', { minVersion: 1 })).toMatchObject({ version: 2, events: ['U'] });

    await cache.disable('wh_a', 2, at.toISOString());
    expect((await cache.get('wh_a', { minVersion: 1 }))?.enabled).toBe(false);

    await cache.delete('wh_a');
    expect(await cache.get('wh_a', { minVersion: 1 })).toBeUndefined();
  });

  it('reuses a set and a definition for less than the TTL, and reads both again once it has passed', async () => {
    const store = new Counting();
    await store.put(definition('wh_a'));
    let now = at.getTime();
    const cache = new CachedWebhookStore(store, 30_000, { now: () => new Date(now) });
    await cache.list();
    await cache.get('wh_a');
    now += 29_999;
    await cache.list();
    await cache.get('wh_a');
    expect([store.lists, store.gets]).toEqual([1, 1]);
    now += 1;
    await cache.list();
    await cache.get('wh_a');
    expect([store.lists, store.gets]).toEqual([2, 2]);
  });

  it('remembers a webhook that does not exist while the revision is unchanged', async () => {
    const store = new Counting();
    const cache = new CachedWebhookStore(store, HOUR_MS);
    expect(await cache.get('wh_none')).toBeUndefined();
    expect(await cache.get('wh_none')).toBeUndefined();
    expect(store.gets).toBe(1);
  });
});
