import { AisocError } from '../../errors.ts';

/**
 * Why a rule did not load. `invalid`: the rule breaks the Sigma specification
 * (bad YAML, a missing condition, an unknown modifier). `unsupported`: the
 * rule is valid Sigma but uses something this engine does not run (the
 * deprecated aggregation pipe `| count() > 5`, the `near` operator).
 */
export type IssueKind = 'invalid' | 'unsupported' | 'warning';

/** One finding about a rule file, located to a line so a person can fix it. */
export interface SigmaIssue {
  kind: IssueKind;
  file: string;
  /** 1-based line; absent when the finding concerns the whole file. */
  line?: number;
  /** Rule id or title, when the document got far enough to have one. */
  rule?: string;
  message: string;
}

/** Format an issue the way compilers do: `file:line: kind: message`. */
export function formatIssue(i: SigmaIssue): string {
  return `${i.file}${i.line ? `:${i.line}` : ''}: ${i.kind}: ${i.message}${i.rule ? ` [${i.rule}]` : ''}`;
}

/**
 * A rule-content error with a stable code (`AISOC_ERR_RULE_PARSE`), the
 * file and line, and whether the rule is invalid or merely unsupported.
 * Thrown inside the compiler; the loader turns it into a {@link SigmaIssue}
 * and goes on with the next rule.
 *
 * @example throw new RuleError('invalid', 'condition: unknown identifier sel2', { line: 12 });
 */
export class RuleError extends AisocError {
  readonly kind: Exclude<IssueKind, 'warning'>;
  /** Path inside the rule document (`['detection', 'sel', 'Image|endswith']`), used to find the line. */
  readonly path?: ReadonlyArray<string | number>;

  constructor(
    kind: Exclude<IssueKind, 'warning'>,
    message: string,
    options: { path?: ReadonlyArray<string | number>; line?: number; file?: string } = {},
  ) {
    super('AISOC_ERR_RULE_PARSE', message, { line: options.line, file: options.file });
    this.name = 'RuleError';
    this.kind = kind;
    this.path = options.path;
  }
}

/** Shorthand for an invalid-rule error at a document path. */
export function invalid(message: string, path?: ReadonlyArray<string | number>): RuleError {
  return new RuleError('invalid', message, path ? { path } : {});
}

/** Shorthand for an unsupported-feature error at a document path. */
export function unsupported(message: string, path?: ReadonlyArray<string | number>): RuleError {
  return new RuleError('unsupported', message, path ? { path } : {});
}

/** Several errors of one rule, reported together (lint shows each with its line). */
export class RuleErrors extends Error {
  constructor(readonly errors: RuleError[]) {
    super(errors.map((e) => e.message).join('; '));
    this.name = 'RuleErrors';
  }
}
