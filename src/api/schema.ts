/**
 * A small builder for structural OpenAPI v3 schemas that also yields the matching TypeScript type,
 * so that each CRD is written once (src/api/crds.ts) and both `deploy/crds/*.yaml` and the TS types
 * come from it.
 *
 * Why not TypeBox or zod-to-json-schema: CRD schemas must be *structural* (no `const`, no `anyOf` of
 * types, `type` on every node) and need Kubernetes extensions (`x-kubernetes-validations` with
 * readable CEL messages, `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`);
 * those libraries emit the former and know nothing of the latter.
 */

export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: JSONSchemaProps;
  enum?: readonly unknown[];
  default?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  maxProperties?: number;
  nullable?: boolean;
  'x-kubernetes-validations'?: Array<{ rule: string; message: string; reason?: string; fieldPath?: string }>;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
}

/** `Opt` = may be absent in the TS type; `Req` = listed in the schema's `required`. */
export interface Schema<T, Opt extends boolean = boolean, Req extends boolean = boolean> {
  readonly json: JSONSchemaProps;
  readonly isOptional: Opt;
  readonly isRequired: Req;
  /** phantom: never set at run time */
  readonly __type?: T;
}

export type TypeOf<S> = S extends Schema<infer T, boolean, boolean> ? T : never;

type Props = Record<string, Schema<unknown, boolean, boolean>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
export type ObjectOf<P extends Props> = Simplify<
  { [K in keyof P as P[K]['isOptional'] extends true ? never : K]: TypeOf<P[K]> } & {
    [K in keyof P as P[K]['isOptional'] extends true ? K : never]?: TypeOf<P[K]>;
  }
>;

type Common = Pick<JSONSchemaProps, 'description' | 'x-kubernetes-validations'>;

function make<T>(json: JSONSchemaProps): Schema<T, false, true> {
  return { json, isOptional: false, isRequired: true };
}

/** Absent allowed, no default. */
export function optional<T>(s: Schema<T, boolean, boolean>): Schema<T, true, false> {
  return { json: s.json, isOptional: true, isRequired: false };
}

/** Absent on input, filled by the API server: present in the TS type, not in `required`. */
export function withDefault<T>(s: Schema<T, boolean, boolean>, value: T): Schema<T, false, false> {
  return { json: { ...s.json, default: value }, isOptional: false, isRequired: false };
}

export function string(opts: Common & Pick<JSONSchemaProps, 'pattern' | 'format' | 'minLength' | 'maxLength'> = {}) {
  return make<string>({ type: 'string', ...opts });
}

export function stringEnum<const E extends readonly string[]>(values: E, opts: Common & { field?: string } = {}) {
  const { field, ...rest } = opts;
  if (field) {
    // A CEL rule instead of `enum`: an enum failure makes the API server skip every CEL rule of
    // the object, so a person would see only one of their mistakes at a time.
    const rule = { rule: `self in [${values.map((v) => `'${v}'`).join(', ')}]`, message: `${field} must be one of ${values.join(', ')}` };
    return make<E[number]>({ type: 'string', maxLength: 64, ...rest, 'x-kubernetes-validations': [rule, ...(rest['x-kubernetes-validations'] ?? [])] });
  }
  return make<E[number]>({ type: 'string', enum: values, ...rest });
}

export function boolean(opts: Common = {}) {
  return make<boolean>({ type: 'boolean', ...opts });
}

export function integer(opts: Common & Pick<JSONSchemaProps, 'minimum' | 'maximum' | 'format'> = {}) {
  return make<number>({ type: 'integer', ...opts });
}

/**
 * A Kubernetes resource.Quantity ("2", "500m", "4Gi"). `nonNegative`: no minus sign in the
 * string form (nor in a negative exponent's mantissa) and minimum 0 in the integer form, for amounts
 * such as capacity that Kubernetes refuses below zero.
 */
export function quantity(opts: Common & Pick<JSONSchemaProps, 'maxLength'> & { nonNegative?: boolean } = {}) {
  const { nonNegative, ...rest } = opts;
  return make<string | number>({
    'x-kubernetes-int-or-string': true,
    pattern: nonNegative
      ? '^\\+?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$'
      : '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
    ...(nonNegative ? { minimum: 0 } : {}),
    ...rest,
  });
}

export function dateTime(opts: Common = {}) {
  return make<string>({ type: 'string', format: 'date-time', ...opts });
}

export function array<T>(items: Schema<T>, opts: Common & Pick<JSONSchemaProps, 'maxItems' | 'x-kubernetes-list-type' | 'x-kubernetes-list-map-keys'> = {}) {
  return make<T[]>({ type: 'array', items: items.json, ...opts });
}

export function stringMap(opts: Common & Pick<JSONSchemaProps, 'maxProperties'> = {}) {
  return make<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' }, ...opts });
}

export function object<P extends Props>(props: P, opts: Common = {}) {
  const properties: Record<string, JSONSchemaProps> = {};
  const required: string[] = [];
  for (const [k, v] of Object.entries(props)) {
    properties[k] = v.json;
    if (v.isRequired) required.push(k);
  }
  return make<ObjectOf<P>>({ type: 'object', properties, ...(required.length ? { required } : {}), ...opts });
}

/**
 * The object the API server's structural defaulting would produce from `{}`: every property with a
 * `default`, recursively (an object default of `{}` is expanded with its own properties' defaults).
 */
export function defaultsOf(schema: JSONSchemaProps): unknown {
  if (schema.type === 'object' && schema.properties) {
    const out: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(schema.properties)) {
      if (p.default === undefined) continue;
      out[k] = p.type === 'object' && p.properties ? { ...(defaultsOf(p) as object), ...(p.default as object) } : structuredClone(p.default);
    }
    return out;
  }
  return structuredClone(schema.default);
}

/** Fills the absent fields of `value` with the schema's defaults, recursively (objects only). */
export function withDefaults<T>(schema: JSONSchemaProps, value: unknown): T {
  if (schema.type !== 'object' || !schema.properties) return (value ?? structuredClone(schema.default)) as T;
  const v = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...v };
  for (const [k, p] of Object.entries(schema.properties)) {
    if (out[k] === undefined && p.default === undefined) continue;
    out[k] = p.type === 'object' && p.properties ? withDefaults(p, out[k] ?? p.default) : (out[k] ?? structuredClone(p.default));
  }
  return out as T;
}
