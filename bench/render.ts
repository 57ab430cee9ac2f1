/**
 * Rendering: the reference template through the engine's cached path (Renderer.render: parsed
 * once per definition version, then only rendered) against liquidjs parseAndRender on every
 * call (same engine configuration), and against JSON.stringify of the same context as the floor.
 * The cached path is also run with the fast path off (every step rendered by liquidjs), which
 * says what the fast path buys.
 */
import { Renderer } from '../lambdas/core/render';
import { buildRenderContext } from '../lambdas/core/render-context';
import { createEngine } from '../lambdas/core/render-engine';
import { required } from '../lambdas/core/required';
import { referenceDefinition, referenceEvent } from './fixtures/reference';
import { median, round } from './support/stats';
import type { Benchmark, BenchOptions, BenchResult } from './support/types';

const GOAL_SPEEDUP = 2.5;

/** Runs fn repeatedly for about `ms` and returns nanoseconds per call. */
function timeFor(fn: () => number, ms: number): { nsPerOp: number; sink: number } {
  let sink = 0;
  let ops = 0;
  let batch = 64;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < batch; i++) sink += fn();
    ops += batch;
    now = process.hrtime.bigint();
    if (batch < 4096) batch *= 2;
  }
  return { nsPerOp: Number(now - start) / ops, sink };
}

export const renderBenchmark: Benchmark = {
  name: 'render',
  title: 'Rendering the reference template',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const def = referenceDefinition();
    const ctx = buildRenderContext(def, referenceEvent(7), 'ntf_BENCHRENDER0000000000000');
    const renderer = new Renderer();
    const liquidOnly = new Renderer({ fastPath: false });
    const engine = createEngine();
    const headerTemplates = Object.values(def.headers);

    const methods: Record<string, () => number> = {
      cached: () => renderer.render(def, ctx).body.length,
      cachedNoFastPath: () => liquidOnly.render(def, ctx).body.length,
      parseAndRender: () => {
        let n = engine.parseAndRenderSync(def.url, ctx).length;
        for (const h of headerTemplates) n += engine.parseAndRenderSync(h, ctx).length;
        return n + engine.parseAndRenderSync(def.body, ctx).length;
      },
      jsonStringify: () => JSON.stringify(ctx).length,
    };
    const rounds = opts.quick ? 5 : 9;
    const roundMs = opts.quick ? 150 : 600;
    // Warm-up, so every method runs JIT-compiled code.
    for (const fn of Object.values(methods)) timeFor(fn, opts.quick ? 100 : 400);
    const samples: Record<string, number[]> = Object.fromEntries(
      Object.keys(methods).map((name) => [name, []]),
    );
    let sink = 0;
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so drift on a shared machine hits every method alike.
      const names = Object.keys(methods);
      for (let k = 0; k < names.length; k++) {
        const name = required(names[(r + k) % names.length], 'names[(r + k) % names.length]');
        const t = timeFor(required(methods[name], 'methods[name]'), roundMs);
        required(samples[name], 'samples[name]').push(t.nsPerOp);
        sink += t.sink;
      }
    }
    const cachedUs = median(required(samples.cached, 'samples.cached')) / 1000;
    const parseUs = median(required(samples.parseAndRender, 'samples.parseAndRender')) / 1000;
    const jsonUs = median(required(samples.jsonStringify, 'samples.jsonStringify')) / 1000;
    const noFastUs = median(required(samples.cachedNoFastPath, 'samples.cachedNoFastPath')) / 1000;
    const speedup = parseUs / cachedUs;
    const fastPathSpeedup = noFastUs / cachedUs;
    const vsJson = cachedUs / jsonUs;
    opts.log(
      `render: cached ${cachedUs.toFixed(2)} us, fast path off ${noFastUs.toFixed(2)} us, parseAndRender ${parseUs.toFixed(2)} us, JSON.stringify ${jsonUs.toFixed(2)} us (sink ${sink % 10})`,
    );
    const rendered = renderer.render(def, ctx);
    return {
      figures: {
        renderSpeedup: round(speedup),
        renderFastPathSpeedup: round(fastPathSpeedup),
        renderVsJsonStringify: round(vsJson),
      },
      rows: [
        {
          label: 'Render, cached vs parseAndRender (speedup)',
          key: 'renderSpeedup',
          value: round(speedup),
          unit: 'x',
          reference: `parseAndRender ${parseUs.toFixed(1)} us/op; cached ${cachedUs.toFixed(1)} us/op`,
          goal: `>= ${GOAL_SPEEDUP}`,
          met: speedup >= GOAL_SPEEDUP,
        },
        {
          label: 'Render, fast path on vs off (speedup)',
          key: 'renderFastPathSpeedup',
          value: round(fastPathSpeedup),
          unit: 'x',
          reference: `fast path off (every step through liquidjs) ${noFastUs.toFixed(1)} us/op`,
        },
        {
          label: 'Render, cached vs JSON.stringify (cost multiple)',
          key: 'renderVsJsonStringify',
          value: round(vsJson),
          unit: 'x',
          reference: `JSON.stringify ${jsonUs.toFixed(2)} us/op`,
        },
      ],
      details: {
        usPerOp: {
          cached: round(cachedUs),
          cachedNoFastPath: round(noFastUs),
          parseAndRender: round(parseUs),
          jsonStringify: round(jsonUs),
        },
        samplesNsPerOp: Object.fromEntries(
          Object.entries(samples).map(([k, v]) => [k, v.map((x) => Math.round(x))]),
        ),
        renderedBodyBytes: Buffer.byteLength(rendered.body),
        placeholders:
          (def.url + Object.values(def.headers).join('') + def.body).match(/\{\{/g)?.length ?? 0,
        compiles: renderer.stats.compiles,
      },
      notes: [
        'cached = Renderer.render (templates parsed once per definition version; renders URL, headers and body, checks the URL and that the body is JSON).',
        'parseAndRender = liquidjs parseAndRenderSync of the same URL, header and body templates on every call, same engine options, without the checks.',
      ],
    };
  },
};
