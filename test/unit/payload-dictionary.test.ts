import {
  DICTIONARY_BUCKET_SECONDS,
  DICTIONARY_ID_PREFIX,
  deflateDictionary,
  dictionaryItemsOf,
  dictionaryOfItem,
  dictionaryRef,
  MAX_DICTIONARY_BYTES,
  templateDictionary,
} from '../../lambdas/adapters/payload-dictionary';
import {
  PACKING_BROTLI_JSON,
  PACKING_DICTIONARY_JSON,
  packRequest,
  requestJson,
  unpackRequest,
} from '../../lambdas/adapters/payload-packing';
import type { EventEnvelope, WebhookDefinition } from '../../lambdas/core/model';
import { Renderer } from '../../lambdas/core/render';
import { buildRenderContext } from '../../lambdas/core/render-context';
import { LOAN_BODY_TEMPLATE, loanData } from '../support/loan-template';

const definition: WebhookDefinition = {
  id: 'wh_DICTDICTDICTDICTDICTDICT01',
  name: 'Loans to ledger',
  events: ['LOAN_DISBURSEMENT'],
  enabled: true,
  method: 'POST',
  url: 'https://ledger.example.com/loans/{{ data.loanId }}?source=webhooks',
  contentType: 'application/json',
  headers: { 'X-Loan': '{{ data.loanId }}', 'X-Source': 'core-banking' },
  body: LOAN_BODY_TEMPLATE,
  version: 1,
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
};

function rendered(n: number, def: WebhookDefinition = definition) {
  const event: EventEnvelope = {
    id: `evt_${String(n).padStart(8, '0')}`,
    type: 'LOAN_DISBURSEMENT',
    occurredAt: '2026-12-01T10:00:00.000Z',
    data: loanData(n),
  };
  const id = `ntf_${String(n).padStart(26, 'D')}`;
  return { id, request: new Renderer().render(def, buildRenderContext(def, event, id)) };
}

