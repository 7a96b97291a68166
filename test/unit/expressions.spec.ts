import {
  ExpressionSyntaxError,
  expressionsDeep,
  isSingleExpression,
  isTruthy,
  mentionedSteps,
  parseExpression,
  referencedSteps,
  resolveValue,
  toJmespath,
  UnresolvedExpression,
} from '../../src/runbooks/expressions';

const scope = {
  params: { cluster: 'orders-aurora', failback: true, maxSwitchSeconds: 60, alarms: ['a', 'b'], empty: '', nothing: null, zero: 0 },
  steps: { precheck: { writer: 'orders-aurora-1', kind: 'cluster', detail: { az: 'eu-west-1a' } } },
  run: { id: 'r123' },
  defaults: { region: 'eu-west-1' },
};

describe('expressions: lookups, never code', () => {
  describe('a whole-value expression keeps the looked-up type', () => {
    it.each([
      ['${{ params.failback }}', true],
      ['${{ params.maxSwitchSeconds }}', 60],
      ['${{ params.zero }}', 0],
      ['${{ params.alarms }}', ['a', 'b']],
      ['${{ steps.precheck.detail }}', { az: 'eu-west-1a' }],
      ['${{params.cluster}}', 'orders-aurora'],
      ['  ${{ params.cluster }}', '  orders-aurora'],
    ])('%s → %p', (expr, expected) => {
      expect(resolveValue(expr, scope)).toEqual(expected);
    });

    it('makes a key whose whole value is unset disappear, in objects and arrays', () => {
      expect(resolveValue({ a: '${{ params.cluster }}', b: '${{ params.missing }}', c: 'x' }, scope)).toEqual({ a: 'orders-aurora', c: 'x' });
      expect(resolveValue(['${{ params.missing }}', 'kept', '${{ params.cluster }}'], scope)).toEqual(['kept', 'orders-aurora']);
    });

    it('leaves values without expressions alone', () => {
      expect(resolveValue({ n: 3, f: false, s: 'plain', nested: [{ x: null }] }, scope)).toEqual({ n: 3, f: false, s: 'plain', nested: [{ x: null }] });
    });
  });

  describe('interpolation inside longer text', () => {
    it('substitutes each expression as text', () => {
      expect(resolveValue('rds/${{ defaults.region }}/${{ params.cluster }}', scope)).toBe('rds/eu-west-1/orders-aurora');
      expect(resolveValue('switch within ${{ params.maxSwitchSeconds }}s: ${{ params.failback }}', scope)).toBe('switch within 60s: true');
      expect(resolveValue('az ${{ steps.precheck.detail }}', scope)).toBe('az {"az":"eu-west-1a"}');
    });

    it('throws UnresolvedExpression naming the expression when a part has no value', () => {
      let error: unknown;
      try {
        resolveValue('rds/${{ params.regoin }}/x', scope);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UnresolvedExpression);
      expect((error as UnresolvedExpression).expression).toBe('params.regoin');
      expect((error as UnresolvedExpression).path).toEqual(['params', 'regoin']);
      expect((error as Error).message).toContain('params.regoin');
    });
  });

  describe('|| takes the first value that is set', () => {
    it('falls back past unset, null and empty values', () => {
      expect(resolveValue('${{ params.region || defaults.region }}', scope)).toBe('eu-west-1');
      expect(resolveValue('${{ params.nothing || params.empty || params.cluster }}', scope)).toBe('orders-aurora');
      expect(resolveValue('${{ params.cluster || defaults.region }}', scope)).toBe('orders-aurora');
    });

    it('keeps 0 and false (they are set)', () => {
      expect(resolveValue('${{ params.zero || params.maxSwitchSeconds }}', scope)).toBe(0);
    });

    it('reads a standalone double-quoted string as text (as before JMESPath), anywhere in the chain', () => {
      expect(resolveValue('${{ params.region || "us-east-2" }}', scope)).toBe('us-east-2');
      expect(resolveValue('to ${{ params.region || "us-east-2" }}', scope)).toBe('to us-east-2');
      expect(resolveValue("${{ params.region || 'us-east-2' }}", scope)).toBe('us-east-2');
      expect(resolveValue('${{ "fixed" || params.cluster }}', scope)).toBe('fixed');
    });

    it('is unset when every alternative is', () => {
      expect(resolveValue('${{ params.a || params.b }}', scope)).toBeUndefined();
      expect(() => resolveValue('x-${{ params.a || params.b }}', scope)).toThrow(UnresolvedExpression);
    });
  });

  describe('unknown paths', () => {
    it.each(['params.missing', 'steps.nope.x', 'steps.precheck.writer.deeper', 'nope', 'run.id.length'])('%s has no value', (p) => {
      expect(resolveValue(`\${{ ${p} }}`, scope)).toBeUndefined();
    });
  });

  describe('nothing is evaluated as code', () => {
    it.each([
      '1+1',
      'process.exit(1)',
      'params["cluster"]',
      'params.cluster.toUpperCase(',
      '`x`',
      'params.cluster ===',
      '',
      'require("fs")x',
      'params..cluster',
    ])('${{ %s }} is refused as a syntax error', (source) => {
      expect(() => parseExpression(source)).toThrow(ExpressionSyntaxError);
      expect(() => resolveValue(`\${{ ${source} }}`, scope)).toThrow(ExpressionSyntaxError);
    });

    it('does not reach inherited properties: constructor, __proto__, toString lead nowhere', () => {
      for (const p of [
        'constructor.constructor',
        'params.constructor',
        'params.__proto__',
        'params.cluster.constructor',
        'params.toString',
        'hasOwnProperty',
      ]) {
        expect(resolveValue(`\${{ ${p} }}`, scope)).toBeUndefined();
        expect(() => resolveValue(`x \${{ ${p} }}`, scope)).toThrow(UnresolvedExpression);
      }
    });

    it('leaves scope prototypes untouched', () => {
      resolveValue({ a: '${{ __proto__.polluted }}', b: '${{ constructor.prototype }}' }, scope);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('does not run a getter on the way (lookups use own data properties only)', () => {
      let called = false;
      const tricky = {
        params: Object.create({
          get secret() {
            called = true;
            return 'x';
          },
        }),
      };
      expect(resolveValue('${{ params.secret }}', tricky)).toBeUndefined();
      expect(called).toBe(false);
    });
  });

  describe('helpers the engine relies on', () => {
    it('referencedSteps finds every step a value cannot do without, in with and if alike', () => {
      const refs = referencedSteps([{ a: '${{ steps.precheck.writer }}', b: ['x ${{ steps.check.ok && steps.gate.open }}'] }, '${{ params.failback }}']);
      expect([...refs].sort()).toEqual(['check', 'gate', 'precheck']);
    });

    it('referencedSteps leaves out a step named only as an alternative of ||, so a skipped one falls back', () => {
      expect([...referencedSteps({ a: '${{ steps.switch.newWriter || steps.failover.requestedAtMs }}' })]).toEqual([]);
      expect([...referencedSteps({ a: '${{ steps.fast.arn || params.cluster }}', b: '${{ steps.x.y }}' })]).toEqual(['x']);
      expect([...mentionedSteps({ a: '${{ steps.switch.newWriter || steps.failover.requestedAtMs }}' })].sort()).toEqual(['failover', 'switch']);
      // The skipped step's output is not in the scope, so the expression takes the fallback.
      expect(resolveValue('${{ steps.switch.newWriter || params.cluster }}', scope)).toBe('orders-aurora');
    });

    it('expressionsDeep says where each expression sits', () => {
      const found = [...expressionsDeep({ a: { b: ['${{ params.x }}', 'y ${{ run.id }}'] } })].map(([at, e]) => [at, e.source]);
      expect(found).toEqual([
        ['a.b[0]', 'params.x'],
        ['a.b[1]', 'run.id'],
      ]);
    });

    it('isTruthy treats "false", 0, "" and unset as false', () => {
      expect([true, 'yes', 1, 'false', false, 0, '', null, undefined].map(isTruthy)).toEqual([true, true, true, false, false, false, false, false, false]);
      expect([[], {}, [0], { a: 1 }].map(isTruthy)).toEqual([false, false, true, true]);
    });
  });

  describe('JMESPath: comparisons, logic and functions over the same roots', () => {
    const more = { ...scope, steps: { ...scope.steps, 'last-good': { taskDefinitionArn: 'arn:td:7', count: 3 } } };
    it.each([
      ["${{ params.cluster == 'orders-aurora' }}", true],
      ["${{ params.cluster != 'orders-aurora' }}", false],
      ['${{ params.maxSwitchSeconds > `30` && params.failback }}', true],
      ['${{ !(params.failback) }}', false],
      ["${{ contains(params.alarms, 'b') }}", true],
      ["${{ starts_with(params.cluster, 'orders') }}", true],
      ['${{ length(params.alarms) }}', 2],
      ['${{ steps.last-good.taskDefinitionArn }}', 'arn:td:7'],
      ['${{ steps.last-good.count >= `3` }}', true],
      ['${{ steps."last-good".count }}', 3],
      ["${{ params.nothing || 'fallback' }}", 'fallback'],
      ['${{ params.alarms[0] }}', 'a'],
    ])('%s → %p', (expr, expected) => {
      expect(resolveValue(expr, more)).toEqual(expected);
    });

    it('quotes hyphenated names after a dot and reads standalone "text" as a string', () => {
      expect(toJmespath('steps.last-good.taskDefinitionArn')).toBe('steps."last-good".taskDefinitionArn');
      expect(toJmespath('params.region || "eu-west-1"')).toBe("params.region || 'eu-west-1'");
      expect(toJmespath("steps.a-b.c == 'x-y'")).toBe('steps."a-b".c == \'x-y\'');
      expect(toJmespath('steps."a-b".c')).toBe('steps."a-b".c');
    });

    it('refuses "!a.b", which JMESPath reads as (!a).b, naming the fix', () => {
      expect(() => parseExpression('!params.failback')).toThrow(/write !\(a\.b\)/);
      expect(() => parseExpression('!(params.failback)')).not.toThrow();
    });

    it('records each scope path it reads, and whether it is only an alternative', () => {
      expect(parseExpression("steps.a.x || params.b == 'c'").paths).toEqual([
        { path: ['steps', 'a', 'x'], optional: true },
        { path: ['params', 'b'], optional: true },
      ]);
      expect(parseExpression('length(steps.list.items[?ok].id) > `0`').paths).toEqual([{ path: ['steps', 'list', 'items'], optional: false }]);
    });

    it('isSingleExpression: an if: must be one expression and nothing else', () => {
      expect(isSingleExpression('${{ params.a && params.b }}')).toBe(true);
      expect(isSingleExpression('${{ params.a }} && ${{ params.b }}')).toBe(false);
      expect(isSingleExpression('${{ params.a }}x')).toBe(false);
      expect(isSingleExpression('params.a')).toBe(false);
    });
  });
});
