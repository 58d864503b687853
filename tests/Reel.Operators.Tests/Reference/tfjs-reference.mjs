// Runs TensorFlow.js graph models (CPU backend, no download) on input tensors Reel wrote, and writes the raw outputs,
// so the test beside it can compare them with Reel's ONNX Runtime outputs.
//
//   node tfjs-reference.mjs DIR      DIR/cases.json: [{ "model": ".../centernet.json", "input": "x.f32",
//                                     "shape": [1, 3, 512, 512] (NCHW, as Reel feeds it), "outputs": ["name", ...] }]
// Writes DIR/<input minus .f32>.<k>.f32 for each requested output k, and prints one line per case.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const { loadGraphModel } = require('@tensorflow/tfjs-converter');

async function load(modelJson) {
  const json = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const folder = path.dirname(modelJson);
  const weightSpecs = [];
  const shards = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(folder, p)));
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const handler = {
    load: async () => ({
      modelTopology: json.modelTopology,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata,
      weightSpecs,
      weightData,
    }),
  };
  return loadGraphModel(handler);
}

const dir = process.argv[2];
await tf.setBackend('cpu');
const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
const models = new Map();
for (const c of cases) {
  if (!models.has(c.model)) models.set(c.model, await load(c.model));
  const model = models.get(c.model);
  const raw = fs.readFileSync(path.join(dir, c.input));
  const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  // Reel feeds NCHW; the TensorFlow graph takes NHWC.
  const nhwc = tf.tidy(() => tf.transpose(tf.tensor(values, c.shape, 'float32'), [0, 2, 3, 1]));
  const results = await model.executeAsync(nhwc, c.outputs);
  const list = Array.isArray(results) ? results : [results];
  for (let k = 0; k < list.length; k++) {
    const data = await list[k].data();
    const out = Buffer.from(new Float32Array(data).buffer);
    fs.writeFileSync(path.join(dir, `${c.input.replace(/\.f32$/, '')}.${k}.f32`), out);
  }
  tf.dispose([nhwc, ...list]);
  console.log(`${c.input}: ${c.outputs.join(', ')}`);
}