describe('compression dictionaries of stored requests', () => {
  it("holds the templates' static text, without Liquid markup, and is the same for the same templates", () => {
    const dictionary = templateDictionary(definition)!;
    const text = dictionary.toString('utf8');
    expect(text).not.toMatch(/\{\{|\{%/);
    expect(text).toContain('\\n  \\"loan\\": {\\n    \\"id\\": ');
    expect(text).toContain('https://ledger.example.com/loans/?source=webhooks');
    expect(text).toContain('"X-Source":"core-banking"');
    expect(text).toContain('"Content-Type":"application/json"');
    expect(templateDictionary({ ...definition })!.equals(dictionary)).toBe(true);
    expect(
      templateDictionary({ ...definition, body: `${LOAN_BODY_TEMPLATE} ` })!.equals(dictionary),
    ).toBe(false);
  });

  it('has none for templates with almost no static text, and keeps the end of a long one', () => {
    expect(
      templateDictionary({
        ...definition,
        url: '{{ data.url }}',
        headers: {},
        body: '{{ data | json }}',
      }),
    ).toBeUndefined();
    const long = templateDictionary({ ...definition, body: `${'x'.repeat(40_000)}THE END` })!;
    expect(long.length).toBe(MAX_DICTIONARY_BYTES);
    expect(long.toString('utf8').endsWith('THE END"]')).toBe(true);
  });

  it('has one from 64 bytes of static text on', () => {
    const bare = { ...definition, url: '{{ data.url }}', headers: {}, body: '' };
    const base = templateDictionary(bare);
    expect(base).toBeUndefined();
    const length = Buffer.byteLength(
      JSON.stringify(['POST', '', { 'Content-Type': 'application/json' }, '']),
    );
    const at = templateDictionary({ ...bare, body: 'x'.repeat(64 - length) });
    expect(at?.length).toBe(64);
    expect(templateDictionary({ ...bare, body: 'x'.repeat(63 - length) })).toBeUndefined();
  });

  it('packs a rendered request smaller than Brotli alone, and it unpacks exactly with the same dictionary only', () => {
    const stored = templateDictionary(definition)!;
    for (const n of [1, 2, 77]) {
      const { id, request } = rendered(n);
      const dictionary = { bytes: deflateDictionary(stored, id), refBytes: 20 };
      const alone = packRequest(request)!;
      const packed = packRequest(request, dictionary)!;
      expect(alone.packing).toBe(PACKING_BROTLI_JSON);
      expect(packed.packing).toBe(PACKING_DICTIONARY_JSON);
      expect(packed.usesDictionary).toBe(true);
      expect(packed.bytes.length + dictionary.refBytes).toBeLessThan(alone.bytes.length);
      const back = unpackRequest(packed.packing, packed.bytes, dictionary.bytes);
      expect(back).toEqual(request);
      expect(Object.keys(back.headers)).toEqual(Object.keys(request.headers));
      expect(() => unpackRequest(packed.packing, packed.bytes)).toThrow(/needs its dictionary/);
      // The item's own id is part of the dictionary: with another id, unpacking fails loudly.
      const other = deflateDictionary(stored, 'ntf_OTHEROTHEROTHEROTHEROTHER0');
      expect(() => unpackRequest(packed.packing, packed.bytes, other)).toThrow();
    }
  });

  it('keeps Brotli when the dictionary does not pay for naming it', () => {
    const stored = templateDictionary(definition)!;
    const { id, request } = rendered(3);
    // Nothing in common with the templates: another host, no headers, prose rather than JSON.
    const unrelated = {
      method: 'PUT' as const,
      url: 'https://archive.example.org/notes',
      headers: {},
      body: Array.from(
        { length: 12 },
        (_, i) => `Paragraph ${i}: the quarterly statement was sent by post and by e-mail.`,
      ).join('\n'),
    };
    const dictionary = { bytes: deflateDictionary(stored, id), refBytes: 20 };
    const packed = packRequest(unrelated, dictionary)!;
    expect(packed.packing).toBe(PACKING_BROTLI_JSON);
    expect(packed.usesDictionary).toBe(false);
    expect(unpackRequest(packed.packing, packed.bytes)).toEqual(unrelated);
    // A dictionary as large as the request saves nothing once it costs its name: no dictionary.
    const costly = { bytes: dictionary.bytes, refBytes: requestJson(request).length };
    expect(packRequest(request, costly)?.usesDictionary).toBe(false);
  });

  it('names a dictionary by its bytes and the period its requests expire in, and outlives each of them', () => {
    const bytes = templateDictionary(definition)!;
    const start = 700 * DICTIONARY_BUCKET_SECONDS;
    const first = dictionaryRef(bytes, start);
    const last = dictionaryRef(bytes, start + DICTIONARY_BUCKET_SECONDS - 1);
    const next = dictionaryRef(bytes, start + DICTIONARY_BUCKET_SECONDS);
    expect(first.ref).toBe(last.ref);
    expect(next.ref).not.toBe(first.ref);
    expect(first.itemId).toBe(`${DICTIONARY_ID_PREFIX}${first.ref}`);
    expect(first.expiresAt).toBe(start + DICTIONARY_BUCKET_SECONDS);
    expect(last.expiresAt).toBeGreaterThan(start + DICTIONARY_BUCKET_SECONDS - 1);
    expect(next.expiresAt).toBe(start + 2 * DICTIONARY_BUCKET_SECONDS);
    const other = templateDictionary({ ...definition, headers: {} })!;
    expect(dictionaryRef(other, start).ref).not.toBe(first.ref);
  });

  it('gives what unpacks an item read by a scan, and names a dictionary the scan did not return', () => {
    const stored = templateDictionary(definition)!;
    const { id, request } = rendered(5);
    const ref = dictionaryRef(stored, 700 * DICTIONARY_BUCKET_SECONDS);
    const packed = packRequest(request, { bytes: deflateDictionary(stored, id), refBytes: 20 })!;
    const item = {
      id: { S: id },
      packing: { S: packed.packing },
      request: { B: packed.bytes },
      dict: { S: ref.ref },
    };
    const dictionaryItem = { id: { S: ref.itemId }, dictionary: { B: stored } };
    const dictionaries = dictionaryItemsOf([item, dictionaryItem]);
    expect([...dictionaries.keys()]).toEqual([ref.itemId]);
    expect(
      unpackRequest(packed.packing, packed.bytes, dictionaryOfItem(item, dictionaries)),
    ).toEqual(request);
    expect(dictionaryOfItem({ id: { S: id } }, dictionaries)).toBeUndefined();
    expect(() => dictionaryOfItem(item, new Map())).toThrow(
      `dictionary ${ref.ref} is not among the items given`,
    );
  });
});
