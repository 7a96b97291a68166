import { decideOnFailure, jumpedOver } from '../../src/runbooks/on-failure';

const list = [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }];

describe('onFailure decisions (pure; the executor records them)', () => {
  it('fail by default, continue by either spelling, jump forward to a named step', () => {
    expect(decideOnFailure({}, list, 0)).toEqual({ kind: 'fail' });
    expect(decideOnFailure({ continueOnFailure: true }, list, 0)).toEqual({ kind: 'continue' });
    expect(decideOnFailure({ onFailure: 'continue' }, list, 0)).toEqual({ kind: 'continue' });
    expect(decideOnFailure({ onFailure: 'step:d' }, list, 0)).toEqual({ kind: 'jump', to: 'd', index: 3 });
  });

  it('a backward, self or unknown target fails safe (a definition changed under a run never loops)', () => {
    expect(decideOnFailure({ onFailure: 'step:a' }, list, 2)).toEqual({ kind: 'fail' });
    expect(decideOnFailure({ onFailure: 'step:c' }, list, 2)).toEqual({ kind: 'fail' });
    expect(decideOnFailure({ onFailure: 'step:zz' }, list, 0)).toEqual({ kind: 'fail' });
  });

  it('jumpedOver names the steps between a failed step and its target, from the records alone', () => {
    const defs = [{ id: 'a', onFailure: 'step:d' }, { id: 'b' }, { id: 'c' }, { id: 'd' }];
    expect([...jumpedOver(defs, (id) => id === 'a')]).toEqual([
      ['b', 'a'],
      ['c', 'a'],
    ]);
    expect([...jumpedOver(defs, () => false)]).toEqual([]);
  });
});
