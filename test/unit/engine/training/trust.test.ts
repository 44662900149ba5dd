/**
 * The workspace's trust reaches the engine with `training.start` (the extension sends
 * vscode.workspace.isTrusted): a boolean, optional (absent: not trusted), checked like every param.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkParams } from '../../../../src/engine/params';

test('training.start carries an optional boolean "trusted"', () => {
  const base = { workspace: '/w', kind: 'ppo' as const, preset: 'quick' };
  assert.equal(checkParams('training.start', { ...base, trusted: true }).trusted, true);
  assert.equal(checkParams('training.start', base).trusted, undefined);
  assert.throws(() => checkParams('training.start', { ...base, trusted: 'yes' }), { name: 'UserError', message: /^training\.start: 'trusted' / });
});
