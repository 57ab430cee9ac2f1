/**
 * A URL template's destination: its scheme, host and port as written, compared as text (the
 * template is Liquid, so `https://{{ data.host }}` is compared as that text). A kept Basic Auth
 * password may only go on being sent to the same destination (webhooks.ts); the console uses
 * this to ask for the password before a save the API would refuse.
 *
 * The destination is the text up to the first `/` after `://`, or the whole template when there
 * is none. Liquid markup counts as one piece: a `/` inside `{{ ... }}` does not end it, and a
 * `{% ... %}` tag before that `/` (it may open a block that reaches past it) makes the whole
 * template the destination. Text after the `/` can only add to the path, never change the host.
 * No imports: the console bundles this file.
 */

/** The part of `url` that decides where a request goes, as text. */
export function destinationOf(url: string): string {
  let schemeSeen = false;
  let i = 0;
  while (i < url.length) {
    if (url.startsWith('{%', i)) return url;
    if (url.startsWith('{{', i)) {
      const end = endOfOutput(url, i + 2);
      if (end < 0) return url;
      i = end;
    } else if (!schemeSeen && url.startsWith('://', i)) {
      schemeSeen = true;
      i += 3;
    } else if (schemeSeen && url[i] === '/') {
      return url.slice(0, i);
    } else {
      i += 1;
    }
  }
  return url;
}

/** True when `after` sends to another scheme, host or port than `before` (as text). */
export function destinationChanged(before: string, after: string): boolean {
  return destinationOf(before) !== destinationOf(after);
}

/** The index after the `}}` closing an output tag whose inside starts at `from`; -1 if unclosed. */
function endOfOutput(url: string, from: number): number {
  let i = from;
  let quote: string | undefined;
  while (i < url.length) {
    const c = url[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (url.startsWith('}}', i)) {
      return i + 2;
    }
    i += 1;
  }
  return -1;
}
