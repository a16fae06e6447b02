import { invalid, OtpdError } from './errors.js';

/**
 * Transactional SMS templates, pure: parsing `{{variable}}` bodies, checking
 * what a body and a variable value may hold, and rendering. No I/O.
 */

export const TEMPLATE_BOUNDS = {
  name: { maxLength: 100 },
  useCase: { maxLength: 500 },
  body: { maxLength: 1000 },
  /** Distinct variables in one body. */
  variables: { max: 10 },
  variableName: { maxLength: 32 },
  /** Characters (code points) of one variable's value. */
  value: { maxLength: 128 },
  /** Characters of a rendered message: the most that every provider (Twilio: 1,600) takes. */
  rendered: { maxLength: 1600 },
};

/** A variable name: lowercase letters, digits and underscores, starting with a letter. */
const VARIABLE_NAME = /^[a-z][a-z0-9_]*$/;

/**
 * A placeholder, or a brace that is not part of one. Inside the braces only
 * spaces may surround the name (`{{ order_id }}`), as in Mustache.
 */
const TOKEN = /\{\{([^{}]*)\}\}|[{}]/g;

export type Segment = { text: string } | { variable: string };

export interface ParsedTemplate {
  segments: Segment[];
  /** Distinct variable names, in order of first use. */
  variables: string[];
}

const quote = (s: string) => (s.length > 40 ? `${s.slice(0, 40)}…` : s);

function placeholderName(inner: string): string {
  const name = inner.replace(/^ +| +$/g, '');
  if (name === '') throw invalid('body', 'An empty placeholder {{}} is not allowed; name the variable.');
  if (!VARIABLE_NAME.test(name)) {
    throw invalid(
      'body',
      `Placeholder {{${quote(inner)}}} is malformed: a variable name is lowercase letters, digits and underscores, starting with a letter.`,
    );
  }
  if (name.length > TEMPLATE_BOUNDS.variableName.maxLength) {
    throw invalid(
      'body',
      `Variable name ${quote(name)} is longer than ${TEMPLATE_BOUNDS.variableName.maxLength} characters.`,
    );
  }
  return name;
}

/**
 * Splits a body into fixed text and `{{variable}}` placeholders. Any brace
 * that is not part of a well-formed placeholder (`{x}`, `{{a}`, `}}`,
 * `{{{a}}}`) is refused: a body reads one way only.
 */
export function parseTemplate(body: string): ParsedTemplate {
  const segments: Segment[] = [];
  const variables: string[] = [];
  let at = 0;
  for (const match of body.matchAll(TOKEN)) {
    const index = match.index;
    if (match[1] === undefined) {
      throw invalid(
        'body',
        `Unbalanced "${match[0]}" at character ${index + 1}: placeholders are written {{variable_name}}, and braces are not allowed otherwise.`,
      );
    }
    const name = placeholderName(match[1]);
    if (index > at) segments.push({ text: body.slice(at, index) });
    segments.push({ variable: name });
    if (!variables.includes(name)) variables.push(name);
    at = index + match[0].length;
  }
  if (at < body.length) segments.push({ text: body.slice(at) });
  return { segments, variables };
}

/* Links. Approximate on purpose: an operator reviews every body anyway; the
 * check keeps the obvious out of bodies and, more importantly, out of the
 * runtime values that no one reviews. */

/** Top-level domains besides the two-letter country codes (all of which count). */
const GENERIC_TLDS = [
  'com',
  'net',
  'org',
  'info',
  'biz',
  'edu',
  'gov',
  'mil',
  'int',
  'app',
  'dev',
  'xyz',
  'top',
  'online',
  'site',
  'website',
  'shop',
  'store',
  'link',
  'click',
  'club',
  'live',
  'life',
  'tech',
  'space',
  'fun',
  'icu',
  'vip',
  'win',
  'bid',
  'loan',
  'work',
  'page',
  'blog',
  'news',
  'email',
  'cloud',
  'today',
  'world',
  'one',
  'pro',
  'mobi',
  'name',
  'asia',
  'tel',
  'travel',
  'zip',
  'mov',
  'men',
  'buzz',
  'rest',
  'bank',
  'money',
  'pay',
  'gift',
  'codes',
];

const LABEL = String.raw`[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?`;
const LINK_PATTERNS: RegExp[] = [
  // Any scheme with an authority: http://, https://, ftp://, …
  /[a-z][a-z0-9+.-]*:\/\//iu,
  /(?<![\p{L}\p{N}])www\d{0,3}\./iu,
  // A bare domain: labels, a dot, a known (or non-Latin) top-level domain, and no letter after it.
  new RegExp(
    String.raw`(?<![\p{L}\p{N}-])(?:${LABEL}\.)+(?:[a-z]{2}|${GENERIC_TLDS.join('|')}|xn--[a-z0-9-]+|(?=[^\0-\x7f])[\p{L}\p{M}]{2,})(?![\p{L}\p{N}-])`,
    'iu',
  ),
  // A dotted IPv4 address.
  /(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])/u,
];

/**
 * Whether text holds a link: a URL with a scheme, `www.`, a bare domain
 * (`example.com`, `bit.ly/x`, also with full-width or ideographic dots) or an
 * IPv4 address.
 */
export function containsLink(text: string): boolean {
  const plain = text.normalize('NFKC').replace(/[\u3002\uFF0E\uFF61]/g, '.');
  return LINK_PATTERNS.some((pattern) => pattern.test(plain));
}

