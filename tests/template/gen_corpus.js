#!/usr/bin/env node
/*
 * gen_corpus.js - generate the golden template corpus with real Nunjucks.
 *
 *   cd tests/template && npm ci && node gen_corpus.js
 *
 * Writes corpus/<group>.json: an array of cases
 *   { name, template, envs: [layer, ...], vault: {name: value}, undefined_empty: bool,
 *     expected: "<output>" }  or  { ..., error: true }
 * Nunjucks is configured as Insomnia configures it (autoescape off; throwOnUndefined on, unless
 * the case renders undefined as empty). Insomnia's `_` root alias and the local vault are
 * emulated as plain context values: the C test feeds the same vault values through the
 * vp_vault_source interface. The C comparison (test_template_corpus.c) needs only the JSON.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const nunjucks = require('nunjucks');

function mkenv(undefinedEmpty) {
  const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: !undefinedEmpty });
  env.addFilter('json', (v, indent) => JSON.stringify(v, null, indent));
  const str = (v) => (v === undefined || v === null ? '' : String(v));
  env.addFilter('base64', (v) => Buffer.from(str(v), 'utf8').toString('base64'));
  env.addFilter('b64decode', (v) => Buffer.from(str(v), 'base64').toString('utf8'));
  return env;
}

function isObj(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
function merge(dst, src) {
  for (const k of Object.keys(src)) {
    if (isObj(src[k]) && isObj(dst[k])) merge(dst[k], src[k]);
    else dst[k] = src[k];
  }
  return dst;
}

const E = {
  name: 'Ada', n: 3, f: 1.5, zero: 0, neg: -2, t: true, fa: false, nul: null, empty: '',
  s: '  padded  ', uni: 'héllo wörld ✓ 日本', emoji: 'a😀b',
  arr: [1, 2, 3], words: ['alpha', 'beta', 'gamma'], none: [],
  obj: { b: 1, a: 2, '10': 'ten', '2': 'two' }, nested: { a: { b: { c: 'deep' } }, list: [{ x: 1 }, { x: 2 }] },
  pairs: [['k1', 'v1'], ['k2', 'v 2']], q: 'a b&c=d/é?', json: '{"a":1}', big: 1e21, small: 1e-7,
  third: 0.1, sp: 'x y', 'with-dash': 'dash', html: '<b>&"\'</b>', num_str: '42', b64: 'aGVsbG8gd29ybGQ=',
};

const groups = {};
function add(group, name, template, opts = {}) {
  (groups[group] = groups[group] || []).push({ name, template, opts });
}

// --- output and literals
const G1 = 'output';
[
  ['text', 'plain text only'], ['empty', ''], ['var', 'Hello {{ name }}!'], ['nospace', '{{name}}'],
  ['num_int', '{{ n }}'], ['num_float', '{{ f }}'], ['num_neg', '{{ neg }}'], ['num_zero', '{{ zero }}'],
  ['bool_t', '{{ t }}'], ['bool_f', '{{ fa }}'], ['empty_str', '[{{ empty }}]'], ['array_out', '{{ arr }}'],
  ['array_words', '{{ words }}'], ['array_empty', '[{{ none }}]'], ['object_out', '{{ obj }}'],
  ['nested_arr_out', '{{ nested.list }}'], ['big', '{{ big }}'], ['small', '{{ small }}'],
  ['lit_str_sq', "{{ 'single' }}"], ['lit_str_dq', '{{ "double" }}'], ['lit_int', '{{ 42 }}'],
  ['lit_float', '{{ 3.25 }}'], ['lit_float_trailing0', '{{ 1.50 }}'], ['lit_float_int', '{{ 2.0 }}'],
  ['lit_leading0', '{{ 007 }}'], ['lit_true', '{{ true }}'], ['lit_false', '{{ false }}'],
  ['lit_esc_quote', "{{ 'it\\'s' }}"], ['lit_esc_dq', '{{ "say \\"hi\\"" }}'], ['lit_esc_n', '{{ "a\\nb" }}'],
  ['lit_esc_t', '{{ "a\\tb" }}'], ['lit_esc_r', '{{ "a\\rb" }}'], ['lit_esc_backslash', '{{ "a\\\\b" }}'],
  ['lit_esc_other', '{{ "\\q\\u0041" }}'], ['lit_braces', "{{ '}}' }}"], ['lit_pct', "{{ '%}' }}"],
  ['unicode_text', 'naïve café ✓ 日本語 😀'], ['unicode_var', '{{ uni }}'], ['emoji_var', '{{ emoji }}'],
  ['html_noescape', '{{ html }}'], ['multi', '{{ name }} has {{ n }} items and {{ f }}'],
  ['lone_brace', 'a { b } c {x'], ['lone_hash', 'a # b'], ['pct', '100% sure'], ['newlines', 'a\n{{ name }}\n\nb\r\nc'],
  ['tabs', '\t{{ name }}\t'], ['dash_key', "{{ _['with-dash'] }}"], ['str_num', '{{ num_str }}'],
  ['none_lit_lenient', '[{{ none_missing }}]', { undefined_empty: true }], ['null_lit_lenient', '[{{ null }}]', { undefined_empty: true }],
  ['nul_lenient', '[{{ nul }}]', { undefined_empty: true }],
  ['third_sum', '{{ third + 0.2 }}'], ['div', '{{ 1 / 3 }}'], ['div_zero', '{{ 1 / 0 }}'], ['neg_div_zero', '{{ -1 / 0 }}'],
  ['nan', '{{ 0 / 0 }}'], ['mul', '{{ n * 4 }}'], ['sub', '{{ n - 10 }}'], ['add_num', '{{ n + f }}'],
  ['add_str', "{{ name + '!' }}"], ['add_num_str', "{{ n + '1' }}"], ['mod', '{{ 7 % 3 }}'], ['floordiv', '{{ 7 // 2 }}'],
  ['pow', '{{ 2 ** 10 }}'], ['precedence', '{{ 1 + 2 * 3 }}'], ['parens', '{{ (1 + 2) * 3 }}'],
  ['unary_neg', '{{ -n }}'], ['unary_plus', '{{ +num_str }}'], ['concat', "{{ name ~ '-' ~ n }}"],
  ['concat_undef', "{{ name ~ missing ~ '!' }}", { undefined_empty: true }], ['big_int', '{{ 12345678901234567890 }}'],
  ['pow_large', '{{ 10 ** 21 }}'], ['pow_20', '{{ 10 ** 20 }}'], ['tiny', '{{ 0.000001 }}'], ['tiny2', '{{ 0.0000001 * 3 }}'],
  ['float_prec', '{{ 1.1 * 3 }}'], ['neg_zero', '{{ -0 }}'], ['large_float', '{{ 123456.789e0 }}', { undefined_empty: true }],
].forEach(([n, t, o]) => add(G1, n, t, o));

// --- paths
const G2 = 'paths';
[
  ['dot', '{{ nested.a.b.c }}'], ['bracket', "{{ nested['a']['b']['c'] }}"], ['mixed', "{{ nested.a['b'].c }}"],
  ['dq_bracket', '{{ nested["a"].b.c }}'], ['index0', '{{ arr[0] }}'], ['index2', '{{ words[2] }}'],
  ['index_obj', '{{ nested.list[1].x }}'], ['index_var', '{{ words[zero] }}'], ['index_expr', '{{ words[n - 2] }}'],
  ['root_alias', '{{ _.name }}'], ['root_nested', '{{ _.nested.a.b.c }}'], ['root_bracket', "{{ _['name'] }}"],
  ['numkey', "{{ obj['10'] }}"], ['numkey_int', '{{ obj[2] }}'], ['len_arr', '{{ arr.length }}'], ['len_str', '{{ name.length }}'],
  ['len_uni', '{{ uni.length }}'], ['str_index', '{{ name[0] }}'],
  ['missing_deep_lenient', '[{{ nope.a.b }}]', { undefined_empty: true }], ['missing_idx_lenient', '[{{ arr[10] }}]', { undefined_empty: true }],
  ['missing_strict', '{{ nope }}'], ['missing_deep_strict', '{{ nested.a.zz }}'], ['missing_root_strict', '{{ _.nope }}'],
  ['null_strict', '{{ nul }}'], ['obj_member_of_str_lenient', '[{{ name.foo }}]', { undefined_empty: true }],
  ['keyword_attr', '{{ nested.a.b.c }}{{ _.t }}'],
].forEach(([n, t, o]) => add(G2, n, t, o));

// --- filters
const G3 = 'filters';
[
  ['upper', '{{ name | upper }}'], ['lower', '{{ name | lower }}'], ['upper_uni', '{{ uni | upper }}'],
  ['lower_uni', "{{ 'ÀÉÎ ÕÜ ΑΒΓ АБВ' | lower }}"], ['upper_sz', "{{ 'straße' | upper }}"], ['upper_undef', '[{{ missing | upper }}]'],
  ['trim', '[{{ s | trim }}]'], ['trim_nl', "[{{ '\\n\\t x y \\n' | trim }}]"], ['trim_nbsp', '[{{ " \u00a0x\u00a0 " | trim }}]'],
  ['default_missing', "{{ missing | default('dflt') }}"], ['default_present', "{{ name | default('dflt') }}"],
  ['default_null', "[{{ nul | default('dflt') }}]", { undefined_empty: true }], ['default_empty_bool', "{{ empty | default('dflt', true) }}"],
  ['default_zero_bool', "{{ zero | default('dflt', true) }}"], ['default_zero', '{{ zero | default(5) }}'],
  ['default_d', "{{ missing | d('x') }}"], ['default_var', '{{ missing | default(name) }}'],
  ['default_chain', "{{ missing | default(nope) | default('last') }}"],
  ['urlencode', '{{ q | urlencode }}'], ['urlencode_safe', "{{ \"-_.!~*'()\" | urlencode }}"], ['urlencode_uni', '{{ uni | urlencode }}'],
  ['urlencode_obj', '{{ obj | urlencode }}'], ['urlencode_pairs', '{{ pairs | urlencode }}'], ['urlencode_nested_obj', '{{ nested.a.b | urlencode }}'],
  ['urlencode_num', '[{{ n | urlencode }}]'],
  ['base64', '{{ name | base64 }}'], ['base64_uni', '{{ uni | base64 }}'], ['base64_empty', '[{{ empty | base64 }}]'],
  ['base64_num', '{{ n | base64 }}'], ['b64decode', '{{ b64 | b64decode }}'], ['b64_roundtrip', '{{ uni | base64 | b64decode }}'],
  ['b64decode_nopad', "{{ 'aGk' | b64decode }}"], ['b64decode_url', "{{ 'w6nDqA' | b64decode }}"],
  ['json_str', '{{ name | json }}'], ['json_obj', '{{ obj | json }}'], ['json_arr', '{{ arr | json }}'], ['json_nested', '{{ nested | json }}'],
  ['json_indent', '{{ nested | json(2) }}'], ['json_indent_tab', "{{ arr | json('\\t') }}"], ['json_indent_str', "{{ obj | json('--') }}"],
  ['json_escape', "{{ 'q\"\\\\\\n\\t\u0001é' | json }}"], ['json_num', '{{ f | json }}'], ['json_bool', '{{ t | json }}'],
  ['json_null', '{{ nul | json }}'], ['json_empty_obj', '{{ nested.list[0] | json }}{{ none | json }}'], ['json_root', '{{ _.nested.a | json }}'],
  ['json_big', '{{ big | json }}'], ['json_indent_big', '{{ obj | json(20) }}'], ['json_undef_strict', '{{ missing | json }}'],
  ['chain', '{{ s | trim | upper | urlencode }}'], ['filter_then_concat', "{{ name | upper ~ '!' }}"], ['filter_on_neg', '{{ -n | json }}'],
  ['filter_in_if', "{% if name | lower == 'ada' %}yes{% endif %}"], ['filter_arg_expr', "{{ missing | default(name ~ '?') }}"],
  ['unknown_filter', '{{ name | nope }}'], ['upper_number', '{{ n | upper }}'], ['trim_undef', '{{ missing | trim }}'],
].forEach(([n, t, o]) => add(G3, n, t, o));

// --- control flow
const G4 = 'control';
[
  ['if_true', '{% if t %}yes{% endif %}'], ['if_false', '{% if fa %}yes{% endif %}.'], ['if_else', '{% if fa %}a{% else %}b{% endif %}'],
  ['elif', '{% if n == 1 %}one{% elif n == 3 %}three{% else %}other{% endif %}'], ['elseif', '{% if fa %}a{% elseif t %}b{% endif %}'],
  ['elif_chain', '{% if n < 1 %}a{% elif n < 2 %}b{% elif n < 4 %}c{% else %}d{% endif %}'],
  ['if_missing', '{% if missing %}a{% else %}b{% endif %}'], ['if_missing_deep', '{% if missing.x.y %}a{% else %}b{% endif %}'],
  ['if_empty_arr', '{% if none %}truthy{% endif %}'], ['if_empty_str', '{% if empty %}a{% else %}b{% endif %}'],
  ['if_zero', '{% if zero %}a{% else %}b{% endif %}'], ['if_obj', '{% if obj %}a{% endif %}'],
  ['and', '{% if t and n %}a{% endif %}'], ['or', '{% if fa or n %}a{% endif %}'], ['not', '{% if not fa %}a{% endif %}'],
  ['not_not', '{% if not not t %}a{% endif %}'], ['and_or_prec', '{% if fa and fa or t %}a{% endif %}'],
  ['or_value', '{{ missing or "fallback" }}'], ['and_value', '{{ t and name }}'], ['not_value', '{{ not name }}'],
  ['parens', '{% if (fa or t) and not fa %}a{% endif %}'],
  ['eq_loose', "{% if n == '3' %}a{% endif %}"], ['eq_strict', "{% if n === '3' %}a{% else %}b{% endif %}"],
  ['ne', '{% if n != 4 %}a{% endif %}'], ['sne', "{% if n !== '3' %}a{% endif %}"], ['lt', '{% if n < 10 %}a{% endif %}'],
  ['gt', '{% if n > 10 %}a{% else %}b{% endif %}'], ['le', '{% if n <= 3 %}a{% endif %}'], ['ge', '{% if n >= 4 %}a{% else %}b{% endif %}'],
  ['str_lt', "{% if 'abc' < 'abd' %}a{% endif %}"], ['str_num_lt', "{% if '10' < '9' %}a{% endif %}"], ['num_str_lt', "{% if 10 < '9' %}a{% else %}b{% endif %}"],
  ['cmp_value', '{{ n > 2 }}'], ['null_eq_undef', '{{ nul == missing }}'], ['null_seq_undef', '{{ nul === missing }}'],
  ['bool_eq_num', '{{ t == 1 }}'], ['empty_eq_zero', '{{ empty == 0 }}'],
  ['in_str', "{% if 'll' in 'hello' %}a{% endif %}"], ['in_arr', '{% if 2 in arr %}a{% endif %}'], ['in_arr_strict', "{% if '2' in arr %}a{% else %}b{% endif %}"],
  ['in_obj', "{% if 'b' in obj %}a{% endif %}"], ['not_in', "{% if 'zz' not in obj %}a{% endif %}"], ['in_value', "{{ 'x' in words }}"],
  ['in_bad', "{% if 'a' in n %}a{% endif %}"],
  ['for', '{% for w in words %}{{ w }},{% endfor %}'], ['for_loop_vars', '{% for w in words %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/{{ loop.revindex }}/{{ loop.revindex0 }};{% endfor %}'],
  ['for_else', '{% for x in none %}x{% else %}empty{% endfor %}'], ['for_else_missing', '{% for x in missing %}x{% else %}none{% endfor %}'],
  ['for_kv', '{% for k, v in obj %}{{ k }}={{ v }};{% endfor %}'], ['for_kv_nested', '{% for k, v in nested.a %}{{ k }}:{{ v | json }}{% endfor %}'],
  ['for_pairs', '{% for k, v in pairs %}{{ k }}={{ v }}&{% endfor %}'], ['for_obj_single', '{% for k in obj %}{{ k }}{% else %}E{% endfor %}'],
  ['for_str', '{% for c in name %}[{{ c }}]{% endfor %}'], ['for_nested', '{% for a in arr %}{% for w in words %}{{ a }}{{ w[0] }} {% endfor %}|{% endfor %}'],
  ['for_nested_loop', '{% for a in arr %}{% for b in arr %}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}'],
  ['for_list_objs', '{% for it in nested.list %}{{ it.x }}{% endfor %}'], ['for_if', '{% for a in arr %}{% if loop.last %}last{% else %}{{ a }},{% endif %}{% endfor %}'],
  ['for_root', "{% for k, v in _ %}{% if k == 'name' %}{{ v }}{% endif %}{% endfor %}"],
  ['for_zero', '{% for x in zero %}x{% else %}z{% endfor %}'],
  ['set', '{% set x = 5 %}{{ x }}'], ['set_expr', "{% set greeting = 'Hi ' ~ name %}{{ greeting }}"], ['set_shadow', '{% set name = "Bob" %}{{ name }}/{{ _.name }}'],
  ['set_in_for_outer', '{% set x = 0 %}{% for a in arr %}{% set x = a %}{% endfor %}{{ x }}'],
  ['set_in_for_local', '{% for a in arr %}{% set y = a %}{% endfor %}[{{ y }}]', { undefined_empty: true }],
  ['set_in_if', '{% if t %}{% set z = 1 %}{% endif %}{{ z }}'], ['set_filter', '{% set u = name | upper %}{{ u }}{{ u }}'],
  ['set_accum', "{% set acc = '' %}{% for w in words %}{% set acc = acc ~ w | upper %}{% endfor %}{{ acc }}"],
  ['loop_outside_lenient', '[{{ loop.index }}]', { undefined_empty: true }],
].forEach(([n, t, o]) => add(G4, n, t, o));

// --- whitespace, comments, raw
const G5 = 'whitespace';
[
  ['comment', 'a{# comment #}b'], ['comment_multiline', 'a{# line1\nline2 #}b'], ['comment_tags', 'a{# {{ x }} {% if %} #}b'],
  ['comment_ws', 'a  {#- c -#}  b'], ['comment_ws_left', 'a  {#- c #}  b'], ['comment_ws_right', 'a  {# c -#}  b'],
  ['var_ws', 'a  {{- name -}}  b'], ['var_ws_left', 'a \n {{- name }} b'], ['var_ws_right', 'a {{ name -}} \n b'],
  ['block_ws', 'x\n  {%- if t -%}\n  yes\n  {%- endif -%}\n  y'], ['block_ws_for', '{% for w in words -%}\n  {{ w }}\n{%- endfor %}'],
  ['block_no_ws', 'x\n  {% if t %}\n  yes\n  {% endif %}\n  y'], ['ws_unicode', 'a\u00a0\u2003{{- name -}}\u3000\ufeffb'],
  ['ws_only_text', '   {{- name -}}   '], ['ws_crlf', 'a\r\n{%- if t -%}\r\nb\r\n{%- endif %}'],
  ['raw', '{% raw %}{{ name }} {% if %}{% endraw %}'], ['raw_nested', '{% raw %}a{% raw %}b{% endraw %}c{% endraw %}d'],
  ['raw_ws_outer', 'a {%- raw %} b {% endraw %} c'], ['raw_ws_open', 'a {% raw -%} b {% endraw %} c'],
  ['verbatim', '{% verbatim %}{{ x }}{% endverbatim %}'], ['raw_spaces', '{%   raw   %}{{x}}{%   endraw   %}'],
  ['set_ws', 'a\n{%- set x = 1 -%}\nb{{ x }}'], ['stray_comment_end', 'a #} b'],
].forEach(([n, t, o]) => add(G5, n, t, o));

// --- local vault (emulated as context values in Nunjucks)
const G6 = 'vault';
const V = { token: 's3cr3t-t0k3n', user: 'admin', 'db.pass': 'p@ss w0rd/é', flag: 'yes', empty_secret: '' };
[
  ['vault_dot', 'Bearer {{ vault.token }}'], ['vault_root', '{{ _.vault.user }}'], ['vault_bracket', "{{ vault['db.pass'] }}"],
  ['vault_filter', '{{ vault.token | upper }}'], ['vault_urlencode', "{{ vault['db.pass'] | urlencode }}"], ['vault_base64', "{{ vault.user ~ ':' ~ vault.token | base64 }}"],
  ['vault_if', "{% if vault.flag == 'yes' %}on{% else %}off{% endif %}"], ['vault_missing_strict', '{{ vault.nope }}'],
  ['vault_missing_default', "{{ vault.nope | default('none') }}"], ['vault_in', "{% if 'token' in vault %}has{% endif %}"],
  ['vault_set', '{% set t = vault.token %}{{ t }}'], ['vault_empty', '[{{ vault.empty_secret }}]'],
  ['vault_len', '{{ vault.token.length }}'],
].forEach(([n, t, o]) => add(G6, n, t, Object.assign({ vault: V }, o || {})));

// --- environment chains
const G7 = 'envchain';
[
  ['override', '{{ name }} {{ n }}', { envs: [{ name: 'base', n: 1 }, { name: 'sub' }] }],
  ['deep_merge', '{{ db.host }}:{{ db.port }}/{{ db.name }}', { envs: [{ db: { host: 'h', port: 5432 } }, { db: { name: 'app', port: 6543 } }] }],
  ['array_replace', '{{ list }}', { envs: [{ list: [1, 2, 3] }, { list: [9] }] }],
  ['obj_replaces_scalar', '{{ a.b }}', { envs: [{ a: 'x' }, { a: { b: 'y' } }] }],
  ['scalar_replaces_obj', '{{ a }}', { envs: [{ a: { b: 1 } }, { a: 'flat' }] }],
  ['three_layers', '{{ x }}{{ y }}{{ z }}', { envs: [{ x: 1, y: 1, z: 1 }, { y: 2, z: 2 }, { z: 3 }] }],
  ['key_order_merge', '{% for k, v in o %}{{ k }}{{ v }}{% endfor %}', { envs: [{ o: { b: 1, a: 1 } }, { o: { c: 2, b: 2 } }] }],
  ['unicode_keys', '{{ _["ключ"] }} {{ _["日本"] }}', { envs: [{ 'ключ': 'значение', '日本': '語' }] }],
].forEach(([n, t, o]) => add(G7, n, t, o));

// --- syntax errors
const G8 = 'errors';
[
  ['unclosed_var', '{{ name'], ['unclosed_var2', '{{ name }'], ['unclosed_block', '{% if t %}a'], ['unclosed_for', '{% for x in arr %}'],
  ['unknown_tag', '{% include "x" %}'], ['unclosed_comment', 'a {# b'], ['bad_expr', '{{ + }}'], ['unclosed_str', "{{ 'abc }}"],
  ['stray_endif', '{% endif %}'], ['missing_in', '{% for x arr %}{% endfor %}'], ['call', '{{ name() }}'], ['empty_var', '{{ }}'],
  ['bad_paren', '{{ (name }}'], ['bad_bracket', '{{ arr[0 }}'], ['else_no_if', '{% else %}'],
].forEach(([n, t, o]) => add(G8, n, t, o));

let total = 0;
for (const [group, cases] of Object.entries(groups)) {
  const out = [];
  for (const c of cases) {
    const o = c.opts || {};
    const envs = o.envs || [E];
    const vault = o.vault || null;
    const undefinedEmpty = !!o.undefined_empty;
    const merged = envs.reduce((acc, l) => merge(acc, JSON.parse(JSON.stringify(l))), {});
    const ctx = Object.assign({}, merged);
    if (vault) ctx.vault = vault;
    ctx._ = Object.assign({}, merged, vault ? { vault } : {});
    const rec = { name: c.name, template: c.template, envs, undefined_empty: undefinedEmpty };
    if (vault) rec.vault = vault;
    try {
      rec.expected = mkenv(undefinedEmpty).renderString(c.template, ctx);
    } catch (e) {
      rec.error = true;
    }
    out.push(rec);
    total++;
  }
  fs.writeFileSync(path.join(__dirname, 'corpus', group + '.json'), JSON.stringify(out, null, 1) + '\n');
}
console.log(`wrote ${total} cases`);
