/**
 * "RLHF: New Reward Function": asks for a name, writes a typed example to
 * .rlhf/rewards/<name>.ts (never over an existing file) and opens it. Trusted workspaces only:
 * reward modules are code the engine runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { REWARD_NAME, rewardFileOf, rewardTemplate } from './rewardTemplate';
import { requireProject, requireTrust } from './workspace';

export function registerRewardCommands(): vscode.Disposable[] {
  const newRewardFunction = async (): Promise<void> => {
    if (!requireTrust()) return;
    const workspace = requireProject();
    if (!workspace) return;
    const fileOf = (name: string): string => path.join(workspace, '.rlhf', rewardFileOf(name));
    const name = (
      await vscode.window.showInputBox({
        title: 'RLHF: new reward function',
        prompt: 'Its name: the file .rlhf/rewards/<name>.ts, and the metric rewards/<name>/mean.',
        placeHolder: 'endsWithPeriod',
        ignoreFocusOut: true,
        validateInput: (v) => {
          const n = v.trim();
          if (!REWARD_NAME.test(n)) return 'Letters, digits, _ and - only, starting with a letter or digit (at most 64).';
          return fs.existsSync(fileOf(n)) ? `.rlhf/${rewardFileOf(n)} already exists.` : undefined;
        },
      })
    )?.trim();
    if (!name) return;
    const file = fileOf(name);
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // 'wx': fails rather than overwrite a file created since the name was checked.
      fs.writeFileSync(file, rewardTemplate(name), { flag: 'wx' });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      void vscode.window.showErrorMessage(code === 'EEXIST' ? `RLHF: ${file} already exists; it was left as it is.` : `RLHF: cannot write ${file} (${code ?? String(err)}).`);
      return;
    }
    await vscode.window.showTextDocument(vscode.Uri.file(file));
    void vscode.window.showInformationMessage(`RLHF: reward function ${name} created. Use it in a GRPO config's "rewards": { "type": "module", "file": "${rewardFileOf(name)}" }.`);
  };
  return [vscode.commands.registerCommand('rlhf.newRewardFunction', newRewardFunction)];
}
