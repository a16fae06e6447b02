import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OtpdError } from '../../src/core/errors.js';
import {
  checkTemplateBody,
  checkVariables,
  containsLink,
  normalizeLineBreaks,
  parseTemplate,
  renderTemplate,
  TEMPLATE_BOUNDS,
} from '../../src/core/template.js';

/** The error a call throws, as code, field and message. */
function failure(fn: () => unknown): { code: string; field?: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof OtpdError)
      return { code: error.code, field: error.extras.field, message: error.message };
    throw error;
  }
  throw new Error('did not throw');
}

describe('parseTemplate', () => {
  it('splits a body into fixed text and variables, listing each variable once in order of first use', () => {
    const parsed = parseTemplate('Order {{order_id}} ships {{date}}; ref {{order_id}}.');
    expect(parsed.variables).toEqual(['order_id', 'date']);
    expect(parsed.segments).toEqual([
      { text: 'Order ' },
      { variable: 'order_id' },
      { text: ' ships ' },
      { variable: 'date' },
      { text: '; ref ' },
      { variable: 'order_id' },
      { text: '.' },
    ]);
  });

  it('allows spaces around the name inside the braces', () => {
    expect(parseTemplate('Hi {{ name }} and {{name  }}').variables).toEqual(['name']);
  });

  it('accepts names of lowercase letters, digits and underscores up to 32 characters', () => {
    const longest = `a${'b'.repeat(30)}9`;
    expect(parseTemplate(`x {{${longest}}} {{a_1}} {{z}}`).variables).toEqual([longest, 'a_1', 'z']);
  });

  it.each([
    ['{{Name}}', /malformed/],
    ['{{1a}}', /malformed/],
    ['{{_a}}', /malformed/],
    ['{{order-id}}', /malformed/],
    ['{{a b}}', /malformed/],
    ['{{\ta}}', /malformed/],
    ['{{}}', /empty/],
    ['{{   }}', /empty/],
    [`{{a${'b'.repeat(32)}}}`, /longer than 32/],
    ['{a}', /Unbalanced "\{"/],
    ['{{a}', /Unbalanced "\{"/],
    ['{{a', /Unbalanced "\{"/],
    ['a}}', /Unbalanced "\}"/],
    ['{{a}}}', /Unbalanced "\}"/],
    ['{{{a}}}', /Unbalanced "\{"/],
    ['price {USD}', /Unbalanced/],
  ])('refuses %j with INVALID_REQUEST on body', (body, message) => {
    const error = failure(() => parseTemplate(`Hello ${body} there`));
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'body' });
    expect(error.message).toMatch(message);
  });

  it('never throws anything but OtpdError, whatever the body', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (body) => {
        try {
          const parsed = parseTemplate(body);
          // What parses renders back to the body when each variable is its own placeholder.
          const values = Object.fromEntries(parsed.variables.map((v) => [v, `{{${v}}}`]));
          const rendered = parsed.segments.map((s) => ('text' in s ? s.text : values[s.variable])).join('');
          expect(rendered.replace(/\{\{ *| *\}\}/g, '')).toBe(body.replace(/\{\{ *| *\}\}/g, ''));
        } catch (error) {
          expect(error).toBeInstanceOf(OtpdError);
        }
      }),
    );
  });
});

describe('containsLink', () => {
  it.each([
    'http://example.com',
    'https://x',
    'HTTPS://EXAMPLE.COM/a',
    'ftp://files',
    'see www.example',
    'WWW.shop',
    'example.com',
    'visit Example.COM today',
    'bit.ly/x',
    'shop.example.co.uk/path?q=1',
    'mysite.np',
    'a.b.c.io',
    'pay.xyz',
    'support@shop.com',
    'example．com',
    'example。com',
    '例子.中国',
    'xn--80ak6aa92e.xn--p1ai',
    '10.0.0.1',
    '192.168.1.1/login',
    'end of sentence example.com.',
  ])('finds a link in %j', (text) => {
    expect(containsLink(text)).toBe(true);
  });

  it.each([
    'Your order ORD-2024-0847 has shipped.',
    'Expected delivery: Jan 18, 2024.',
    'Rs.500 received',
    'e.g. this, i.e. that',
    'Mr.Smith',
    'Dr. No',
    'v1.2.3',
    '3.14',
    'U.S.A',
    'Thanks.See you',
    'नमस्ते, तपाईंको अर्डर पठाइयो।',
    'A total of 1,500.00 NPR',
    'http:/not-a-url',
  ])('finds no link in %j', (text) => {
    expect(containsLink(text)).toBe(false);
  });
});

