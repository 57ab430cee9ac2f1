/**
 * Definitions cached in memory for a short time (DEFINITION_CACHE_TTL_SECONDS, default 30 s):
 * the hot paths read a definition per notification, while definitions change rarely. An edit
 * reaches a warm Lambda within the TTL; the rendered history never depends on it.
 */

import type { Clock, WebhookStore } from '../ports';
import type { WebhookDefinition } from './model';

export class CachedWebhookStore implements WebhookStore {
  private readonly byId = new Map<
    string,
    { value: WebhookDefinition | undefined; until: number }
  >();
  private all: { value: WebhookDefinition[]; until: number } | undefined;

  constructor(
    private readonly inner: WebhookStore,
    private readonly ttlMs: number,
    private readonly clock: Clock = { now: () => new Date() },
  ) {}

  async get(id: string): Promise<WebhookDefinition | undefined> {
    const now = this.clock.now().getTime();
    const hit = this.byId.get(id);
    if (hit && hit.until > now) return hit.value;
    const value = await this.inner.get(id);
    this.byId.set(id, { value, until: now + this.ttlMs });
    return value;
  }

  async list(): Promise<WebhookDefinition[]> {
    const now = this.clock.now().getTime();
    if (this.all && this.all.until > now) return this.all.value;
    const value = await this.inner.list();
    this.all = { value, until: now + this.ttlMs };
    return value;
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

  invalidate(id?: string): void {
    if (id === undefined) this.byId.clear();
    else this.byId.delete(id);
    this.all = undefined;
  }
}
