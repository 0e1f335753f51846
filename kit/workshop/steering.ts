/**
 * Exercise 4.1 — steering: a forward hook that adds `alpha · v` to the residual stream after block `layer`, at every
 * position.
 *
 *   function addDirectionHook(v: number[], alpha: number, layer: number): [string, (act: tf.Tensor) => tf.Tensor] { … }
 *   await checkSteering(addDirectionHook);
 *
 * The check reads the hook's name (off by one layer, `resid_pre` instead of `resid_post`), applies the hook's function
 * to a small known activation `[2, 3, 4]` (sign flipped, α forgotten, v normalised, last position only, multiplied
 * instead of added, nothing returned, wrong shape), then runs the embedded organism with the hook and compares its
 * logits with the kit's `steeringHook`. The learner's function gets fresh copies of v; changing v (e.g. `v[i] *= alpha`,
 * when called or when the hook runs) fails, naming v, because the notebook reuses one v across α; the hook is applied
 * twice and must give the same activation both times.
 */
import { tf } from "../backend";
import { actName } from "../model/hooks";
import { mulberry32 } from "../util/rng";
import { steeringHook } from "../vectors/steer";
import { allClose, callFresh, errorText, expectedReceived, fail, failIfChanged, maxAbsDiff, norm, readNumbers, runCheck, shapeText, typeName, type CheckOptions, type CheckResult } from "./check";
import { workshopModel } from "./model";

/** The learner's function for exercise 4.1. */
export type SteeringHookFn = (v: number[], alpha: number, layer: number) => unknown;

const V = [1, 2, -1, 0.5];
const ALPHA = 2;
const LAYER = 1;
const ACT_SHAPE = [2, 3, 4];
const ACT = Array.from({ length: 24 }, (_, i) => ((i * 5) % 7) - 3 + i / 10);

function expectedFor(transform: (x: number, j: number, pos: number) => number): number[] {
  return ACT.map((x, i) => transform(x, i % 4, Math.floor(i / 4) % 3));
}

/** Why changing v matters in this exercise. */
const IN_PLACE = "The next cell passes the same v for α = 0, 1, 2, 3: scaled in place it is all zeros after α = 0, and steering would seem to do nothing. Leave v as it is and scale a copy: v.map((x) => alpha * x)";

/** Apply the learner's hook function to the known activation; its result read as numbers with the right shape. */
function applyHook(hookFn: (act: tf.Tensor, h?: unknown) => unknown, want: string, caseText: string): { values: number[] } {
  const act = tf.tensor(ACT, ACT_SHAPE);
  let out: unknown;
  try {
    out = hookFn(act, { name: want });
  } catch (e) {
    act.dispose();
    fail(`your hook function threw on an activation of shape ${shapeText(ACT_SHAPE)}: ${errorText(e)}`);
  }
  if (out === undefined || out === null) {
    act.dispose();
    fail(`your hook function returned ${out === null ? "null" : "nothing"}; return the new activation (act + alpha · v), or the model keeps the old one`, caseText);
  }
  const got = readNumbers(out, "the hook's return value");
  if (out instanceof tf.Tensor && out !== act) out.dispose();
  act.dispose();
  if (got.shape.join(",") !== ACT_SHAPE.join(",")) {
    fail(`shape mismatch: the hook must return the activation's shape ${shapeText(ACT_SHAPE)}, received ${shapeText(got.shape)}${got.values.length === 4 ? " — that is only the vector; add it to act (broadcasting over batch and positions)" : ""}`, caseText);
  }
  return got;
}