describe('checkTemplateBody', () => {
  it('answers the parsed body of a good template', () => {
    const body = 'Your order {{order_id}} has been shipped.\nExpected delivery: {{delivery_date}}.';
    expect(checkTemplateBody(body).variables).toEqual(['order_id', 'delivery_date']);
  });

  it.each([
    ['Track it at https://shop.example/track', /Links/],
    ['Track it at shop.example.com', /Links/],
    ['Short link bit.ly/abc', /Links/],
    ['Go to www.shop', /Links/],
    ['Visit {{shop}}.com for details', /Links/],
    ['{{a}} {{b}}', /fixed text/],
    ['{{a}}: {{b}}!', /fixed text/],
    ['Hello\u0007 there', /control/],
    ['Hello\u202E there', /control/],
    ['Hello\tthere', /control/],
    ['x'.repeat(TEMPLATE_BOUNDS.body.maxLength + 1), /at most 1000/],
    [`Vars ${Array.from({ length: 11 }, (_, i) => `{{v${i}}}`).join(' ')}`, /at most 10 distinct variables/],
  ])('refuses %j on body', (body, message) => {
    const error = failure(() => checkTemplateBody(body));
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'body' });
    expect(error.message).toMatch(message);
  });

  it('allows line breaks, Devanagari with its joiners, and repeated variables', () => {
    expect(checkTemplateBody('तपाईंको अर्डर {{id}} पठाइयो।\nधन्यवाद {{id}}').variables).toEqual(['id']);
    expect(checkTemplateBody('क्\u200Dष {{x}}').variables).toEqual(['x']);
  });

  it('reads \\r\\n and a lone \\r as one line break', () => {
    expect(normalizeLineBreaks('a\r\nb\rc\nd')).toBe('a\nb\nc\nd');
  });
});

describe('checkVariables and renderTemplate', () => {
  const template = parseTemplate('Order {{order_id}} ships {{date}}.');

  it('renders every placeholder with its value', () => {
    const values = checkVariables(template, { order_id: 'ORD-1', date: 'Jan 18, 2024' });
    expect(renderTemplate(template, values)).toBe('Order ORD-1 ships Jan 18, 2024.');
  });

  it('takes numbers as their decimal text', () => {
    expect(checkVariables(template, { order_id: 1500, date: 2.5 })).toEqual({
      order_id: '1500',
      date: '2.5',
    });
  });

  it('renders in one pass: a value that looks like a placeholder stays as written', () => {
    const values = checkVariables(template, { order_id: '{{date}}', date: 'today' });
    expect(renderTemplate(template, values)).toBe('Order {{date}} ships today.');
  });

  it('refuses a missing variable with MISSING_VARIABLE on variables.<name>', () => {
    expect(failure(() => checkVariables(template, { order_id: 'x' }))).toEqual({
      code: 'MISSING_VARIABLE',
      field: 'variables.date',
      message: "Required variable 'date' is missing.",
    });
  });

  it('refuses an extra variable with UNKNOWN_VARIABLE on variables.<name>', () => {
    expect(failure(() => checkVariables(template, { order_id: 'x', date: 'y', promo_code: 'z' }))).toEqual({
      code: 'UNKNOWN_VARIABLE',
      field: 'variables.promo_code',
      message: "Variable 'promo_code' is not defined in the template.",
    });
  });

  it('does not take inherited properties for variables', () => {
    const t = parseTemplate('Hi {{constructor}}');
    expect(failure(() => checkVariables(t, {})).code).toBe('MISSING_VARIABLE');
  });

  it.each([
    [null, /string or a number/],
    [true, /string or a number/],
    [{ a: 1 }, /string or a number/],
    [['a'], /string or a number/],
    [Number.NaN, /string or a number/],
    ['', /blank/],
    ['   ', /blank/],
    ['x'.repeat(129), /at most 128/],
    ['line\nbreak', /control/],
    ['tab\there', /control/],
    ['bell\u0007', /control/],
    ['\u202Eevil', /control/],
    ['zero\u200Bwidth', /control/],
    ['https://evil.example', /link/],
    ['evil.com', /link/],
    ['bit.ly/x', /link/],
    ['www.evil', /link/],
  ])('refuses the value %j with INVALID_VARIABLE', (value, message) => {
    const error = failure(() => checkVariables(template, { order_id: value, date: 'ok' }));
    expect(error).toMatchObject({ code: 'INVALID_VARIABLE', field: 'variables.order_id' });
    expect(error.message).toMatch(message);
  });

  it('counts a value in characters, not UTF-16 units: 128 emoji or Devanagari letters pass', () => {
    expect(() =>
      checkVariables(template, { order_id: '😀'.repeat(128), date: 'क'.repeat(128) }),
    ).not.toThrow();
  });

  it('refuses values that form a link together with the fixed text', () => {
    const t = parseTemplate('See {{host}}com now');
    const values = checkVariables(t, { host: 'example.' });
    expect(failure(() => renderTemplate(t, values))).toMatchObject({
      code: 'INVALID_VARIABLE',
      field: 'variables',
    });
  });

  it('refuses a message longer than 1,600 characters', () => {
    const t = parseTemplate(
      `${'x'.repeat(1000)} ${Array.from({ length: 5 }, (_, i) => `{{v${i}}}`).join('')}`,
    );
    const values = checkVariables(t, Object.fromEntries(t.variables.map((v) => [v, 'y'.repeat(128)])));
    expect(failure(() => renderTemplate(t, values))).toMatchObject({
      code: 'INVALID_VARIABLE',
      field: 'variables',
    });
  });
});
