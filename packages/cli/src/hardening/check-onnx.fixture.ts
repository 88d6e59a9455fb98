/**
 * Every model a hardening test produces must be valid: onnxruntime loads it, and the reference
 * `onnx.checker` accepts it where Debian's python3-onnx is installed. That package is onnx 1.12 (opsets
 * up to 17, IR up to 8): newer models are reported as not checkable rather than failed, and without
 * python3-onnx the check is skipped with a message — onnxruntime's load still runs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeModel, encodeModel, type onnx } from '@shrink/core';
import { createSession } from '@shrink/core/runtime';

export interface OnnxCheck {
  /** True when onnx.checker ran and accepted the model. */
  checked: boolean;
  /** Why the checker did not run (absent, or the model is newer than it knows). */
  skipped?: string;
}

interface Checker {
  python: string;
  opset: number;
  ir: number;
}

let checker: Checker | null | undefined;
const warned = new Set<string>();

/** Why onnx.checker cannot run here (no python3 with onnx), or undefined when it can: a test's skip reason. */
export function checkerUnavailable(): string | undefined {
  return findChecker() ? undefined : 'onnx.checker is not installed (Debian python3-onnx; .ci/run installs it when it can)';
}

/** The first python3 that can import onnx (pyenv shims may shadow Debian's /usr/bin/python3). */
function findChecker(): Checker | null {
  if (checker !== undefined) return checker;
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, ['-c', 'import onnx, onnx.defs; print(onnx.defs.onnx_opset_version(), onnx.IR_VERSION)'], {
      encoding: 'utf8',
    });
    if (r.status === 0) {
      const [opset, ir] = r.stdout.trim().split(' ').map(Number);
      return (checker = { python, opset: opset!, ir: ir! });
    }
  }
  return (checker = null);
}

function note(msg: string): void {
  if (warned.has(msg)) return;
  warned.add(msg);
  console.log(`# checkOnnx: ${msg}`);
}

// One python process checks every model of a test file (importing onnx costs ~0.3 s per start).
const SERVER = [
  'import sys, json, onnx',
  'for line in sys.stdin:',
  '    try:',
  '        onnx.checker.check_model(line.rstrip("\\n"))',
  '        print(json.dumps(None), flush=True)',
  '    except Exception as e:',
  '        print(json.dumps(str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__), flush=True)',
].join('\n');
let server: { child: ChildProcessWithoutNullStreams; waiting: Array<(line: string) => void> } | undefined;

/** The checker keeps the test process alive only while it owes an answer; idle, it ends with stdin. */
function hold(child: ChildProcessWithoutNullStreams, on: boolean): void {
  for (const h of [child, child.stdin, child.stdout, child.stderr] as unknown as Array<{ ref?: () => void; unref?: () => void }>) {
    if (on) h.ref?.();
    else h.unref?.();
  }
}

/** The checker's verdict on one file: undefined when it accepts it, else its last message line. */
function runChecker(c: Checker, file: string): Promise<string | undefined> {
  if (!server) {
    const child = spawn(c.python, ['-u', '-c', SERVER], { stdio: ['pipe', 'pipe', 'pipe'] });
    const waiting: Array<(line: string) => void> = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      waiting.shift()?.(line);
      if (waiting.length === 0) hold(child, false);
    });
    hold(child, false);
    server = { child, waiting };
  }
  const s = server;
  return new Promise((resolve) => {
    s.waiting.push((line) => resolve((JSON.parse(line) as string | null) ?? undefined));
    hold(s.child, true);
    s.child.stdin.write(`${file}\n`);
  });
}

/** Runs onnx.checker.check_model on a model file or bytes; throws (assert) with the checker's message. */
export async function checkOnnx(model: string | Uint8Array | onnx.IModelProto): Promise<OnnxCheck> {
  const c = findChecker();
  if (!c) {
    const why = 'python3-onnx is not installed (apt install python3-onnx): onnx.checker skipped';
    note(why);
    return { checked: false, skipped: why };
  }
  let file: string;
  let tmp: string | undefined;
  if (typeof model === 'string') file = model;
  else {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'shrink-check-'));
    file = path.join(tmp, 'model.onnx');
    writeFileSync(file, model instanceof Uint8Array ? model : encodeModel(model));
  }
  try {
    const header =
      typeof model === 'string' ? decodeModel(readFileSync(model), model) : model instanceof Uint8Array ? decodeModel(model) : model;
    {
      const opset = Number(header.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);
      const ir = Number(header.irVersion ?? 0);
      if (opset > c.opset || ir > c.ir) {
        const why = `onnx ${c.python === 'python3' ? '' : `(${c.python}) `}knows opsets up to ${c.opset} and IR up to ${c.ir}; this model has opset ${opset}, IR ${ir}: not checked`;
        note(why);
        return { checked: false, skipped: why };
      }
    }
    // check_model on the path: external data is read from beside the file, and > 2 GB models work.
    const err = await runChecker(c, file);
    if (err !== undefined && /higher than the checker|under development|opset_import.*not supported|is not a registered/i.test(err)) {
      const why = `onnx.checker (onnx ${c.opset}) cannot check this model: ${err}`;
      note(why);
      return { checked: false, skipped: why };
    }
    assert.equal(err, undefined, `onnx.checker rejects ${typeof model === 'string' ? model : 'the model'}: ${err}`);
    return { checked: true };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** onnxruntime loads it (from its path, so external data resolves) and onnx.checker accepts it. */
export async function assertValidModel(model: string | Uint8Array | onnx.IModelProto): Promise<OnnxCheck> {
  const s = await createSession(typeof model === 'string' || model instanceof Uint8Array ? model : encodeModel(model));
  await s.release();
  return await checkOnnx(model);
}
