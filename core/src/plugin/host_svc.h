/*
 * host_svc - the ABI 1.1 host services (provider.h documents every contract): string builder,
 * percent-decoding, URL parsing, query lookup, time parsing (host_svc.c) and the loopback
 * redirect listener (host_loopback.c).
 */
#ifndef VP_HOST_SVC_H
#define VP_HOST_SVC_H

#include "vaultplug/provider.h"

vp_sb *vp__sb_new(size_t max_len, uint32_t flags);
int vp__sb_append(vp_sb *sb, const void *data, size_t n);
int vp__sb_append_str(vp_sb *sb, const char *s);
int vp__sb_printf(vp_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vp__sb_append_enc(vp_sb *sb, const char *s, size_t n, uint32_t flags);
int vp__sb_append_param(vp_sb *sb, const char *key, const char *value);
const char *vp__sb_data(const vp_sb *sb, size_t *len);
int vp__sb_status(const vp_sb *sb);
void vp__sb_reset(vp_sb *sb);
void vp__sb_free(vp_sb *sb);

int vp__url_decode(const char *s, size_t n, uint32_t flags, char **out, size_t *out_len);
int vp__url_parse(vp_call *call, const char *url, uint32_t flags, vp_url **out);
const char *vp__url_get(const vp_url *u, vp_url_part part);
int vp__url_port(const vp_url *u);
void vp__url_free(vp_url *u);
int vp__url_query_get(const char *q, size_t qlen, const char *key, char **value, size_t *value_len);

int vp__time_parse(const char *s, size_t n, uint32_t formats, int64_t *unix_ms);
uint32_t vp__http_retry_after_ms(vp_call *call, const char *value);

int vp__loopback_listen(vp_call *call, const char *path, vp_loopback **out, uint16_t *port);
int vp__loopback_wait(vp_loopback *l, vp_call *call, const char *state, char **query,
                      size_t *query_len);
void vp__loopback_close(vp_loopback *l);

#endif
