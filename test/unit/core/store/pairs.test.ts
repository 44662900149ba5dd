import { test } from 'node:test';
import assert from 'node:assert/strict';
import { derivePairs, groupByPrompt, promptPairs, rankingPairs } from '../../../../src/core/store/pairs';
import { agreement, cohenKappa, krippendorffAlphaNominal } from '../../../../src/core/store/agreement';
import { projectStats } from '../../../../src/core/store/stats';
import { promptWithBatch, tempProject } from './helpers';

test('a strict ranking of K gives C(K,2) pairs, better rank chosen', () => {
  const pairs = rankingPairs({ verdict: 'ranked', completionIds: ['a', 'b', 'c', 'd'], ranks: [3, 1, 4, 2] });
  assert.equal(pairs.length, 6);
  assert.deepEqual(
    pairs.map((p) => `${p.chosenId}>${p.rejectedId}:${p.margin}`),
    ['b>d:1', 'b>a:2', 'b>c:3', 'd>a:1', 'd>c:2', 'a>c:1'],
  );
});

test('ties give no pair between the tied; skip and all-bad give none', () => {
  const tied = rankingPairs({ verdict: 'ranked', completionIds: ['a', 'b', 'c'], ranks: [1, 2, 2] });
  assert.deepEqual(
    tied.map((p) => `${p.chosenId}>${p.rejectedId}`),
    ['a>b', 'a>c'],
  );
  assert.deepEqual(rankingPairs({ verdict: 'ranked', completionIds: ['a', 'b'], ranks: [1, 1] }), []);
  assert.deepEqual(rankingPairs({ verdict: 'skip', completionIds: ['a', 'b'] }), []);
  assert.deepEqual(rankingPairs({ verdict: 'allBad', completionIds: ['a', 'b'] }), []);
});

test('project pairs carry texts, are grouped per prompt, and leave out implicit labels unless enabled', async () => {
  const { project, cleanup } = await tempProject('alice');
  try {
    const b1 = await promptWithBatch(project, 'Greet', ['hi', 'hello', 'yo']);
    const b2 = await promptWithBatch(project, 'Part', ['bye', 'ciao']);
    const b3 = await promptWithBatch(project, 'Greet', ['hey', 'sup']);
    await project.rankings.submit({ batchId: b1.id, ranks: [2, 1, 3], note: 'formal is better' });
    await project.rankings.submit({ batchId: b2.id, verdict: 'allBad' });
    await project.rankings.submit({ batchId: b3.id, ranks: [1, 2] });
    await project.rankings.submit({ batchId: b2.id, ranks: [1, 2] }, { labeler: 'alice', source: 'implicit' });

    const pairs = derivePairs(project);
    assert.equal(pairs.length, 3 + 1);
    assert.deepEqual(pairs[0], {
      chosenId: b1.completions[1]?.id,
      rejectedId: b1.completions[0]?.id,
      margin: 1,
      promptId: b1.promptId,
      prompt: 'Greet',
      batchId: b1.id,
      chosen: 'hello',
      rejected: 'hi',
      labeler: 'alice',
      source: 'human',
      eventId: pairs[0]?.eventId,
      note: 'formal is better',
    });
    const groups = promptPairs(project);
    assert.deepEqual(
      groups.map((g) => [g.prompt, g.pairs.length]),
      [['Greet', 4]],
    );

    await project.updateMeta((m) => ({ ...m, settings: { ...m.settings, includeImplicit: true } }));
    const withImplicit = derivePairs(project);
    assert.equal(withImplicit.length, 5);
    assert.deepEqual(
      groupByPrompt(withImplicit).map((g) => [g.prompt, g.pairs.length]),
      [
        ['Greet', 4],
        ['Part', 1],
      ],
    );
  } finally {
    cleanup();
  }
});

