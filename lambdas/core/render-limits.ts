/**
 * Bounds on templates and on one request's render. Hostile templates are bounded in time,
 * allocations and output size and fail with TemplateError; these are the numbers.
 */

/**
 * Output cap per render (URL + headers + body, in UTF-16 units). Between 256 KiB and this cap
 * the render succeeds and the delivery rule (PAYLOAD_TOO_LARGE) applies; beyond it the template
 * is treated as runaway and the render stops with TemplateError before building more output.
 */
export const MAX_RENDER_OUTPUT_CHARS = 1024 * 1024;
/** Wall-clock budget of one request's render (all templates together). */
export const RENDER_TIME_LIMIT_MS = 1000;
/** liquidjs allocation units (range sizes, string/array filter results) per request render. */
export const RENDER_MEMORY_LIMIT = 8 * 1024 * 1024;
/** Longest template source accepted, per template. */
export const MAX_TEMPLATE_CHARS = 256 * 1024;
/**
 * Deepest nesting of block tags accepted. liquidjs parses recursively; thousands of nested
 * blocks exhaust the stack inside V8's regexp compiler, which aborts the process instead of
 * throwing, so depth is checked with a flat scan before parsing.
 */
export const MAX_BLOCK_DEPTH = 64;

const BLOCK_TAGS = new Set([
  'if',
  'unless',
  'for',
  'case',
  'capture',
  'tablerow',
  'comment',
  'raw',
]);
/**
 * Most tags and outputs (`{% %}`, `{{ }}`, and each line of a `{% liquid %}` block) a template
 * may hold. Parse work grows with them; real templates hold a few dozen. Checked before parsing,
 * so no template makes one request hold the event loop long.
 */
export const MAX_TEMPLATE_TAGS = 2000;

const TAG = /\{%-?\s*(\w+)([\s\S]*?)-?%\}|\{\{/g;

/** The tag names of a template in order, the lines of `{% liquid %}` blocks included. */
function tagNames(source: string): string[] {
  const names: string[] = [];
  for (const match of source.matchAll(TAG)) {
    const name = match[1];
    if (name === undefined) {
      names.push('{{');
      continue;
    }
    names.push(name);
    // Inside `liquid`, every line is a tag without delimiters: `if x`, `endif`, `echo y`.
    if (name === 'liquid') {
      for (const line of (match[2] ?? '').split(/\r?\n/)) {
        const inner = /^\s*(\w+)/.exec(line)?.[1];
        if (inner !== undefined) names.push(inner);
      }
    }
  }
  return names;
}

/** The deepest block nesting and the number of tags of a template, by a flat scan. */
export function templateShape(source: string): { depth: number; tags: number } {
  let depth = 0;
  let deepest = 0;
  const names = tagNames(source);
  for (const name of names) {
    if (BLOCK_TAGS.has(name)) deepest = Math.max(deepest, ++depth);
    else if (name.startsWith('end') && BLOCK_TAGS.has(name.slice(3)))
      depth = Math.max(0, depth - 1);
  }
  return { depth: deepest, tags: names.length };
}

/** The deepest block nesting in a template source, however its tags are written. */
export function blockDepth(source: string): number {
  return templateShape(source).depth;
}
