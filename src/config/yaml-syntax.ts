/** YAML syntax errors as config problems, with the fix for the most common one: an unquoted ${…} inside { } or [ ]. */
import type { YAMLError } from 'yaml';

const REFERENCE_TEXT = /\$\{[^}\n]*\}/g;

/** The ${…} reference that `offset` falls on, when it stands inside a { } or [ ] opened on the same line. */
function referenceInFlow(text: string, offset: number): { start: number; text: string } | undefined {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const lineEnd = text.indexOf('\n', offset);
  const line = text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  for (const m of line.matchAll(REFERENCE_TEXT)) {
    const start = lineStart + m.index;
    if (offset < start || offset > start + m[0].length) continue;
    const before = line.slice(0, m.index).replace(REFERENCE_TEXT, '');
    const open = (before.match(/[{[]/g)?.length ?? 0) - (before.match(/[}\]]/g)?.length ?? 0);
    return open > 0 ? { start, text: m[0] } : undefined;
  }
  return undefined;
}

/**
 * YAML's syntax errors, one per problem. An unquoted ${…} inside { } or [ ] is the usual cause of a burst of
 * them ("{" opens a map there): that one says to quote it, and the errors it sets off after it are left out.
 */
export function yamlSyntaxProblems(
  text: string,
  errors: readonly YAMLError[],
): Array<{ offset: number; message: string }> {
  const out: Array<{ offset: number; message: string }> = [];
  for (const [i, error] of errors.entries()) {
    const message = `YAML syntax: ${error.message.split('\n')[0]}`;
    const reference = referenceInFlow(text, error.pos[0]);
    if (!reference) {
      out.push({ offset: error.pos[0], message });
      continue;
    }
    const later = errors.length - i - 1;
    out.push({
      offset: reference.start,
      message:
        `${message}: inside { } or [ ] YAML reads "{" as the start of a map; quote the reference: "${reference.text}"` +
        (later > 0
          ? ` (the ${later} YAML error${later > 1 ? 's' : ''} after it follow${later > 1 ? '' : 's'} from it)`
          : ''),
    });
    break;
  }
  return out;
}
