/**
 * One instance for every equal piece of a large, read-only structure. A config read in a worker thread arrives
 * as a structured clone: every check has its own copy of each string ("GET", "http", its name twice) and of each
 * sub-object that is the same for most checks (the default tls settings, `headers: {}`, `expect.status`,
 * `labels: {}`). Ten thousand checks kept 9.6 MiB of them for the service's whole life.
 *
 * Shared sub-objects are frozen, so code that wrongly writes to a check's config fails loudly instead of
 * changing every check that shares the piece.
 */

import { setOwn } from './object.js';

type Table = { strings: Map<string, string>; pieces: Map<string, unknown> };

function isPlain(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with its strings and its equal plain sub-objects and arrays shared. Returns the piece to keep and,
 * when it is plain data through and through, its key (its JSON); objects of other classes (a RegExp, a Map) are
 * kept as they are, and so is anything holding one.
 */
function share(value: unknown, table: Table, top: boolean): { value: unknown; key?: string } {
  if (typeof value === 'string') {
    let known = table.strings.get(value);
    if (known === undefined) table.strings.set(value, (known = value));
    return { value: known, key: JSON.stringify(value) };
  }
  if (typeof value === 'number') return { value, key: Object.is(value, -0) ? '-0' : String(value) };
  if (typeof value === 'boolean' || value === null || value === undefined) return { value, key: String(value) };
  if (typeof value !== 'object') return { value };
  if (!Array.isArray(value) && !isPlain(value)) return { value };
  const record = value as Record<string, unknown>;
  let plain = true;
  const parts: string[] = [];
  for (const name of Object.keys(record)) {
    const shared = share(record[name], table, false);
    setOwn(record, name, shared.value);
    if (shared.key === undefined) plain = false;
    // An item itself is never shared: its key would only be thrown away.
    else if (!top) parts.push(Array.isArray(value) ? shared.key : `${JSON.stringify(name)}:${shared.key}`);
  }
  if (!plain || top) return { value };
  const key = Array.isArray(value) ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
  const known = table.pieces.get(key);
  if (known !== undefined) return { value: known, key };
  table.pieces.set(key, Object.freeze(value));
  return { value, key };
}

/** Each item of `items` (kept as its own object) with the strings and plain pieces equal across them shared. */
export function shareEqualParts<T extends object>(items: T[]): T[] {
  const table: Table = { strings: new Map(), pieces: new Map() };
  return items.map((item) => share(item, table, true).value as T);
}
