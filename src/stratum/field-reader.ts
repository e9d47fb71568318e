import { toDifficulty, type Difficulty, type U32 } from '../work/types.js';
import { describeValue } from './describe-value.js';
import { JsonRpcErrorCode, StratumParseError } from './errors.js';
import { decodeHex, decodeU32Hex, type HexLength } from './hex.js';
import type { JsonRpcId } from './messages.js';

/** A JSON object's own property; never one inherited from Object.prototype (`constructor`, `__proto__`). */
export function ownProperty(record: object, key: string): unknown {
  return Object.hasOwn(record, key) ? (record as Readonly<Record<string, unknown>>)[key] : undefined;
}

export function isJsonObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads one untrusted value as a typed one, or throws a StratumParseError whose message starts
 * with the label (e.g. `mining.submit: param 3 (ntime)`) and says what was expected and what came.
 * The label is built only on failure: valid shares are the hot path.
 */
export class FieldReader {
  constructor(
    private readonly id: JsonRpcId,
    private readonly label: string | (() => string),
    private readonly code: JsonRpcErrorCode = JsonRpcErrorCode.invalidParams,
  ) {}

  fail(problem: string): StratumParseError {
    return new StratumParseError(this.id, this.code, `${this.labelText()} ${problem}`);
  }

  /** A reader for an element inside this value, e.g. one merkle branch. */
  entry(name: string): FieldReader {
    return new FieldReader(this.id, () => `${this.labelText()} ${name}`, this.code);
  }

  private labelText(): string {
    return typeof this.label === 'string' ? this.label : this.label();
  }

  string(value: unknown): string {
    if (typeof value !== 'string') throw this.fail(`must be a string, got ${describeValue(value)}`);
    return value;
  }

  nonEmptyString(value: unknown): string {
    const text = this.string(value);
    if (text.length === 0) throw this.fail('must not be empty');
    return text;
  }

  /** Absent and null both mean "not given"; anything else must pass `read`. */
  optional<T>(value: unknown, read: (value: unknown) => T): T | undefined {
    return value === undefined || value === null ? undefined : read(value);
  }

  optionalString(value: unknown): string | undefined {
    return this.optional(value, (given) => this.string(given));
  }

  hex(value: unknown, length: HexLength): Uint8Array {
    if (typeof value !== 'string') throw this.fail(`must be a hex string, got ${describeValue(value)}`);
    const decoded = decodeHex(value, length);
    if (!decoded.ok) throw this.fail(decoded.problem);
    return decoded.bytes;
  }

  u32Hex(value: unknown): U32 {
    if (typeof value !== 'string')
      throw this.fail(`must be a string of 8 hex characters, got ${describeValue(value)}`);
    const decoded = decodeU32Hex(value);
    if (!decoded.ok) throw this.fail(decoded.problem);
    return decoded.value;
  }

  optionalU32Hex(value: unknown): U32 | undefined {
    return this.optional(value, (given) => this.u32Hex(given));
  }

  integer(value: unknown, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw this.fail(`must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
    }
    return value;
  }

  /** An integer sent either as a JSON number or as a decimal string (`"3333"`), as some pools do. */
  integerOrNumericString(value: unknown, min: number, max: number): number {
    const number = typeof value === 'string' && /^[0-9]{1,10}$/.test(value) ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
      throw this.fail(`must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
    }
    return number;
  }

  difficulty(value: unknown): Difficulty {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw this.fail(`must be a positive number, got ${describeValue(value)}`);
    }
    return toDifficulty(value);
  }

  boolean(value: unknown): boolean {
    if (typeof value !== 'boolean') throw this.fail(`must be true or false, got ${describeValue(value)}`);
    return value;
  }

  array(value: unknown): readonly unknown[] {
    if (!Array.isArray(value)) throw this.fail(`must be an array, got ${describeValue(value)}`);
    return value;
  }

  object(value: unknown): Readonly<Record<string, unknown>> {
    if (!isJsonObject(value)) throw this.fail(`must be an object, got ${describeValue(value)}`);
    return value;
  }
}

/** A method's parameter list, prepared once per method rather than once per message. */
export interface ParamSignature {
  readonly method: string;
  readonly names: readonly string[];
  readonly min: number;
  readonly max: number;
  /** As shown to operators, e.g. `[worker, job_id, extranonce2, ntime, nonce, version_bits?]`. */
  readonly text: string;
}

/**
 * `names` lists the parameters in order, a trailing `?` marking optional ones: at most
 * `names.length` params are accepted and at least as many as come before the first `?`.
 */
export function paramSignature(method: string, names: readonly string[]): ParamSignature {
  const firstOptional = names.findIndex((name) => name.endsWith('?'));
  return {
    method,
    names: names.map((name) => name.replace(/\?$/, '')),
    min: firstOptional === -1 ? names.length : firstOptional,
    max: names.length,
    text: `[${names.join(', ')}]`,
  };
}

/**
 * The params of one request, checked for count up front; each accessor names the parameter by
 * position and by its name in the method's signature when it rejects a value.
 */
export class ParamList {
  private constructor(
    private readonly signature: ParamSignature,
    private readonly id: JsonRpcId,
    private readonly values: readonly unknown[],
  ) {}

  /** Absent or null params count as an empty list. */
  static of(signature: ParamSignature, id: JsonRpcId, params: unknown): ParamList {
    const values = params === undefined || params === null ? [] : params;
    const { method, min, max, text } = signature;
    if (!Array.isArray(values)) {
      throw new StratumParseError(
        id,
        JsonRpcErrorCode.invalidParams,
        `${method}: params must be an array ${text}, got ${describeValue(values)}`,
      );
    }
    if (values.length < min || values.length > max) {
      const expected = min === max ? `${min}` : `${min} to ${max}`;
      throw new StratumParseError(
        id,
        JsonRpcErrorCode.invalidParams,
        `${method}: expected ${expected} params ${text}, got ${values.length}`,
      );
    }
    return new ParamList(signature, id, values);
  }

  get length(): number {
    return this.values.length;
  }

  value(index: number): unknown {
    return this.values[index];
  }

  /** `name` overrides the signature's, e.g. for a key inside an object param. */
  field(index: number, name?: string): FieldReader {
    const { method, names } = this.signature;
    return new FieldReader(this.id, () => `${method}: param ${index} (${name ?? names[index] ?? 'unnamed'})`);
  }

  string(index: number): string {
    return this.field(index).string(this.values[index]);
  }

  nonEmptyString(index: number): string {
    return this.field(index).nonEmptyString(this.values[index]);
  }

  optionalString(index: number): string | undefined {
    return this.field(index).optionalString(this.values[index]);
  }

  hex(index: number, length: HexLength): Uint8Array {
    return this.field(index).hex(this.values[index], length);
  }

  u32Hex(index: number): U32 {
    return this.field(index).u32Hex(this.values[index]);
  }

  optionalU32Hex(index: number): U32 | undefined {
    return this.field(index).optionalU32Hex(this.values[index]);
  }

  integer(index: number, min: number, max: number): number {
    return this.field(index).integer(this.values[index], min, max);
  }

  difficulty(index: number): Difficulty {
    return this.field(index).difficulty(this.values[index]);
  }

  boolean(index: number): boolean {
    return this.field(index).boolean(this.values[index]);
  }

  array(index: number): readonly unknown[] {
    return this.field(index).array(this.values[index]);
  }
}
