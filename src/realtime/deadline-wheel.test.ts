import { describe, expect, it } from 'vitest';
import { DeadlineWheel, type Scheduled } from './deadline-wheel.ts';

interface Item extends Scheduled {
  name: string;
}

const item = (name: string): Item => ({ name, wheelSlot: -1 });

function wheel() {
  let now = 10_000;
  const fired: Array<[string, number]> = [];
  const errors: unknown[] = [];
  const w = new DeadlineWheel<Item>(
    (i, at) => {
      if (i.name === 'boom') throw new Error('boom');
      fired.push([i.name, at]);
    },
    (err) => errors.push(err),
    250,
    () => now,
  );
  return { w, fired, errors, advance: (ms: number) => ((now += ms), w.tick()) };
}

describe('DeadlineWheel', () => {
  it('fires items at or after their deadline, never before', () => {
    const { w, fired, advance } = wheel();
    w.schedule(item('a'), 10_600);
    w.schedule(item('b'), 10_250);
    advance(249);
    expect(fired).toEqual([]);
    advance(1);
    expect(fired.map(([n]) => n)).toEqual(['b']);
    advance(300); // now 10 550: 'a' is still 50 ms away
    expect(fired.map(([n]) => n)).toEqual(['b']);
    advance(200);
    expect(fired.map(([n]) => n)).toEqual(['b', 'a']);
    expect(fired[1]![1]).toBeGreaterThanOrEqual(10_600);
    expect(w.size).toBe(0);
  });

  it('reschedules and cancels', () => {
    const { w, fired, advance } = wheel();
    const a = item('a');
    w.schedule(a, 10_300);
    w.schedule(a, 12_000);
    expect(w.size).toBe(1);
    advance(1_000);
    expect(fired).toEqual([]);
    w.cancel(a);
    expect(a.wheelSlot).toBe(-1);
    advance(2_000);
    expect(fired).toEqual([]);
  });

  it('fires a deadline already in the past on the next tick', () => {
    const { w, fired, advance } = wheel();
    w.schedule(item('late'), 1);
    advance(250);
    expect(fired.map(([n]) => n)).toEqual(['late']);
  });

  it('catches up after a long stall without walking every slot', () => {
    const { w, fired, advance } = wheel();
    w.schedule(item('a'), 20_000);
    w.schedule(item('b'), 5_000_000);
    advance(10_000_000);
    expect(fired.map(([n]) => n)).toEqual(['a', 'b']);
  });

  it('keeps firing the rest of a slot when one handler throws', () => {
    const { w, fired, errors, advance } = wheel();
    w.schedule(item('boom'), 10_100);
    w.schedule(item('after'), 10_100);
    advance(250);
    expect(fired.map(([n]) => n)).toEqual(['after']);
    expect(errors).toHaveLength(1);
  });
});
