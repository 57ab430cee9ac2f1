/**
 * The JSON text of a queue message. SQS accepts only #x9 | #xA | #xD | #x20-#xD7FF |
 * #xE000-#xFFFD | #x10000-#x10FFFF in a message body (the XML 1.0 set), so U+FFFE and U+FFFF
 * fail on AWS, and the local stand-in refuses everything above U+FFFF too. Every character
 * outside #x20-#xD7FF | #xE000-#xFFFD (and the three whitespace controls) is therefore
 * written as a JSON `\u` escape, astral characters as their surrogate pair (`\ud83d\ude00`):
 * the text is plain ASCII-safe for SQS and parses back to exactly the same value.
 */

// Without the `u` flag the pattern sees UTF-16 code units: each half of a surrogate pair is
// matched (and escaped) on its own. JSON.stringify has already escaped C0 controls and lone
// surrogates, so what is left here are U+FFFE, U+FFFF and the halves of astral characters.
const NOT_SQS_SAFE = /[^\t\n\r\x20-\ud7ff\ue000-\ufffd]/g;

function jsonEscape(unit: string): string {
  return `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** JSON.stringify(value), with the characters SQS refuses written as `\u` escapes. */
export function toQueueJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('a queue message must be a JSON value');
  return json.replace(NOT_SQS_SAFE, jsonEscape);
}

/** UTF-8 bytes of the message body toQueueJson(value) makes: what SQS counts against its limits. */
export function queueJsonBytes(value: unknown): number {
  return Buffer.byteLength(toQueueJson(value), 'utf8');
}
