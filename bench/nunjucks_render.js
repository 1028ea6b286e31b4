#!/usr/bin/env node
/*
 * nunjucks_render.js - the Nunjucks side of bench_render (issue 3): the same four templates and
 * contexts (written by `bench_render --write-data DIR`), in the same two modes:
 *
 *   parse+render  env.renderString(src, ctx) per call
 *   render        new nunjucks.Template(src, env, null, true) once, then tmpl.render(ctx)
 *
 * Output is materialised with Buffer.from(result) (V8 string ropes would otherwise skip the
 * copy the C engine makes). The first output of each template is compared with the C engine's
 * (DIR/NAME.out) so both programs provably do the same work.
 *
 *   node nunjucks_render.js DIR [--seconds S] [--iters N]
 *
 * Prints the same RESULT lines as bench_render for scripts/bench_render.sh.
 */
'use strict';
const fs = require('fs');
const path = require('path');

// bench/node_modules (npm ci here), else the corpus generator's copy (same version, 3.2.4)
const modPath = require.resolve('nunjucks', {
  paths: [__dirname, path.join(__dirname, '..', 'tests', 'template')],
});
const nunjucks = require(modPath);
const version = require(path.join(path.dirname(modPath), 'package.json')).version;

const args = process.argv.slice(2);
const dir = args[0];
let seconds = 1;
let iters = 0;
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--seconds') seconds = Number(args[++i]);
  else if (args[i] === '--iters') iters = Number(args[++i]);
}
if (!dir) {
  console.error('usage: node nunjucks_render.js DIR [--seconds S] [--iters N]');
  process.exit(2);
}

const env = nunjucks.configure({ autoescape: false });

function measure(name, mode, fn) {
  let out = Buffer.from(fn()); // warm-up (and JIT)
  let n = 0;
  const t0 = process.hrtime.bigint();
  let t1 = t0;
  for (;;) {
    out = Buffer.from(fn());
    n++;
    if (iters > 0) {
      if (n >= iters) break;
    } else if (n < 8 || (n & 7) === 0) {
      t1 = process.hrtime.bigint();
      if (Number(t1 - t0) / 1e9 >= seconds) break;
    }
  }
  t1 = process.hrtime.bigint();
  const dt = Math.max(Number(t1 - t0) / 1e9, 1e-9);
  const rps = n / dt;
  const mbs = (rps * out.length) / 1e6;
  console.log(`${name.padEnd(10)} ${mode.padEnd(13)} ${rps.toFixed(0).padStart(12)} renders/s ` +
    `${mbs.toFixed(1).padStart(10)} MB/s  (${n} calls, ${out.length} B out)`);
  console.log(`RESULT ${name} ${mode} ${rps.toFixed(1)} ${mbs.toFixed(2)}`);
}

let status = 0;
console.log(`nunjucks ${version} under node ${process.version}`);
for (const name of ['small', 'body10k', 'doc1m', 'config20k']) {
  const src = fs.readFileSync(path.join(dir, `${name}.njk`), 'utf8');
  const ctx = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8'));
  const want = fs.readFileSync(path.join(dir, `${name}.out`));
  const got = Buffer.from(env.renderString(src, ctx));
  if (!got.equals(want)) {
    console.error(`${name}: Nunjucks' output differs from the C engine's (${got.length} vs ${want.length} B)`);
    status = 1;
  }
  measure(name, 'parse+render', () => env.renderString(src, ctx));
  const tmpl = new nunjucks.Template(src, env, null, true);
  measure(name, 'render', () => tmpl.render(ctx));
}
process.exit(status);
