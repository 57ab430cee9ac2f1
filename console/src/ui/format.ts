/** Bodies made readable for people; no DOM, so unit tests run it in Node. */

/** JSON or XML made readable; anything else as it is. */
export function pretty(body: string, contentType: string | undefined): string {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.includes('json') || /^\s*[{[]/.test(body)) {
    try {
      return JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      return body;
    }
  }
  if (ct.includes('xml') || /^\s*</.test(body)) return prettyXml(body);
  return body;
}

export function prettyXml(xml: string): string {
  const parts = xml.replace(/>\s+</g, '><').match(/<[^>]+>|[^<]+/g) ?? [xml];
  const out: string[] = [];
  let depth = 0;
  const pad = () => '  '.repeat(Math.max(0, depth));
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    if (p.startsWith('</')) {
      depth--;
      out.push(pad() + p);
    } else if (p.startsWith('<') && !/^<[?!]/.test(p) && !p.endsWith('/>')) {
      const text = parts[i + 1];
      const close = parts[i + 2];
      // <a>text</a> stays on one line.
      if (text !== undefined && !text.startsWith('<') && close?.startsWith('</')) {
        out.push(pad() + p + text + close);
        i += 2;
      } else {
        out.push(pad() + p);
        depth++;
      }
    } else if (p.trim()) out.push(pad() + p.trim());
  }
  return out.join('\n');
}
