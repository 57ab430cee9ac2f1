/**
 * A URL template's destination (scheme, host and port as text): what a kept Basic Auth password
 * is bound to. Liquid markup cannot move the end of the destination past a `/` it hides.
 */
import { destinationChanged, destinationOf } from '../../lambdas/core/destination';

describe('the destination of a URL template', () => {
  it.each([
    ['https://ledger.example.com/loans/{{ data.id }}', 'https://ledger.example.com'],
    ['http://127.0.0.1:8080/hook?x=1', 'http://127.0.0.1:8080'],
    ['https://{{ data.host }}/x', 'https://{{ data.host }}'],
    ['{{ data.scheme }}://ledger.example.com/x', '{{ data.scheme }}://ledger.example.com'],
    ['https://ledger.example.com', 'https://ledger.example.com'],
    ['https://ledger.example.com?a=/b', 'https://ledger.example.com?a='],
    // Only the first "://" is the scheme's: one in the query does not move the end.
    ['https://a.example?next=https://b.example/x', 'https://a.example?next=https:'],
    // A quoted "}}" does not close the output tag; the "}}" after it does.
    ['https://{{ data.host | append: "}}" }}/x', 'https://{{ data.host | append: "}}" }}'],
  ])('of %s is %s', (url, destination) => {
    expect(destinationOf(url)).toBe(destination);
  });

  it.each([
    ['a slash inside an output tag', 'https://{{ data.host | append: "/v1" }}'],
    ['a quoted "}}" inside an output tag', 'https://{{ data.host | append: "}}/x" }}'],
    ["a single-quoted '}}' inside an output tag", "https://{{ data.host | append: '}}/x' }}"],
    [
      'a tag before the slash, even with an output tag after it',
      'https://a.example{% if data.v2 %}/v2{% endif %}{{ data.p }}/x',
    ],
    ['an unclosed output tag', 'https://{{ data.host /x'],
    [
      'a tag that may open a block past the slash',
      'https://a.example{% if data.v2 %}/v2{% endif %}/x',
    ],
    ['no scheme separator', '{{ data.url }}/x'],
  ])('is the whole template with %s', (_what, url) => {
    expect(destinationOf(url)).toBe(url);
  });

  it('changes with the scheme, the host or the port, not with the path, query or fragment', () => {
    const url = 'https://ledger.example.com/loans';
    expect(destinationChanged(url, 'http://ledger.example.com/loans')).toBe(true);
    expect(destinationChanged(url, 'https://ledger.example.com:444/loans')).toBe(true);
    expect(destinationChanged(url, 'https://ledger.example.com.attacker.example/loans')).toBe(true);
    expect(destinationChanged(url, 'https://ledger.example.com@attacker.example/')).toBe(true);
    expect(destinationChanged(url, 'https://ledger.example.com/v2?x=1#y')).toBe(false);
    // Compared as text: Liquid names are case-sensitive, so another case is another value.
    expect(destinationChanged('https://{{ data.host }}/x', 'https://{{ data.HOST }}/x')).toBe(true);
  });

  it('sees a changed branch of a block that reaches past the slash as a change', () => {
    const before = 'https://a.example{% if data.v2 %}/v2{% endif %}/x';
    const after = 'https://a.example{% if data.v2 %}/v2{% else %}.attacker.example{% endif %}/x';
    expect(destinationChanged(before, after)).toBe(true);
  });
});
