/**
 * Every model a hardening test produces must be valid: onnxruntime loads it, and the reference
 * `onnx.checker` accepts it where Debian's python3-onnx is installed. That package is onnx 1.12 (opsets
 * up to 17, IR up to 8): newer models are reported as not checkable rather than failed, and without
 * python3-onnx the check is skipped with a message — onnxruntime's load still runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

/** The first python3 that can import onnx (pyenv shims may shadow Debian's /usr/bin/python3). */
function findChecker(): Checker | null {
  if (checker !== undefined) return checker;
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, ['-c', 'import onnx, onnx.defs; print(onnx.defs.onnx_opset_version(), onnx.IR_VERSION)'], { encoding: 'utf8' });
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

/** Runs onnx.checker.check_model on a model file or bytes; throws (assert) with the checker's message. */
export function checkOnnx(model: string | Uint8Array | onnx.IModelProto): OnnxCheck {
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
    const header = typeof model === 'string' ? decodeModel(readFileSync(model), model) : model instanceof Uint8Array ? decodeModel(model) : model;
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
    const r = spawnSync(c.python, ['-c', 'import onnx, sys; onnx.checker.check_model(sys.argv[1])', file], { encoding: 'utf8' });
    if (r.status !== 0 && /higher than the checker|under development|opset_import.*not supported|is not a registered/i.test(r.stderr)) {
      const why = `onnx.checker (onnx ${c.opset}) cannot check this model: ${r.stderr.trim().split('\n').at(-1)}`;
      note(why);
      return { checked: false, skipped: why };
    }
    assert.equal(r.status, 0, `onnx.checker rejects ${typeof model === 'string' ? model : 'the model'}:\n${r.stderr.trim().split('\n').slice(-3).join('\n')}`);
    return { checked: true };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** onnxruntime loads it (from its path, so external data resolves) and onnx.checker accepts it. */
export async function assertValidModel(model: string | Uint8Array | onnx.IModelProto): Promise<OnnxCheck> {
  const s = await createSession(typeof model === 'string' || model instanceof Uint8Array ? model : encodeModel(model));
  await s.release();
  return checkOnnx(model);
}
