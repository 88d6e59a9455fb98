import type { Argv, CommandModule } from 'yargs';
import { withUnmetLimits } from '@shrink/core';
import { renderTable } from '@shrink/core/terminal';
import { compareModels, evaluateLm } from '@shrink/core/runtime';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type ArgsOf, type GlobalArgs } from '../output.js';
import { measureInputs } from '../data-arg.js';
import { dataFlag, profileOptions, runFlags } from './common-flags.js';
import { browserNotes, measureCtx, targetFlag, targetFromArgv, targetNotes } from '../target-flag.js';
import { addLmRows, lmFlags, lmOptions, lmTokens, wantsLm } from './lm-flags.js';

const builder = (y: Argv<GlobalArgs>) =>
  lmFlags(
    targetFlag(
      dataFlag(
        runFlags(
          y
            .positional('a', { type: 'string', demandOption: true, describe: 'Baseline model' })
            .positional('b', { type: 'string', demandOption: true, describe: 'Candidate model' }),
        ),
        false,
      ),
    ),
  );
type Args = ArgsOf<typeof builder>;

export const compareCommand: CommandModule<GlobalArgs, Args> = {
  command: 'compare <a> <b>',
  describe: 'Side-by-side table of A (baseline) and B: deltas, ratios, fidelity; latency interleaved in one run',
  builder,
  handler: async (argv) => {
    const measure = profileOptions(argv, undefined);
    const tgt = targetFromArgv(argv);
    const ctx = ctxFromArgs(argv);
    const [a, b] = [await loadModelInput(argv.a, ctx), await loadModelInput(argv.b, ctx)];
    const { data, feeds } = await measureInputs(argv);
    // Read first, so a bad tokens file fails before minutes of measurement.
    const lmData = wantsLm(argv) ? await lmTokens(argv) : undefined;
    const asTest = (m: typeof a) => ({
      name: m.path,
      model: m.model,
      ...(m.onnxPath ? { path: m.onnxPath } : {}),
      diskBytes: m.diskBytes,
    });
    // B is checked against the target and both are measured in its runtime (wasm: onnxruntime-web).
    const onTarget = tgt ? targetNotes(b.model, tgt, b.path) : [];
    // In Chromium too for wasm/webgpu; compare reports, it does not refuse (allowDegraded).
    const browser = tgt ? await browserNotes(tgt, a.model, b.model, b.path, true, ctx, feeds?.file) : undefined;
    if (browser) onTarget.push(...browser.notes);
    const cmp = await compareModels(
      asTest(a),
      [asTest(b)],
      { ...measure, ...(data ? { data } : {}), ...(feeds ? { feeds } : {}) },
      measureCtx(ctx, tgt),
    );
    const cand = cmp.report.candidates[0];
    // Language models: perplexity of both, next-token KL and top-1 on the same token windows (llama.cpp's three numbers).
    if (cand && lmData) {
      const lm = await evaluateLm(
        [
          { model: a.onnxPath ?? a.model, label: argv.a },
          { model: b.onnxPath ?? b.model, label: argv.b },
        ],
        lmData,
        lmOptions(argv),
        ctx,
      );
      addLmRows(cand, lm);
    }
    if (cand && onTarget.length > 0) cand.notes = [...(cand.notes ?? []), ...onTarget];
    const guard = cand && withUnmetLimits(cand.guard, browser?.unmet);
    if (cand && guard) cand.guard = guard;
    const fid = cmp.candidates[0]?.fidelity;
    emit(argv, { report: cmp.report, fidelity: fid ?? null }, () => renderTable(cmp.report));
  },
};
