import t from 'tap';
import { EngineV2Tally } from '../agent/sync/engine-v2-counters.js';

const stats = (versionRefused: number, unknownScope: number, notAMember: number, deadLinkCloses = 0, pushesDropped = 0) => ({ stats: { versionRefused, unknownScope, notAMember, deadLinkCloses, pushesDropped } });

t.test('totals: ended sessions stay counted, live ones are added, gaps per scope', async (t) => {
  const tally = new EngineV2Tally();
  t.same(tally.totals([], 0), { versionRefused: 0, unknownScope: 0, notAMember: 0, deadLinkCloses: 0, pushesDropped: 0, scopeJoinsRejected: 0, gaps: 0 });
  tally.sessionEnded(stats(1, 2, 3, 1, 10).stats);
  tally.sessionEnded(stats(0, 1, 1).stats);
  tally.gap('aa');
  tally.gap('aa');
  tally.gap('bb');
  t.same(tally.totals([stats(5, 0, 2, 0, 5)], 7), { versionRefused: 6, unknownScope: 3, notAMember: 6, deadLinkCloses: 1, pushesDropped: 15, scopeJoinsRejected: 7, gaps: 3 });
  t.equal(tally.gapsOf('aa'), 2);
  t.equal(tally.gapsOf('cc'), 0);
  t.same(tally.totals([], 0).notAMember, 4, 'a live session that ends is not counted until sessionEnded');
});
