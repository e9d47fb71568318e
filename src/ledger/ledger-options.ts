/**
 * A backend's numeric options with their defaults filled in, each checked to be a positive
 * integer (sizes, counts and timeouts alike), so a typo fails at open and not at the first commit.
 */
export function withDefaults<T extends { [K in keyof T]: number }>(options: Partial<T>, defaults: T): T {
  const settings = { ...defaults };
  for (const name of Object.keys(defaults) as (keyof T & string)[]) {
    const value = options[name] ?? defaults[name];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`options.${name} must be a positive integer, got ${String(value)}`);
    }
    settings[name] = value;
  }
  return settings;
}
