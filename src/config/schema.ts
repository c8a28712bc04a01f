// A small schema language for configuration files: one definition gives validation, defaults, types and docs.

/** What every node may carry: a sentence for the reference docs and how an absent field gets its value. */
interface Common {
  readonly description?: string;
  /** Used when the field is absent or null. A field with neither default nor derive is required. */
  readonly default?: unknown;
  /** A default computed from the sibling fields once they are valid, e.g. "same as listen". */
  readonly derive?: Derive;
}

export interface Derive {
  /** The default as the docs and the "required field missing" message state it. */
  readonly doc: string;
  /** The value, from the validated siblings; undefined when no default applies (the field is then required). */
  readonly from: (siblings: Readonly<Record<string, unknown>>) => unknown;
}

export interface Pattern {
  readonly regex: RegExp;
  /** The pattern in words, shown beside the regex in errors and docs. */
  readonly doc: string;
  /** Show only the words: for a regex too long to help a reader. */
  readonly terse?: boolean;
}

export interface StringNode extends Common {
  readonly kind: 'string';
  readonly pattern?: Pattern;
  readonly maxLength?: number;
}

/** Integers and other numbers share one node; `integer` tells them apart. */
export interface NumberNode extends Common {
  readonly kind: 'number';
  readonly integer: boolean;
  readonly min?: number;
  readonly max?: number;
}

export interface BooleanNode extends Common {
  readonly kind: 'boolean';
}

/** One of a few string literals (a literal is an enum of one). */
export interface EnumNode<V extends string = string> extends Common {
  readonly kind: 'enum';
  readonly values: readonly V[];
}

export interface ArrayNode<I extends AnyNode = AnyNode> extends Common {
  readonly kind: 'array';
  readonly items: I;
  readonly minItems?: number;
  readonly maxItems?: number;
}

export type Fields = { readonly [key: string]: AnyNode };

/** A mapping with known fields; any other key is an error. */
export interface ObjectNode<F extends Fields = Fields> extends Common {
  readonly kind: 'object';
  readonly fields: F;
}

/** A mapping with free keys (e.g. PostgreSQL parameters), every value of one node. */
export interface MapNode<V extends AnyNode = AnyNode> extends Common {
  readonly kind: 'map';
  readonly values: V;
  readonly keyPattern?: Pattern;
}

export type ScalarNode = StringNode | NumberNode | BooleanNode | EnumNode;

/** The first option the value fits wins. */
export interface UnionNode<O extends readonly ScalarNode[] = readonly ScalarNode[]> extends Common {
  readonly kind: 'union';
  readonly options: O;
}

export type AnyNode = ScalarNode | ArrayNode | ObjectNode | MapNode | UnionNode;

/** The type of a value once the node has validated it and applied defaults (unknown for a node of unknown shape). */
export type Infer<N> = AnyNode extends N
  ? unknown
  : N extends { kind: 'string' }
    ? string
    : N extends { kind: 'number' }
      ? number
      : N extends { kind: 'boolean' }
        ? boolean
        : N extends { kind: 'enum'; values: readonly (infer V)[] }
          ? V
          : N extends { kind: 'array'; items: infer I }
            ? Infer<I>[]
            : N extends { kind: 'map'; values: infer V }
              ? Record<string, Infer<V>>
              : N extends { kind: 'union'; options: readonly (infer O)[] }
                ? Infer<O>
                : N extends { kind: 'object'; fields: infer F }
                  ? { -readonly [K in keyof F]: Infer<F[K]> }
                  : never;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Ties a schema to a hand-written type, `schemaFor<Manifest>()(object(...))`: the build breaks when they drift. */
export function schemaFor<T>() {
  return <N extends AnyNode>(
    node: N & (Same<Infer<N>, T> extends true ? unknown : { 'schema and type differ': { schema: Infer<N>; type: T } }),
  ): N => node;
}

// ---- builders ----

interface Docs {
  readonly description?: string;
}
type Opts<T> = Docs & { readonly default?: T; readonly derive?: Derive };

export function string(opts: Opts<string> & { pattern?: Pattern; maxLength?: number } = {}): StringNode {
  return { kind: 'string', ...opts };
}

export function integer(opts: Opts<number> & { min?: number; max?: number } = {}): NumberNode {
  return { kind: 'number', integer: true, ...opts };
}

export function number(opts: Opts<number> & { min?: number; max?: number } = {}): NumberNode {
  return { kind: 'number', integer: false, ...opts };
}

export function boolean(opts: Opts<boolean> = {}): BooleanNode {
  return { kind: 'boolean', ...opts };
}

export function enumOf<const V extends string>(values: readonly V[], opts: Opts<V> = {}): EnumNode<V> {
  return { kind: 'enum', values, ...opts };
}

export function literal<const V extends string>(value: V, opts: Docs = {}): EnumNode<V> {
  return enumOf([value], opts);
}

export function array<I extends AnyNode>(
  items: I,
  opts: Opts<NoInfer<Infer<I>>[]> & { minItems?: number; maxItems?: number } = {},
): ArrayNode<I> {
  return { kind: 'array', items, ...opts };
}