/**
 * Characters a message may not carry: control characters, invisible
 * formatting (bidi overrides, zero-width spaces; not ZWJ/ZWNJ, which
 * Devanagari needs), line and paragraph separators, private-use and lone
 * surrogate code points.
 */
const FORBIDDEN = /[\p{Cc}\p{Co}\p{Cs}\p{Zl}\p{Zp}]|(?![\u200C\u200D])\p{Cf}/u;
const FORBIDDEN_IN_BODY = /[\p{Co}\p{Cs}\p{Zl}\p{Zp}]|(?!\n)\p{Cc}|(?![\u200C\u200D])\p{Cf}/u;

/** Line breaks as `\n`: `\r\n` and a lone `\r` are read as one. */
export const normalizeLineBreaks = (text: string): string => text.replace(/\r\n?/g, '\n');

/**
 * Checks a submitted body and answers it parsed. Refuses malformed
 * placeholders, links, control characters, more than 10 variables and a
 * body that is only variables (that would be free text at send time).
 */
export function checkTemplateBody(body: string): ParsedTemplate {
  if (body.length > TEMPLATE_BOUNDS.body.maxLength) {
    throw invalid('body', `body must be at most ${TEMPLATE_BOUNDS.body.maxLength} characters.`);
  }
  if (FORBIDDEN_IN_BODY.test(body)) {
    throw invalid('body', 'body must not contain control or invisible characters (line breaks are allowed).');
  }
  const parsed = parseTemplate(body);
  if (parsed.variables.length > TEMPLATE_BOUNDS.variables.max) {
    throw invalid('body', `A template may use at most ${TEMPLATE_BOUNDS.variables.max} distinct variables.`);
  }
  // A placeholder stands in as a word, so `{{shop}}.com` reads as the link it would become.
  const fixed = parsed.segments.map((s) => ('text' in s ? s.text : 'x')).join('');
  if (containsLink(fixed)) {
    throw invalid('body', 'Links and URLs are not allowed in templates.');
  }
  const literal = parsed.segments.map((s) => ('text' in s ? s.text : '')).join('');
  if (!/\p{L}/u.test(literal)) {
    throw invalid(
      'body',
      'A template needs fixed text besides its variables; free-text templates are not allowed.',
    );
  }
  return parsed;
}

/** Whether a name or description is free of control and invisible characters. */
export function isPlainText(text: string, allowLineBreaks = false): boolean {
  return !(allowLineBreaks ? FORBIDDEN_IN_BODY : FORBIDDEN).test(text);
}

const variableError = (
  code: 'MISSING_VARIABLE' | 'UNKNOWN_VARIABLE' | 'INVALID_VARIABLE',
  name: string,
  message: string,
) => new OtpdError(code, message, { field: `variables.${name}` });

/**
 * Checks the values of a send against a template: every variable present,
 * none extra, each a non-blank string (or a finite number, taken as its
 * decimal text) of at most 128 characters without links or control
 * characters. Answers the values as text.
 */
export function checkVariables(
  template: ParsedTemplate,
  values: Record<string, unknown>,
): Record<string, string> {
  for (const name of template.variables) {
    if (!Object.hasOwn(values, name)) {
      throw variableError('MISSING_VARIABLE', name, `Required variable '${name}' is missing.`);
    }
  }
  const known = new Set(template.variables);
  for (const name of Object.keys(values)) {
    if (!known.has(name)) {
      throw variableError(
        'UNKNOWN_VARIABLE',
        name,
        `Variable '${quote(name)}' is not defined in the template.`,
      );
    }
  }
  const text: Record<string, string> = {};
  for (const name of template.variables) {
    const value = values[name];
    let s: string;
    if (typeof value === 'string') s = value;
    else if (typeof value === 'number' && Number.isFinite(value)) s = String(value);
    else throw variableError('INVALID_VARIABLE', name, `Variable '${name}' must be a string or a number.`);
    if (s.trim() === '')
      throw variableError('INVALID_VARIABLE', name, `Variable '${name}' must not be blank.`);
    if ([...s].length > TEMPLATE_BOUNDS.value.maxLength) {
      throw variableError(
        'INVALID_VARIABLE',
        name,
        `Variable '${name}' must be at most ${TEMPLATE_BOUNDS.value.maxLength} characters.`,
      );
    }
    if (FORBIDDEN.test(s)) {
      throw variableError(
        'INVALID_VARIABLE',
        name,
        `Variable '${name}' must not contain control characters, line breaks or invisible characters.`,
      );
    }
    if (containsLink(s)) {
      throw variableError('INVALID_VARIABLE', name, `Variable '${name}' must not contain a link or URL.`);
    }
    text[name] = s;
  }
  return text;
}

/**
 * The message text: each placeholder replaced by its value, in one pass (a
 * value that looks like `{{x}}` stays as written). Refuses a result longer
 * than a provider takes, and one where values and fixed text together form a
 * link (`{{a}}com` with `example.`).
 */
export function renderTemplate(template: ParsedTemplate, values: Record<string, string>): string {
  const text = template.segments.map((s) => ('text' in s ? s.text : values[s.variable]!)).join('');
  if (text.length > TEMPLATE_BOUNDS.rendered.maxLength) {
    throw new OtpdError(
      'INVALID_VARIABLE',
      `The message would be ${text.length} characters; at most ${TEMPLATE_BOUNDS.rendered.maxLength} can be sent.`,
      { field: 'variables' },
    );
  }
  if (containsLink(text)) {
    throw new OtpdError('INVALID_VARIABLE', 'The message with these values would contain a link.', {
      field: 'variables',
    });
  }
  return text;
}
