/**
 * Definitions cached in memory (DEFINITION_CACHE_TTL_SECONDS, default 30 s): the hot paths
 * read definitions for every event and notification, while definitions change rarely.
 *
 * A saved definition is in force for the very next event (README "Webhook definitions"):
 * list() reads the definitions revision (one small item, strongly consistent: 1 read unit)
 * on every call and reuses the cached set only while the revision is unchanged. Every
 * definition write increments the revision in the same transaction, and the revision is read
 * before the set, so a set cached under revision r holds at least every write up to r.
 * The TTL still bounds how long a set is reused at all; 0 disables the cache.
 *
 * get() serves one definition. With `minVersion` (the version ingestion matched the event
 * against) a cached copy older than that is read again, so delivery never renders an event
 * with a definition older than the one that matched it; no other read is made. Without it
 * (retries, resends, releases of parked notifications: what a later save must reach, e.g. a
 * rotated signing key, a new password, a disable or a delete) the revision is read first, as
 * list() does, and the cached copy is reused only while the revision is the one it was read
 * under.
 */

import type { Clock, WebhookStore } from '../ports';
import type { WebhookDefinition } from './model';

export class CachedWebhookStore implements WebhookStore {
  private readonly byId = new Map<
    string,
    {
      value: WebhookDefinition | undefined;
      until: number;
      /** The revision read before the copy; undefined when none was (a minVersion read). */
      revision: number | undefined;
    }
  >();
  private all: { value: WebhookDefinition[]; revision: number; until: number } | undefined;

  constructor(
    private readonly inner: WebhookStore,
    private readonly ttlMs: number,
    private readonly clock: Clock = { now: () => new Date() },
  ) {}

  async get(
    id: string,
    options: { readonly minVersion?: number } = {},
  ): Promise<WebhookDefinition | undefined> {
    const now = this.clock.now().getTime();
    const { minVersion } = options;
    if (minVersion !== undefined) {
      const hit = this.byId.get(id);
      if (hit && hit.until > now && (hit.value?.version ?? 0) >= minVersion) return hit.value;
      return this.read(id, now, undefined);
    }
    if (this.ttlMs <= 0) return this.inner.get(id);
    // The revision first, then the definition: a copy read under revision r holds every write up to r.
    const revision = await this.inner.revision();
    const hit = this.byId.get(id);
    if (hit && hit.until > now && hit.revision === revision) return hit.value;
    return this.read(id, now, revision);
  }

  private async read(
    id: string,
    now: number,
    revision: number | undefined,
  ): Promise<WebhookDefinition | undefined> {
    const value = await this.inner.get(id);
    if (this.ttlMs > 0) this.byId.set(id, { value, until: now + this.ttlMs, revision });
    return value;
  }

  async list(): Promise<WebhookDefinition[]> {
    if (this.ttlMs <= 0) return this.inner.list();
    const now = this.clock.now().getTime();
    // The revision first, then the set: the set is at least as new as the revision read.
    const revision = await this.inner.revision();
    const cached = this.all;
    if (cached && cached.revision === revision && cached.until > now) return cached.value;
    const value = await this.inner.list();
    if (!this.all || this.all.revision <= revision)
      this.all = { value, revision, until: now + this.ttlMs };
    return value;
  }

  revision(): Promise<number> {
    return this.inner.revision();
  }

  async put(definition: WebhookDefinition, expectedVersion?: number): Promise<void> {
    await this.inner.put(definition, expectedVersion);
    this.invalidate(definition.id);
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.inner.delete(id);
    this.invalidate(id);
    return deleted;
  }

  async disable(id: string, expectedVersion: number, at: string): Promise<void> {
    await this.inner.disable(id, expectedVersion, at);
    this.invalidate(id);
  }

  invalidate(id?: string): void {
    if (id === undefined) this.byId.clear();
    else this.byId.delete(id);
    this.all = undefined;
  }
}