/** An object whose fields all have defaults may itself be absent: it then gets those defaults. */
export function object<F extends Fields>(fields: F, opts: Docs = {}): ObjectNode<F> {
  return { kind: 'object', fields, ...opts };
}

export function map<V extends AnyNode>(
  values: V,
  opts: Opts<Record<string, NoInfer<Infer<V>>>> & { keyPattern?: Pattern } = {},
): MapNode<V> {
  return { kind: 'map', values, ...opts };
}

export function union<const O extends readonly ScalarNode[]>(
  options: O,
  opts: Opts<NoInfer<Infer<O[number]>>> = {},
): UnionNode<O> {
  return { kind: 'union', options, ...opts };
}

// ---- validation ----

/** One problem found in a document: where, and what. */
export interface Issue {
  readonly path: string;
  readonly problem: string;
}

/** A rule across fields: its sentence for the docs, and its check. */
export interface Rule<T> {
  readonly doc: string;
  readonly check: (value: T) => Issue[];
}

export type Validated<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

/** Checks `value` against `node`, collecting every issue; on success the value has all defaults applied. */
export function validate<N extends AnyNode>(node: N, value: unknown, path = ''): Validated<Infer<N>> {
  const issues: Issue[] = [];
  const result = check(node, value, path, issues);
  // The walk built `result` field by field from `node`, so it has the inferred shape when no issue was found.
  return issues.length === 0 ? { ok: true, value: result as Infer<N> } : { ok: false, issues };
}

/** `<path>: <problem>`, the root shown as "(document)". */
export function formatIssue(issue: Issue): string {
  return `${issue.path === '' ? '(document)' : issue.path}: ${issue.problem}`;
}

/** An issue whose message ends with the offending value: `<problem>, got <value>`. */
export function got(path: string, problem: string, value: unknown): Issue {
  return { path, problem: `${problem}, got ${show(value)}` };
}

