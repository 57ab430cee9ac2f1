import { brotliCompressSync, deflateRawSync } from 'node:zlib';
import {
  PACK_THRESHOLD_BYTES,
  PACKING_BROTLI_JSON,
  PACKING_DEFLATE_JSON,
  packRequest,
  requestJson,
  unpackRequest,
} from '../../lambdas/adapters/payload-packing';
import type { RenderedRequest } from '../../lambdas/core/model';

const request = (body: string): RenderedRequest => ({
  method: 'PATCH',
  url: 'https://ledger.example.com/a?b=c',
  headers: { 'X-Z': 'last', 'Content-Type': 'application/json', 'X-A': 'first' },
  body,
});

describe('packing a rendered request', () => {
  it('packs a repetitive 1 KiB body to less than half and unpacks it exactly, header order kept', () => {
    const original = request(JSON.stringify({ items: Array(40).fill({ amount: 12.5 }) }));
    const packed = packRequest(original);
    expect(packed).toBeDefined();
    expect(packed!.packing).toBe(PACKING_BROTLI_JSON);
    expect(packed!.bytes.length).toBeLessThan(requestJson(original).length / 2);
    const back = unpackRequest(packed!.packing, packed!.bytes);
    expect(back).toEqual(original);
    expect(Object.keys(back.headers)).toEqual(['X-Z', 'Content-Type', 'X-A']);
  });

  it('leaves requests under the threshold plain', () => {
    const small = request('{}');
    expect(requestJson(small).length).toBeLessThan(PACK_THRESHOLD_BYTES);
    expect(packRequest(small)).toBeUndefined();
  });

  it('packs from PACK_THRESHOLD_BYTES of JSON on', () => {
    const base = requestJson(request('')).length;
    const at = request('a'.repeat(PACK_THRESHOLD_BYTES - base));
    const under = request('a'.repeat(PACK_THRESHOLD_BYTES - base - 1));
    expect(requestJson(at).length).toBe(PACK_THRESHOLD_BYTES);
    expect(packRequest(at)?.packing).toBe(PACKING_BROTLI_JSON);
    expect(packRequest(under)).toBeUndefined();
  });

  it('keeps any string exactly, lone surrogates and NUL included', () => {
    const odd = request(`\ud800 \udfff \u0000 😀 ${'ab'.repeat(200)}`);
    const packed = packRequest(odd)!;
    expect(unpackRequest(packed.packing, packed.bytes)).toEqual(odd);
  });

  it('packs smaller than DEFLATE did, and still reads requests packed with DEFLATE', () => {
    const original = request(
      JSON.stringify({
        eventType: 'LOAN_DISBURSEMENT',
        loan: { id: 'LN-2026-0100003', amount: 25003.5, currency: 'EUR', termMonths: 36 },
        customer: { id: 'CUS-00000003', name: "Zoë O'Connor-Smith", email: 'zoe@example.com' },
        note: 'Personal loan, 36 months, fixed rate; statements by e-mail',
      }),
    );
    const json = requestJson(original);
    const deflated = deflateRawSync(json);
    expect(packRequest(original)!.bytes.length).toBeLessThan(deflated.length);
    expect(unpackRequest(PACKING_DEFLATE_JSON, deflated)).toEqual(original);
  });

  it('refuses an unknown packing or bytes that are not a packed request', () => {
    const packed = packRequest(request('x'.repeat(500)))!;
    expect(() => unpackRequest('zstd/json', packed.bytes)).toThrow(/unknown packing/);
    expect(() => unpackRequest(PACKING_DEFLATE_JSON, Buffer.from('not deflate'))).toThrow();
    expect(() => unpackRequest(PACKING_BROTLI_JSON, Buffer.from('not brotli'))).toThrow();
    // Another packing's bytes are not this one's.
    expect(() => unpackRequest(PACKING_DEFLATE_JSON, packed.bytes)).toThrow();
  });

  it.each([
    ['three elements', ['POST', 'https://x.example/', {}]],
    ['five elements', ['POST', 'https://x.example/', {}, 'b', 'extra']],
    ['no method', [null, 'https://x.example/', {}, 'b']],
    ['no url', ['POST', 7, {}, 'b']],
    ['headers that are not an object', ['POST', 'https://x.example/', 'h', 'b']],
    ['null headers', ['POST', 'https://x.example/', null, 'b']],
    ['a body that is not a string', ['POST', 'https://x.example/', {}, 7]],
    ['an object', { method: 'POST' }],
  ])('refuses stored JSON with %s as not a packed request', (_name, value) => {
    const bytes = brotliCompressSync(Buffer.from(JSON.stringify(value), 'utf8'));
    expect(() => unpackRequest(PACKING_BROTLI_JSON, bytes)).toThrow(
      'stored request is not a packed request',
    );
  });
});
