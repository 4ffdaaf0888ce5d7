/**
 * A reader for the nginx configuration grammar: directives `name arg arg;` and blocks `name args { ... }`,
 * single- and double-quoted strings, `\` escapes, `#` comments. It follows nginx's own tokenizer
 * (ngx_conf_read_token): `#` starts a comment only where a word could start, `}` does not end an unquoted word
 * (so `${host}` stays one word), and text right after a closing quote must be a separator.
 *
 * `nginx -T` prints several files one after another, each after a line `# configuration file PATH:`; each
 * such section is read as its own file, so every directive keeps the file and line nginx read it from.
 */

/** One directive as nginx reads it; `block` is set for `name args { ... }`. */
export interface NginxDirective {
  name: string;
  args: string[];
  file: string;
  line: number;
  block?: NginxDirective[];
}

/** The text of one configuration file, with the line its first line has in that file (always 1 today). */
export interface NginxFileText {
  file: string;
  text: string;
}

export class NginxSyntaxError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'NginxSyntaxError';
  }
}

const SECTION_MARKER = /^# configuration file (.+):$/;

/**
 * Splits `nginx -T` output into its files. Text without any section marker is one file named `sourceName`.
 * The `nginx: ... syntax is ok` lines nginx writes to stderr are skipped when saved along with the dump.
 */
export function splitDump(text: string, sourceName: string): NginxFileText[] {
  const lines = text.split('\n');
  if (!lines.some((l) => SECTION_MARKER.test(l.replace(/\r$/, '')))) return [{ file: sourceName, text }];
  const files: NginxFileText[] = [];
  let current: { file: string; lines: string[] } = { file: sourceName, lines: [] };
  const flush = () => {
    const body = current.lines.join('\n');
    if (current.file !== sourceName || body.trim() !== '') files.push({ file: current.file, text: body });
  };
  for (const raw of lines) {
    const marker = SECTION_MARKER.exec(raw.replace(/\r$/, ''));
    if (marker) {
      flush();
      current = { file: marker[1] as string, lines: [] };
    } else if (files.length === 0 && current.file === sourceName && /^nginx: /.test(raw)) {
      current.lines.push(''); // keeps line numbers of anything else before the first marker
    } else {
      current.lines.push(raw);
    }
  }
  flush();
  return files;
}

/**
 * Common directive names. When one of them opens a new line inside another directive's arguments, the
 * previous line almost surely lost its `;` (nginx itself would later complain about the argument count).
 */
const DIRECTIVE_NAMES = new Set([
  'listen',
  'server_name',
  'server',
  'location',
  'root',
  'index',
  'return',
  'rewrite',
  'proxy_pass',
  'proxy_set_header',
  'proxy_http_version',
  'ssl_certificate',
  'ssl_certificate_key',
  'include',
  'upstream',
  'keepalive',
  'error_page',
  'access_log',
  'error_log',
  'add_header',
  'try_files',
  'alias',
]);

interface Word {
  text: string;
  line: number;
  quoted: boolean;
}

const SEPARATORS = new Set([' ', '\t', '\r', '\n', ';', '{']);

/** What nginx makes of `\` followed by `ch`: quotes and backslash lose the escape, t/r/n become control characters. */
function unescape(ch: string): string {
  if (ch === '"' || ch === "'" || ch === '\\') return ch;
  return ch === 't' ? '\t' : ch === 'r' ? '\r' : ch === 'n' ? '\n' : `\\${ch}`;
}

/** Reads one file's text into its directives, or throws an NginxSyntaxError naming the file and line. */
export function parseFile(file: string, text: string): NginxDirective[] {
  const top: NginxDirective[] = [];
  const stack: { directive: NginxDirective | undefined; children: NginxDirective[] }[] = [
    { directive: undefined, children: top },
  ];
  let words: Word[] = [];
  let line = 1;
  let i = 0;
  const fail = (at: number, problem: string): never => {
    throw new NginxSyntaxError(file, at, problem);
  };

  const finish = (opensBlock: boolean): void => {
    const [name, ...args] = words;
    if (!name) return fail(line, `unexpected "${opensBlock ? '{' : ';'}"`);
    const directive: NginxDirective = { name: name.text, args: args.map((w) => w.text), file, line: name.line };
    const frame = stack[stack.length - 1] as (typeof stack)[number];
    frame.children.push(directive);
    if (opensBlock) {
      directive.block = [];
      stack.push({ directive, children: directive.block });
    }
    words = [];
  };

  const addWord = (word: Word): void => {
    const first = words[0];
    if (first && !word.quoted && word.line > (words[words.length - 1] as Word).line && DIRECTIVE_NAMES.has(word.text)) {
      const last = words[words.length - 1] as Word;
      fail(
        last.line,
        `missing ";" after "${words.map((w) => w.text).join(' ')}" (the next line starts "${word.text}")`,
      );
    }
    words.push(word);
  };

  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === '\n') {
      line++;
      i++;
    } else if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
    } else if (ch === ';') {
      finish(false);
      i++;
    } else if (ch === '{') {
      finish(true);
      i++;
    } else if (ch === '}') {
      if (words.length > 0) fail(line, `unexpected "}": "${words[0]?.text}" is missing its ";"`);
      if (stack.length === 1) fail(line, 'unexpected "}": no block is open here');
      stack.pop();
      i++;
    } else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === '"' || ch === "'") {
      const start = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) fail(start, `unterminated ${ch === '"' ? 'double' : 'single'}-quoted string`);
        const c = text[i] as string;
        if (c === '\\' && i + 1 < text.length) {
          const next = text[i + 1] as string;
          value += unescape(next);
          if (next === '\n') line++;
          i += 2;
          continue;
        }
        if (c === ch) break;
        if (c === '\n') line++;
        value += c;
        i++;
      }
      i++;
      const after = text[i];
      // As in nginx: `)` may follow (`if ($a = "b")`), anything else must be separated.
      if (after !== undefined && !SEPARATORS.has(after) && after !== ')')
        fail(line, `unexpected "${after}" right after a quoted string`);
      addWord({ text: value, line: start, quoted: true });
    } else {
      const start = line;
      let value = '';
      let variable = false;
      while (i < text.length) {
        const c = text[i] as string;
        if (c === '{' && variable) {
          value += c;
          i++;
          continue;
        }
        variable = c === '$';
        if (SEPARATORS.has(c)) break;
        if (c === '\\' && i + 1 < text.length) {
          if (text[i + 1] === '\n') line++;
          value += unescape(text[i + 1] as string);
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      addWord({ text: value, line: start, quoted: false });
    }
  }
  if (words.length > 0) fail((words[0] as Word).line, `"${words[0]?.text}" is missing its ";" at the end of the file`);
  if (stack.length > 1) {
    const open = stack[stack.length - 1]?.directive as NginxDirective;
    fail(open.line, `the "{" of "${[open.name, ...open.args].join(' ')}" is never closed`);
  }
  return top;
}
