import {
  ExpressionSyntaxError,
  expressionsDeep,
  isTruthy,
  parseExpression,
  referencedSteps,
  resolveValue,
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

    it('accepts a quoted literal closing the chain, and only there', () => {
      expect(resolveValue('${{ params.region || "us-east-2" }}', scope)).toBe('us-east-2');
      expect(resolveValue('to ${{ params.region || "us-east-2" }}', scope)).toBe('to us-east-2');
      expect(() => parseExpression('"us-east-2" || params.region')).toThrow(ExpressionSyntaxError);
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
    it.each(['1+1', 'process.exit(1)', 'params["cluster"]', 'params.cluster.toUpperCase()', 'a ? b : c', '`x`', "'x'", 'params.cluster + "x"', '(params)', ''])(
      '${{ %s }} is refused as a syntax error',
      (source) => {
      expect(() => parseExpression(source)).toThrow(ExpressionSyntaxError);
      expect(() => resolveValue(`\${{ ${source} }}`, scope)).toThrow(ExpressionSyntaxError);
      },
    );

    it('does not reach inherited properties: constructor, __proto__, toString lead nowhere', () => {
      for (const p of ['constructor.constructor', 'params.constructor', 'params.__proto__', 'params.cluster.constructor', 'params.toString', 'hasOwnProperty']) {
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
      const tricky = { params: Object.create({ get secret() { called = true; return 'x'; } }) };
      expect(resolveValue('${{ params.secret }}', tricky)).toBeUndefined();
      expect(called).toBe(false);
    });
  });

  describe('helpers the engine relies on', () => {
    it('referencedSteps finds every step a value depends on, in with and if alike', () => {
      const refs = referencedSteps([{ a: '${{ steps.precheck.writer }}', b: ['x ${{ steps.switch.newWriter || steps.failover.requestedAtMs }}'] }, '${{ params.failback }}']);
      expect([...refs].sort()).toEqual(['failover', 'precheck', 'switch']);
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
    });
  });
});
