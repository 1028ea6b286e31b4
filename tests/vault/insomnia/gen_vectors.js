#!/usr/bin/env node
// Generates Insomnia-format vault test vectors with Node's WebCrypto, the way Insomnia encrypts
// environment vault secrets: value -> encodeURIComponent -> AES-256-GCM (12-byte random IV,
// 128-bit tag, empty additional data) -> JSON {iv, t, ad, d} with hex fields -> base64. The vault
// key is base64(JSON.stringify(JWK)) of an exported A256GCM key.
//
// Usage: node gen_vectors.js [outdir]   (writes key.txt, expected.json, export_v4.json,
//        insomnia.Environment.db, export_v5.yaml, wrong_key.txt)
'use strict';
const { webcrypto } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const out = process.argv[2] || __dirname;
const subtle = webcrypto.subtle;
const hex = (buf) => Buffer.from(buf).toString('hex');

async function newKey() {
  const key = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
  const jwk = await subtle.exportKey('jwk', key);
  return { key, jwk, text: Buffer.from(JSON.stringify(jwk)).toString('base64') };
}

async function encryptSecretValue(value, key) {
  if (typeof value !== 'string' || !value) return value; // Insomnia leaves empty values as they are
  const iv = webcrypto.getRandomValues(new Uint8Array(12));
  const pt = new TextEncoder().encode(encodeURIComponent(value));
  const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv, tagLength: 128 }, key, pt));
  const d = ct.slice(0, ct.length - 16), t = ct.slice(ct.length - 16);
  return Buffer.from(JSON.stringify({ iv: hex(iv), t: hex(t), ad: '', d: hex(d) })).toString('base64');
}

(async () => {
  const k = await newKey();
  const other = await newKey();
  const base = {
    api_token: 'tok-123456',
    'db.password': 'p@ss w0rd%20/?&=#',
    unicode: 'h\u00e9llo \u4e16\u754c \ud83d\udd11',
    multi_line: 'line1\nline2\n',
    empty: '',
  };
  const sub = { sub_secret: 'only-in-sub', api_token: 'tok-123456' };
  // 'bad name' is not a valid vault name; sub_secret differs from Staging's (a conflict: the first
  // environment's value is kept).
  const sub2 = { 'bad name': 'has a space', sub_secret: 'DIFFERENT' };
  const enc = async (obj) => {
    const r = {};
    for (const [n, v] of Object.entries(obj)) r[n] = await encryptSecretValue(v, k.key);
    return r;
  };
  const vb = await enc(base), vs = await enc(sub), vs2 = await enc(sub2);

  const v4 = {
    _type: 'export', __export_format: 4, __export_source: 'insomnia.desktop.app:v10.3.0',
    resources: [
      { _id: 'wrk_1', _type: 'workspace', name: 'Demo' },
      { _id: 'env_base', _type: 'environment', parentId: 'wrk_1', name: 'Base Environment',
        data: { host: 'example.com', __insomnia_vault: vb } },
      { _id: 'env_sub', _type: 'environment', parentId: 'env_base', name: 'Staging',
        data: { __insomnia_vault: vs } },
      { _id: 'env_sub2', _type: 'environment', parentId: 'env_base', name: 'Odd',
        data: { __insomnia_vault: vs2 } },
    ],
  };
  fs.writeFileSync(path.join(out, 'export_v4.json'), JSON.stringify(v4, null, 2) + '\n');

  // NeDB: one JSON document per line; later lines for the same _id replace earlier ones, and
  // {"$$deleted":true} removes a document.
  const stale = await enc({ api_token: 'STALE-VALUE' });
  const gone = await enc({ deleted_secret: 'GONE' });
  const lines = [
    { _id: 'env_base', type: 'Environment', name: 'Base Environment', data: { __insomnia_vault: stale } },
    { _id: 'env_gone', type: 'Environment', name: 'Removed', data: { __insomnia_vault: gone } },
    { _id: 'env_base', type: 'Environment', name: 'Base Environment', data: { host: 'example.com', __insomnia_vault: vb } },
    { _id: 'env_sub', type: 'Environment', name: 'Staging', data: { __insomnia_vault: vs } },
    { _id: 'env_sub2', type: 'Environment', name: 'Odd', data: { __insomnia_vault: vs2 } },
    { $$deleted: true, _id: 'env_gone' },
  ];
  fs.writeFileSync(path.join(out, 'insomnia.Environment.db'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');

  // v5 YAML export (collection). Values are plain scalars in double quotes.
  const y = (obj, ind) => Object.entries(obj).map(([n, v]) => `${ind}${JSON.stringify(n)}: ${JSON.stringify(v)}`).join('\n');
  const yaml = [
    'type: collection.insomnia.rest/5.0',
    'name: Demo',
    'meta:',
    '  id: wrk_1',
    'collection: []',
    'environments:',
    '  name: Base Environment',
    '  meta:',
    '    id: env_base',
    '  data:',
    '    host: example.com',
    '    __insomnia_vault:',
    y(vb, '      '),
    '  subEnvironments:',
    '    - name: Staging',
    '      meta:',
    '        id: env_sub',
    '      data:',
    '        __insomnia_vault:',
    y(vs, '          '),
    '    - name: Odd',
    '      data:',
    '        __insomnia_vault:',
    y(vs2, '          '),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(out, 'export_v5.yaml'), yaml);

  fs.writeFileSync(path.join(out, 'key.txt'), k.text + '\n');
  fs.writeFileSync(path.join(out, 'wrong_key.txt'), other.text + '\n');
  fs.writeFileSync(path.join(out, 'expected.json'),
    JSON.stringify({ valid: { ...base, ...sub }, invalid_names: ['bad name'], conflicts: ['sub_secret'] }, null, 2) + '\n');
})();
