// Reads a YAML configuration file into a validated value; every problem in it comes back as one Config error.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';
import type { Document as YamlDocument, YAMLError } from 'yaml';
import { PgpilotError, errorMessage } from '../base/errors.js';
import { formatIssue, validate, type AnyNode, type Infer, type Issue, type Rule, type Validated } from './schema.js';

/** A kind of configuration document: its name in messages, its schema, its rules across fields, its docs. */
export interface DocumentKind<T> {
  /** "manifest", "agent config". */
  readonly name: string;
  readonly schema: AnyNode;
  readonly rules: readonly Rule<T>[];
  /** Where the reference for this document is, for the error's hint. */
  readonly hint: string;
  /** `validate` bound to the schema, typed by it. */
  readonly validate: (value: unknown) => Validated<T>;
}

/** A document kind whose type is the one its schema infers. */
export function documentKind<N extends AnyNode>(
  kind: Omit<DocumentKind<Infer<N>>, 'schema' | 'validate'> & { schema: N },
): DocumentKind<Infer<N>> {
  return { ...kind, validate: (value) => validate(kind.schema, value) };
}

/**
 * The yaml library, loaded on first use: it costs a long-running agent about 8 MiB of resident memory, and the agent
 * configs the local runner writes are JSON (a subset of YAML), read without it.
 */
let yamlModule: typeof YamlModule | undefined;
function yaml(): typeof YamlModule {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof YamlModule;
  return yamlModule;
}

/** JSON text parsed without the yaml library; undefined when the text is not JSON (yaml then reads it). */
function parseJson(text: string): unknown {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** YAML text to a plain value, or every syntax problem as one Config error. */
function parseYaml<T>(kind: DocumentKind<T>, text: string, source: string): unknown {
  const doc = yaml().parseDocument(text);
  if (doc.errors.length > 0) throw invalid(kind, source, doc.errors.map(syntaxLine));
  return toPlain(doc, kind, source);
}

/** Parses and validates `text` (YAML, or JSON); `source` names it (a file name) in errors. */
export function parseDocument<T>(kind: DocumentKind<T>, text: string, source: string): T {
  const value = parseJson(text) ?? parseYaml(kind, text, source);
  if (value === null || value === undefined) {
    throw invalid(kind, source, [formatIssue({ path: '', problem: 'the document is empty, expected a mapping' })]);
  }
  const result = kind.validate(value);
  if (!result.ok) throw invalid(kind, source, result.issues.map(formatIssue));
  // Rules across fields read typed values, so they run once every field is valid on its own.
  const broken: Issue[] = kind.rules.flatMap((rule) => rule.check(result.value));
  if (broken.length > 0) throw invalid(kind, source, broken.map(formatIssue));
  return result.value;
}

/** Reads `file` and parses it; a missing or unreadable file is its own error. */
export async function loadDocument<T>(kind: DocumentKind<T>, file: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new PgpilotError('Config', `cannot read ${kind.name} ${file}: ${readFailure(e)}`, {
      hint: 'check the path and the permissions of the file',
      cause: e,
    });
  }
  return parseDocument(kind, text, file);
}

function toPlain<T>(doc: YamlDocument, kind: DocumentKind<T>, source: string): unknown {
  try {
    return doc.toJS();
  } catch (e) {
    // yaml refuses documents whose aliases expand too much (a "billion laughs" file).
    throw invalid(kind, source, [errorMessage(e)]);
  }
}

function invalid<T>(kind: DocumentKind<T>, source: string, lines: string[]): PgpilotError {
  return new PgpilotError('Config', `invalid ${kind.name} ${source}:\n${lines.map((l) => `  ${l}`).join('\n')}`, {
    hint: kind.hint,
  });
}

/** `line 3, column 1: <what yaml says>`, without the source excerpt yaml appends. */
function syntaxLine(error: YAMLError): string {
  const what =
    error.code === 'MULTIPLE_DOCS'
      ? 'more than one YAML document (---), the file must hold exactly one'
      : error.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
  const at = error.linePos?.[0];
  const where = at === undefined ? '' : `line ${at.line}, column ${at.col}: `;
  return `${where}YAML syntax error: ${what}`;
}

function readFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return errorMessage(e);
}
