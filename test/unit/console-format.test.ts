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

  it('indents JSON that starts after white space, whatever the content type says', () => {
    expect(pretty('\n  {"a":1}', 'text/plain')).toBe('{\n  "a": 1\n}');
  });

  it('shows a body declared JSON (in any case) that does not parse as sent, even when it looks like XML', () => {
    expect(pretty('<a><b>1</b></a>', 'application/json')).toBe('<a><b>1</b></a>');
    expect(pretty('<a><b>1</b></a>', 'Application/JSON; charset=UTF-8')).toBe('<a><b>1</b></a>');
  });

  it('indents XML by its first character when no content type says so', () => {
    expect(pretty('<a><b>1</b></a>', undefined)).toBe('<a>\n  <b>1</b>\n</a>');
  });

  it('leaves no blank line for white space before or after the XML', () => {
    expect(pretty('\n <a><b>1</b></a>\n', 'application/xml')).toBe('<a>\n  <b>1</b>\n</a>');
  });

  it('re-indents XML that was already indented, without blank lines', () => {
    expect(prettyXml('<a>\n    <b>1</b>\n\t<c/>\n</a>')).toBe('<a>\n  <b>1</b>\n  <c/>\n</a>');
    expect(prettyXml('<a><b>\n\t</b></a>')).toBe('<a>\n  <b>\n  </b>\n</a>');
  });

  it('keeps an element whose only child is an empty element on lines of their own', () => {
    expect(prettyXml('<a><b/></a>')).toBe('<a>\n  <b/>\n</a>');
  });

  it('trims text between elements', () => {
    expect(prettyXml('<a> x <b>y</b></a>')).toBe('<a>\n  x\n  <b>y</b>\n</a>');
  });

  it('shows plain text as it is', () => {
    expect(pretty('hello  world', 'text/plain')).toBe('hello  world');
  });
});
