import {
  PACK_THRESHOLD_BYTES,
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
    expect(packed!.length).toBeLessThan(requestJson(original).length / 2);
    const back = unpackRequest(PACKING_DEFLATE_JSON, packed!);
    expect(back).toEqual(original);
    expect(Object.keys(back.headers)).toEqual(['X-Z', 'Content-Type', 'X-A']);
  });

  it('leaves requests under the threshold plain', () => {
    const small = request('{}');
    expect(requestJson(small).length).toBeLessThan(PACK_THRESHOLD_BYTES);
    expect(packRequest(small)).toBeUndefined();
  });

  it('keeps any string exactly, lone surrogates and NUL included', () => {
    const odd = request(`\ud800 \udfff \u0000 😀 ${'ab'.repeat(200)}`);
    expect(unpackRequest(PACKING_DEFLATE_JSON, packRequest(odd)!)).toEqual(odd);
  });

  it('refuses an unknown packing or bytes that are not a packed request', () => {
    const packed = packRequest(request('x'.repeat(500)))!;
    expect(() => unpackRequest('zstd/json', packed)).toThrow(/unknown packing/);
    expect(() => unpackRequest(PACKING_DEFLATE_JSON, Buffer.from('not deflate'))).toThrow();
  });
});
