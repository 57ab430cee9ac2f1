/**
 * An object that stands for one made later (in a beforeAll): every property read, call and
 * write goes to what `current()` returns at that moment, so a describe block can name it in
 * its tests before it exists.
 */
export function lateBound<T extends object>(current: () => T): T {
  return new Proxy({} as T, {
    get(_target, key) {
      const real = current();
      const value = Reflect.get(real, key, real);
      return typeof value === 'function' ? value.bind(real) : value;
    },
    set(_target, key, value) {
      return Reflect.set(current(), key, value);
    },
  });
}
