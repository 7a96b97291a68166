import { jsonTextDepth, valueDepth } from '../../src/common/json-depth';
import { unstorableTextPath } from '../../src/common/storable-text';

describe('counting JSON nesting without recursion', () => {
  it('counts objects and arrays, not brackets inside strings or escaped quotes', () => {
    expect(jsonTextDepth('1')).toBe(0);
    expect(jsonTextDepth('{"a":[{"b":"[[[{{{"}]}')).toBe(3);
    expect(jsonTextDepth('{"a":"\\"[[[","b":{}}')).toBe(2);
    expect(jsonTextDepth('{"a\\\\":{"c":[]}}')).toBe(3);
  });

  it('counts 100,000 levels of text and of values without exhausting the stack', () => {
    const n = 100_000;
    const text = '['.repeat(n) + ']'.repeat(n);
    expect(jsonTextDepth(text)).toBe(n);
    const value = JSON.parse(text) as unknown;
    expect(valueDepth(value)).toBe(n);
    expect(valueDepth(value, 64)).toBe(65);
  });

  it("finds an unstorable string 100,000 levels down, and keeps the recursive walk's order", () => {
    let deep: unknown = 'a\u0000b';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(unstorableTextPath(deep)).toBe('[0]'.repeat(100_000));
    expect(unstorableTextPath({ a: { b: 'ok', 'c\u0000': 1 }, d: '\u0000' })).toBe('a.c\u0000');
    expect(unstorableTextPath({ a: ['x', { y: '\ud800' }], z: '\u0000' })).toBe('a[1].y');
    expect(unstorableTextPath({ a: 'fine' })).toBeNull();
  });
});