test("Krippendorff's alpha (nominal) and Cohen's kappa match hand-computed values", () => {
  // Units (a,a) (a,b) (b,b) (b,b): o_aa=2, o_ab=o_ba=1, o_bb=4; n_a=3, n_b=5, n=8 → α = 1 − 7·2/30.
  const units = [
    ['a', 'a'],
    ['a', 'b'],
    ['b', 'b'],
    ['b', 'b'],
  ];
  assert.ok(Math.abs((krippendorffAlphaNominal(units) as number) - (1 - 14 / 30)) < 1e-12);
  // p_o = 3/4, p_e = ½·¼ + ½·¾ = ½ → κ = ½.
  assert.equal(cohenKappa(['a', 'a', 'b', 'b'], ['a', 'b', 'b', 'b']), 0.5);
  assert.equal(
    krippendorffAlphaNominal([
      ['a', 'a'],
      ['b', 'b', 'b'],
    ]),
    1,
  );
  assert.equal(
    krippendorffAlphaNominal([
      ['a', 'a'],
      ['a', 'a'],
    ]),
    null,
    'undefined with one value only',
  );
  assert.equal(krippendorffAlphaNominal([['a'], ['b']]), null, 'single-coder units carry nothing');
  // Three coders, one missing value: unit 1 (a,a,b) adds ½ per ordered pair: o_aa = 1, o_ab = o_ba = 1;
  // unit 2 (b,b) adds o_bb = 2. n_a = 2, n_b = 3, n = 5 → α = 1 − (5−1)·2/(2·2·3) = 1/3.
  assert.ok(
    Math.abs(
      (krippendorffAlphaNominal([
        ['a', 'a', 'b'],
        ['b', 'b'],
      ]) as number) -
        1 / 3,
    ) < 1e-12,
  );
});

test('agreement and stats over a project with two labelers on shared batches', async () => {
  const { project, cleanup } = await tempProject('alice');
  try {
    const b1 = await promptWithBatch(project, 'p1', ['a', 'b', 'c']);
    const b2 = await promptWithBatch(project, 'p2', ['x', 'y']);
    const b3 = await promptWithBatch(project, 'p3', ['m', 'n']);
    await project.rankings.submit({ batchId: b1.id, ranks: [1, 2, 3] });
    await project.rankings.submit({ batchId: b2.id, ranks: [1, 2] });
    await project.rankings.submit({ batchId: b3.id, verdict: 'skip' });
    await project.rankings.submit({ batchId: b1.id, ranks: [1, 3, 2] }, { labeler: 'bob' });
    await project.rankings.submit({ batchId: b2.id, ranks: [1, 2] }, { labeler: 'bob' });

    const report = agreement(project.rankings.current());
    assert.deepEqual(report.labelers, ['alice', 'bob']);
    assert.equal(report.sharedPrompts, 2);
    assert.equal(report.units, 4); // C(3,2) + 1
    assert.equal(report.pairwiseAgreement, 3 / 4); // only (b,c) differs
    assert.equal(report.byLabelerPair.length, 1);
    // Values: alice first,first,first,first; bob first,first,second,first → α = 1 − 7·2/(2·7·1)=0 (8 values, 7 'first').
    assert.ok(Math.abs((report.krippendorffAlpha as number) - (1 - (7 * 2) / (2 * 7 * 1))) < 1e-12);

    const stats = projectStats(project);
    assert.equal(stats.prompts, 3);
    assert.equal(stats.batches, 3);
    assert.equal(stats.completions, 7);
    assert.equal(stats.rankings, 5);
    assert.deepEqual(stats.verdicts, { ranked: 4, skip: 1, allBad: 0 });
    assert.equal(stats.pairs, 3 + 1 + 3 + 1);
    assert.deepEqual(
      stats.labelers.map((l) => [l.labeler, l.ranked, l.skip, l.events]),
      [
        ['alice', 2, 1, 3],
        ['bob', 2, 0, 2],
      ],
    );
    assert.deepEqual(
      stats.perPrompt.map((p) => [p.batches, p.completions, p.rankings, p.pairs]),
      [
        [1, 3, 2, 6],
        [1, 2, 2, 2],
        [1, 2, 1, 0],
      ],
    );
  } finally {
    cleanup();
  }
});