/** The path of a field or map key below `path`: `a.b`, or `a["x.y"]` for keys that are not plain names. */
export function childPath(path: string, key: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** Whether an absent field of this node gets a value without the user writing one. */
export function isOptional(node: AnyNode): boolean {
  return node.derive !== undefined || implicitDefault(node) !== undefined;
}

/** "an integer" or "a number", for messages. */
function numberKind(node: NumberNode): string {
  return node.integer ? 'an integer' : 'a number';
}

/** The value an absent field starts from, before validation fills nested defaults. */
function implicitDefault(node: AnyNode): unknown {
  if (node.default !== undefined) return node.default;
  if (node.kind === 'object' && Object.values(node.fields).every(isOptional)) return {};
  return undefined;
}

function check(node: AnyNode, value: unknown, path: string, issues: Issue[]): unknown {
  switch (node.kind) {
    case 'string':
      return checkString(node, value, path, issues);
    case 'number':
      return checkNumber(node, value, path, issues);
    case 'boolean':
      return typeof value === 'boolean' ? value : reject(issues, got(path, 'must be true or false', value));
    case 'enum':
      return checkEnum(node, value, path, issues);
    case 'array':
      return checkArray(node, value, path, issues);
    case 'object':
      return checkObject(node, value, path, issues);
    case 'map':
      return checkMap(node, value, path, issues);
    case 'union':
      return checkUnion(node, value, path, issues);
  }
}

function reject(issues: Issue[], issue: Issue): undefined {
  issues.push(issue);
  return undefined;
}

function checkString(node: StringNode, value: unknown, path: string, issues: Issue[]): unknown {
  if (typeof value !== 'string') return reject(issues, got(path, 'must be a string', value));
  if (node.pattern !== undefined && !fullMatch(node.pattern.regex, value)) {
    return reject(issues, got(path, `must ${describePattern(node.pattern)}`, value));
  }
  if (node.maxLength !== undefined && value.length > node.maxLength) {
    return reject(issues, got(path, `must be at most ${node.maxLength} characters long`, value));
  }
  return value;
}

/** `match regex (what it means)`, or `be what it means` for a terse pattern: what a value must do. */
export function describePattern(pattern: Pattern, quote = (regex: string): string => regex): string {
  return pattern.terse === true ? `be ${pattern.doc}` : `match ${quote(pattern.regex.source)} (${pattern.doc})`;
}

function fullMatch(regex: RegExp, text: string): boolean {
  return new RegExp(`^(?:${regex.source})$`, regex.flags).test(text);
}

function checkNumber(node: NumberNode, value: unknown, path: string, issues: Issue[]): unknown {
  const fits = typeof value === 'number' && (node.integer ? Number.isSafeInteger(value) : Number.isFinite(value));
  if (!fits) return reject(issues, got(path, `must be ${numberKind(node)}`, value));
  const range = rangeProblem(node, value);
  return range === undefined ? value : reject(issues, got(path, range, value));
}

/** The range a number node allows, in words: "between 1 and 9", "at least 2"; undefined when unbounded. */
export function describeRange(node: NumberNode): string | undefined {
  if (node.min !== undefined && node.max !== undefined) return `between ${node.min} and ${node.max}`;
  if (node.min !== undefined) return `at least ${node.min}`;
  if (node.max !== undefined) return `at most ${node.max}`;
  return undefined;
}

function rangeProblem(node: NumberNode, value: number): string | undefined {
  const below = node.min !== undefined && value < node.min;
  const above = node.max !== undefined && value > node.max;
  return below || above ? `must be ${describeRange(node)}` : undefined;
}

function checkEnum(node: EnumNode, value: unknown, path: string, issues: Issue[]): unknown {
  if (typeof value === 'string' && node.values.includes(value)) return value;
  return reject(issues, got(path, `must be ${describeEnum(node)}`, value));
}

/** `"a"` for a literal, `one of "a", "b"` for an enum. */
function describeEnum(node: EnumNode): string {
  const quoted = node.values.map((v) => JSON.stringify(v));
  return quoted.length === 1 ? String(quoted[0]) : `one of ${quoted.join(', ')}`;
}

function checkArray(node: ArrayNode, value: unknown, path: string, issues: Issue[]): unknown {
  if (!Array.isArray(value)) return reject(issues, got(path, 'must be a list', value));
  const items: unknown[] = value.map((item, i) => check(node.items, item, `${path}[${i}]`, issues));
  if (node.minItems !== undefined && items.length < node.minItems) {
    return reject(issues, got(path, `must have at least ${count(node.minItems, 'item')}`, items.length));
  }
  if (node.maxItems !== undefined && items.length > node.maxItems) {
    return reject(issues, got(path, `must have at most ${count(node.maxItems, 'item')}`, items.length));
  }
  return items;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkObject(node: ObjectNode, value: unknown, path: string, issues: Issue[]): unknown {
  if (!isMapping(value)) return reject(issues, got(path, 'must be a mapping', value));
  const before = issues.length;
  const known = Object.keys(node.fields);
  for (const key of Object.keys(value).filter((k) => !known.includes(k))) {
    issues.push({ path: childPath(path, key), problem: unknownField(key, known) });
  }
  const out: Record<string, unknown> = {};
  const derived: [string, AnyNode, Derive][] = [];
  for (const [key, field] of Object.entries(node.fields)) {
    const start = startValue(field, value[key]);
    if (start === undefined && field.derive !== undefined) derived.push([key, field, field.derive]);
    else if (start === undefined) issues.push({ path: childPath(path, key), problem: 'required field missing' });
    else out[key] = check(field, start, childPath(path, key), issues);
  }
  // Derived defaults read their siblings, so they wait until those are valid.
  if (issues.length > before) return undefined;
  for (const [key, field, derive] of derived) {
    const start = derive.from(out);
    const problem = `required field missing (default: ${derive.doc})`;
    if (start === undefined) issues.push({ path: childPath(path, key), problem });
    else out[key] = check(field, start, childPath(path, key), issues);
  }
  return out;
}

/** What a field is validated from: the given value, or its default when absent (or null, if it has one). */
function startValue(field: AnyNode, given: unknown): unknown {
  const absent = given === undefined || (given === null && isOptional(field));
  return absent ? implicitDefault(field) : given;
}

function unknownField(key: string, known: readonly string[]): string {
  const near = closest(key, known);
  if (near !== undefined) return `unknown field (did you mean ${JSON.stringify(near)}?)`;
  return `unknown field, expected one of: ${known.join(', ')}`;
}

/** The known name nearest to a misspelling (case, `_` and `-` ignored first, then edit distance), if near enough. */
export function closest(word: string, known: readonly string[]): string | undefined {
  const loose = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const same = known.find((k) => loose(k) === loose(word));
  if (same !== undefined) return same;
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(word.toLowerCase(), name.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] ?? 0) + 1);
      current.push(d);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function checkMap(node: MapNode, value: unknown, path: string, issues: Issue[]): unknown {
  if (!isMapping(value)) return reject(issues, got(path, 'must be a mapping', value));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const keyPath = childPath(path, key);
    if (node.keyPattern !== undefined && !fullMatch(node.keyPattern.regex, key)) {
      issues.push({ path: keyPath, problem: `the name must ${describePattern(node.keyPattern)}` });
    }
    out[key] = check(node.values, item, keyPath, issues);
  }
  return out;
}

function checkUnion(node: UnionNode, value: unknown, path: string, issues: Issue[]): unknown {
  for (const option of node.options) {
    const result = validate(option, value, path);
    if (result.ok) return result.value;
  }
  return reject(issues, got(path, `must be ${describeUnion(node)}`, value));
}

/** The options of a union in words: "a string, a number or true/false". */
function describeUnion(node: UnionNode): string {
  const names = node.options.map(scalarName);
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

function scalarName(node: ScalarNode): string {
  switch (node.kind) {
    case 'string':
      return 'a string';
    case 'number':
      return numberKind(node);
    case 'boolean':
      return 'true/false';
    case 'enum':
      return describeEnum(node);
  }
}

/** A value as messages show it: scalars as YAML would read them, collections by their kind. */
function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (isMapping(value)) return 'a mapping';
  return JSON.stringify(value);
}
