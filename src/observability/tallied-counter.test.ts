import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TalliedCounter, TalliedTotal } from './tallied-counter.ts';

describe('tallied counters', () => {
  it('show every label value from the start and hand over what was added at each read, never twice', async () => {
    const registry = new Registry();
    const frames = new TalliedCounter({
      name: 't_frames_total',
      help: 'frames',
      label: 'outcome',
      values: ['in_order', 'duplicate'],
      registers: [registry],
    });
    const samples = new TalliedTotal({ name: 't_samples_total', help: 'samples', registers: [registry] });
    expect(await registry.metrics()).toMatch(/t_frames_total\{outcome="duplicate"\} 0/);
    frames.add('in_order');
    frames.add('in_order', 2);
    frames.add('duplicate');
    samples.add(10);
    samples.add(5);
    let text = await registry.metrics();
    expect(text).toMatch(/t_frames_total\{outcome="in_order"\} 3\n/);
    expect(text).toMatch(/t_frames_total\{outcome="duplicate"\} 1\n/);
    expect(text).toMatch(/t_samples_total 15\n/);
    frames.add('duplicate');
    samples.add(1);
    text = await registry.metrics();
    expect(text).toMatch(/t_frames_total\{outcome="in_order"\} 3\n/);
    expect(text).toMatch(/t_frames_total\{outcome="duplicate"\} 2\n/);
    expect(text).toMatch(/t_samples_total 16\n/);
    // A direct read collects too.
    frames.add('in_order');
    expect((await frames.counter.get()).values.find((v) => v.labels.outcome === 'in_order')?.value).toBe(4);
  });
});
