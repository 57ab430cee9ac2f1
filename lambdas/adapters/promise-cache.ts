/**
 * A bounded cache of promises by key, for what an adapter loads once per container: callers at
 * the same time share one load, a rejected load is forgotten (the next call loads again), and
 * beyond `capacity` entries the one stored first goes.
 */
export class PromiseCache<V> {
  private readonly entries = new Map<string, Promise<V>>();

  constructor(private readonly capacity: number) {}

  /** The cached promise for `key`, else `load()` cached. */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const cached = this.entries.get(key);
    if (cached) return cached;
    const loaded = load();
    this.set(key, loaded);
    return loaded;
  }

  /** Caches `value` for `key`; forgotten if it rejects. */
  set(key: string, value: Promise<V>): void {
    this.entries.delete(key);
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, value);
    value.catch(() => {
      if (this.entries.get(key) === value) this.entries.delete(key);
    });
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}
