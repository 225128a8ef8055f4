// cache.js -- recent render results held in memory, least recently used first out.

export class MemoryCache {
  constructor({ maxEntries = 48, maxBytes = 192 * 1024 * 1024 } = {}) {
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
    this.map = new Map();   // key -> value; Map keeps insertion order, oldest first
    this.bytes = 0;
  }

  // Entries are {bytes: Uint8Array, ...}; get() marks the entry as recently used.
  get(key) {
    const hit = this.map.get(key);
    if (!hit) return null;
    this.map.delete(key);
    this.map.set(key, hit);
    return hit;
  }

  set(key, value) {
    if (value.bytes.length > this.maxBytes) return;
    this.delete(key);
    this.map.set(key, value);
    this.bytes += value.bytes.length;
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      this.delete(this.map.keys().next().value);
    }
  }

  delete(key) {
    const old = this.map.get(key);
    if (!old) return;
    this.map.delete(key);
    this.bytes -= old.bytes.length;
  }

  clear() { this.map.clear(); this.bytes = 0; }
}

// The cache key of a render request: source, parameters (in name order) and format.
export function requestKey(source, parameters, format) {
  const names = Object.keys(parameters).sort();
  return JSON.stringify([source, names.map((n) => [n, parameters[n]]), format]);
}
