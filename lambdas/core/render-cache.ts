/**
 * A least-recently-used cache of parsed definitions, keyed by (definition id, version): a new
 * version of a definition evicts its previous one at once.
 */
export class VersionedLruCache<V> {
  private readonly entries = new Map<string, V>();
  /** definition id -> its cached key, so a new version evicts the old one at once. */
  private readonly keyById = new Map<string, string>();

  constructor(private readonly capacity: number) {}

  get(id: string, version: number): V | undefined {
    const key = `${id}:${version}`;
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    // Re-insert so Map order is least recently used first.
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit;
  }

  set(id: string, version: number, value: V): void {
    const key = `${id}:${version}`;
    const previous = this.keyById.get(id);
    if (previous !== undefined) this.entries.delete(previous);
    if (this.entries.size >= this.capacity) {
      // Map keeps insertion order: the first key is the least recently used.
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.keyById.delete(oldest.slice(0, oldest.lastIndexOf(':')));
    }
    this.entries.set(key, value);
    this.keyById.set(id, key);
  }
}
