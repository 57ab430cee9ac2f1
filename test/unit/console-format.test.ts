import { pretty, prettyXml } from '../../console/src/ui/format';

describe('console: bodies shown as sent, made readable', () => {
  it('indents JSON by content type or by its first character', () => {
    expect(pretty('{"a":1,"b":[true,null]}', 'application/json')).toBe(
      '{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}',
    );
    expect(pretty('[1]', undefined)).toBe('[\n  1\n]');
  });

  it('leaves a body that only looks like JSON unchanged', () => {
    expect(pretty('{"a":', 'application/json')).toBe('{"a":');
  });

  it('indents XML, keeping text elements on one line', () => {
    const xml =
      '<?xml version="1.0"?><loan id="1"><amount>10</amount><tags><tag>a</tag><empty/></tags></loan>';
    expect(pretty(xml, 'application/xml')).toBe(
      [
        '<?xml version="1.0"?>',
        '<loan id="1">',
        '  <amount>10</amount>',
        '  <tags>',
        '    <tag>a</tag>',
        '    <empty/>',
        '  </tags>',
        '</loan>',
      ].join('\n'),
    );
  });

  it('keeps text between elements and never indents below zero on stray closing tags', () => {
    expect(prettyXml('</a><b>x</b>')).toBe('</a>\n<b>x</b>');
    expect(prettyXml('<a>x<b>y</b></a>')).toBe('<a>\n  x\n  <b>y</b>\n</a>');
  });

  it('shows plain text as it is', () => {
    expect(pretty('hello  world', 'text/plain')).toBe('hello  world');
  });
});
