import { queueJsonBytes, toQueueJson } from '../../lambdas/core/queue-json';

// What SQS accepts in a message body (the XML 1.0 character set), as the documentation lists it.
const SQS_ALLOWED = /^[\t\n\r\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u;
// What the local stand-in (fauxqs) accepts: the same without the astral planes.
const BMP_ALLOWED = /^[\t\n\r\x20-\ud7ff\ue000-\ufffd]*$/;

describe('toQueueJson', () => {
  const values: [string, unknown][] = [
    ['an emoji in a value', { k: '😀' }],
    ['an emoji in a key', { '😀 key': ['x', '🎉'] }],
    ['U+FFFE and U+FFFF', { k: '\ufffe\uffff' }],
    ['control characters', { k: '\u0000\u0001\t\n\r\u007f\u0085' }],
    ['lone surrogates', { k: '\ud800 \udfff' }],
    ['the edges of the allowed ranges', { k: '\ud7ff\ue000\ufffd\u{10000}\u{10ffff}' }],
    ['plain text', { k: 'Prêt accordé, 1 € <&> "quoted" \\ /' }],
    ['numbers and literals', [1, -0.5, 1e21, true, false, null]],
  ];

  it.each(values)(
    'writes %s as text SQS and its stand-in accept, which parses back to the same value',
    (_what, value) => {
      const text = toQueueJson(value);

      expect(text).toMatch(SQS_ALLOWED);
      expect(text).toMatch(BMP_ALLOWED);
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
    },
  );

  it('writes an astral character as the escapes of its surrogate pair and leaves the rest as JSON.stringify does', () => {
    expect(toQueueJson({ k: 'a😀b\uffff' })).toBe('{"k":"a\\ud83d\\ude00b\\uffff"}');
    expect(toQueueJson({ k: 'é€<' })).toBe(JSON.stringify({ k: 'é€<' }));
  });

  it('counts the UTF-8 bytes of the escaped text', () => {
    // 😀 is 4 bytes of UTF-8 but 12 characters once escaped.
    expect(queueJsonBytes({ k: '😀' })).toBe('{"k":""}'.length + 12);
    expect(queueJsonBytes({ k: 'é' })).toBe('{"k":""}'.length + 2);
  });
});
