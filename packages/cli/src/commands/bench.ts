import type { Argv, CommandModule } from 'yargs';
import Table from 'cli-table3';
import { formatValue } from '@shrink/core';
import { createSession, feedSetFor, latencyFeeds, measureEnergy, measureLatency } from '@shrink/core/runtime';
import { loadModelInput } from '../model-input.js';
import { ctxFromArgs, emit, type ArgsOf, type GlobalArgs } from '../output.js';
import { measureInputs } from '../data-arg.js';
import { dataFlag, runFlags } from './common-flags.js';
import { measureFromArgv, profileOptionsFrom } from '../measure-options.js';

const builder = (y: Argv<GlobalArgs>) =>
  dataFlag(runFlags(y.positional('model', { type: 'string', demandOption: true, describe: '.onnx file or tfjs model folder' })), false);
type Args = ArgsOf<typeof builder>;

export const benchCommand: CommandModule<GlobalArgs, Args> = {
  command: 'bench <model>',
  describe: 'Latency (p50/p90/p99), throughput and energy per inference in onnxruntime',
  builder,
  handler: async (argv) => {
    const m = measureFromArgv(argv);
    const ctx = ctxFromArgs(argv);
    const input = await loadModelInput(argv.model, ctx);
    const { data, feeds: given } = await measureInputs(argv);
    const session = await createSession(
      input.onnxPath ?? input.model,
      { ...(m.threads !== undefined ? { threads: m.threads } : {}), label: argv.model },
      ctx,
    );
    try {
      const set = await feedSetFor(session, input.model, {
        ...(data ? { data } : {}),
        ...(given ? { feeds: given } : {}),
        batch: m.batch,
        count: 1,
      });
      const feeds = set ? set.samples[0]! : latencyFeeds(session, m.batch, data);
      const { runs, maxTimeMs } = profileOptionsFrom(m, undefined);
      const latency = await measureLatency(
        session,
        feeds,
        { batch: m.batch, warmup: m.warmup, ...(runs !== undefined ? { runs } : {}), ...(maxTimeMs !== undefined ? { maxTimeMs } : {}) },
        ctx,
      );
      const energy = await measureEnergy(
        session,
        feeds,
        { latency, ...(m.gridIntensity !== undefined ? { gridIntensity: m.gridIntensity } : {}) },
        ctx,
      );
      const { p50, p90, p99, mean, stdev, min, max } = latency;
      const out = {
        path: input.path,
        batch: latency.batch,
        threads: m.threads ?? null,
        latencyMs: { p50, p90, p99, mean, stdev, min, max },
        runs: latency.runs,
        throughputPerSec: latency.throughputPerSec,
        method: latency.method,
        energy: {
          joulesPerInference: energy.joulesPerInference,
          kWhPerMillion: energy.kWhPerMillion,
          gCO2ePerMillion: energy.gCO2ePerMillion,
          method: energy.method,
          note: energy.note,
        },
      };
      emit(argv, out, () => {
        const t = new Table({ head: ['', 'value'], style: { head: [], border: [] } });
        t.push(
          ['latency p50 / p90 / p99', `${formatValue(p50, 'ms')} / ${formatValue(p90, 'ms')} / ${formatValue(p99, 'ms')}`],
          ['mean ± stdev', `${formatValue(mean, 'ms')} ± ${formatValue(stdev, 'ms')}`],
          ['throughput', formatValue(latency.throughputPerSec, 'samples/s')],
          ['energy / inference', formatValue(energy.joulesPerInference, 'J')],
          ['per 1M inferences', `${formatValue(energy.kWhPerMillion, 'kWh')}, ${formatValue(energy.gCO2ePerMillion, 'gCO2e')}`],
        );
        return `${t.toString()}\n${latency.method}\n${energy.note}`;
      });
    } finally {
      await session.release();
    }
  },
};