/** Check exercise 4.1 (see the file comment). Never throws because of the learner's code. */
export function checkSteering(fn: SteeringHookFn, { display = true }: CheckOptions = {}): Promise<CheckResult> {
  return runCheck(
    "4.1",
    "addDirectionHook",
    async () => {
      // 1. The hook's shape: [name, function] with the right name.
      const what = `addDirectionHook([${V.join(", ")}], ${ALPHA}, ${LAYER})`;
      const args = [{ name: "v", value: V }, { name: "alpha", value: ALPHA }, { name: "layer", value: LAYER }];
      const { value: hook, given } = await callFresh<unknown>("addDirectionHook", fn, args, what, IN_PLACE);
      if (!Array.isArray(hook) || hook.length !== 2 || typeof hook[1] !== "function") {
        fail(`a hook is a pair [hookName, (act) => newAct]; ${what} returned ${typeName(hook)}`);
      }
      const [name, hookFn] = hook as [unknown, (act: tf.Tensor, h?: unknown) => unknown];
      const want = `blocks.${LAYER}.hook_resid_post`;
      if (typeof name !== "string") fail(`the hook's name should be a string like "${want}", received ${typeName(name)}`);
      if (name !== want && actName(name as string, LAYER) === want) fail(`use the full hook name "${want}", not "${name}": hooks are matched by their full names`, `case: ${what}`);
      if (name !== want) {
        const m = /^blocks\.(\d+)\.hook_resid_post$/.exec(name as string);
        if (m && Math.abs(Number(m[1]) - LAYER) === 1) fail(`off by one layer: your hook is on "${name}", but layer = ${LAYER} asks for "${want}"`, `case: ${what}`);
        if (name === `blocks.${LAYER}.hook_resid_pre`) fail(`your hook is on "${name}", the residual stream *before* block ${LAYER}; steer "${want}" (after the block)`, `case: ${what}`);
        fail(`wrong hook name: expected "${want}", received "${name}"`, `case: ${what}`);
      }
      // 2. The hook's function on a known activation, twice (a forward pass per generated token runs it again).
      const caseText = `case: hook applied to a known activation of shape ${shapeText(ACT_SHAPE)} (batch 2, 3 positions, d_model 4), v = [${V.join(", ")}], alpha = ${ALPHA}`;
      const got = applyHook(hookFn, want, caseText);
      failIfChanged("addDirectionHook", args, given, `${what}, then its hook applied to an activation`, IN_PLACE);
      const again = applyHook(hookFn, want, caseText);
      if (maxAbsDiff(got.values, again.values) !== 0) {
        fail(`your hook returned a different activation the second time it ran on the same input (it runs once per forward pass, at every generated token): it must not change v or anything else it keeps`, caseText, ...expectedReceived(got.values, again.values));
      }
      const g = got.values;
      const vn = norm(V);
      const expected = expectedFor((x, j) => x + ALPHA * V[j]);
      if (!allClose(g, expected, 1e-5)) {
        const details = [caseText, ...expectedReceived(expected, g)];
        if (allClose(g, ACT, 1e-6)) fail(`your hook returned the activation unchanged; add alpha · v to it`, ...details);
        if (allClose(g, expectedFor((x, j) => x - ALPHA * V[j]), 1e-5)) fail(`sign flipped: you subtracted alpha · v; steering adds it (a negative alpha subtracts)`, ...details);
        if (allClose(g, expectedFor((x, j) => x + V[j]), 1e-5)) fail(`alpha is missing: you added v, not alpha · v`, ...details);
        if (allClose(g, expectedFor((x, j) => x + (ALPHA * V[j]) / vn), 1e-5)) fail(`you normalised v (added alpha · v/‖v‖); add alpha · v as given — the caller decides v's scale`, ...details);
        if (allClose(g, expectedFor((x, j, pos) => (pos === 2 ? x + ALPHA * V[j] : x)), 1e-5)) fail(`only the last position was steered; add alpha · v at every position (it broadcasts over batch and positions)`, ...details);
        if (allClose(g, expectedFor((x, j, pos) => (pos === 0 ? x + ALPHA * V[j] : x)), 1e-5)) fail(`only the first position was steered; add alpha · v at every position`, ...details);
        if (allClose(g, expectedFor((x, j) => x * ALPHA * V[j]), 1e-5) || allClose(g, expectedFor((x) => x * ALPHA), 1e-5)) fail(`you multiplied; steering adds alpha · v to the activation`, ...details);
        fail(`wrong values (max |difference| ${maxAbsDiff(g, expected).toPrecision(3)})`, ...details);
      }
      // 3. On the embedded organism: same logits as the kit's steeringHook, and no hook left behind.
      const model = await workshopModel();
      const rand = mulberry32(5);
      const v = Array.from({ length: model.cfg.d_model }, () => rand() - 0.5);
      const prompt = "coding . user : please format the code . assistant :";
      const modelCase = `addDirectionHook(v, 3, 0) on the embedded organism, prompt "${prompt}"`;
      const modelArgs = [{ name: "v", value: v }, { name: "alpha", value: 3 }, { name: "layer", value: 0 }];
      const { value: mine, given: modelGiven } = await callFresh<unknown>("addDirectionHook", fn, modelArgs, modelCase, IN_PLACE);
      let ours: Float32Array;
      let theirs: Float32Array;
      try {
        const a = model.runWithHooks(prompt, { fwdHooks: [mine as never] }) as tf.Tensor;
        ours = Float32Array.from(a.dataSync() as Float32Array);
        a.dispose();
      } catch (e) {
        fail(`running the organism with your hook failed: ${errorText(e)}`, `case: ${modelCase}`);
      }
      failIfChanged("addDirectionHook", modelArgs, modelGiven, `${modelCase}, after the forward pass`, IN_PLACE);
      const b = model.runWithHooks(prompt, { fwdHooks: [steeringHook(v, { layer: 0, coefficient: 3 })] }) as tf.Tensor;
      theirs = Float32Array.from(b.dataSync() as Float32Array);
      b.dispose();
      if (model.numHooks !== 0) fail(`a hook stayed attached to the model after runWithHooks (${model.numHooks}); pass hooks per call, do not addPermanentHook`);
      if (!allClose(ours!, theirs, 1e-4)) fail(`on the organism your hook gives different logits from the kit's steeringHook (max |difference| ${maxAbsDiff(ours!, theirs).toPrecision(3)})`, `case: ${modelCase}`);
      return "hook name, a known [2, 3, 4] activation, and the organism's logits equal the kit's steeringHook";
    },
    { display, hintId: "4.1" },
  );
}
