/*
 * jsonh - the JSON part of the host table (json-c behind the opaque vp_json), also used by the
 * core itself (#json-key extraction, fuzzing). A vp_json is a struct json_object.
 */
#ifndef VP_JSONH_H
#define VP_JSONH_H

#include <stddef.h>
#include <stdint.h>

#include "vaultplug/provider.h"

#define VP__JSON_MAX_DEPTH 64
#define VP__JSON_MAX_INPUT (64u * 1024 * 1024) /* larger input: VP_ELIMIT */

int vp__json_parse(const char *text, size_t len, vp_json **out);
void vp__json_free(vp_json *root);
vp_json_type vp__json_type(const vp_json *v);
const vp_json *vp__json_get(const vp_json *v, const char *key);
const vp_json *vp__json_path(const vp_json *v, const char *path);
const char *vp__json_string(const vp_json *v, size_t *len);
int vp__json_int(const vp_json *v, int64_t *out);
int vp__json_double(const vp_json *v, double *out);
int vp__json_bool(const vp_json *v, int *out);
size_t vp__json_len(const vp_json *v);
const vp_json *vp__json_at(const vp_json *v, size_t i);
int vp__json_foreach(const vp_json *v, vp_json_foreach_fn fn, void *ud);
vp_json *vp__json_new_object(void);
vp_json *vp__json_new_array(void);
vp_json *vp__json_new_string(const char *s, size_t len);
vp_json *vp__json_new_int(int64_t n);
vp_json *vp__json_new_bool(int b);
vp_json *vp__json_new_double(double d);
int vp__json_set(vp_json *obj, const char *key, vp_json *value);
int vp__json_append(vp_json *arr, vp_json *value);
char *vp__json_dump(const vp_json *v, size_t *len);

#endif
