/** Small helpers for plain records built from outside data (headers, labels, parsed config). */

/**
 * `record[name] = value`, except that a key named `__proto__` (a header or label like any other) becomes an own
 * property instead of setting the record's prototype.
 */
export function setOwn<T>(record: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__')
    Object.defineProperty(record, name, { value, enumerable: true, configurable: true, writable: true });
  else record[name] = value;
}
