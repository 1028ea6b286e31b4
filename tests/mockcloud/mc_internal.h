/*
 * mc_internal - shared between the files of the mockcloud library.
 */
#ifndef VP_MC_INTERNAL_H
#define VP_MC_INTERNAL_H

#include <stddef.h>

#include "mockcloud.h"

/* Generate a test CA and a server certificate (127.0.0.1, localhost) signed by it; PEM strings
 * malloc'd into *ca, *key, *cert. 0 or -1. */
int mc__tls_make(char **ca, char **key, char **cert);
/* Write pem to <new temp dir>/ca.pem, path into path. 0 or -1. */
int mc__write_temp_pem(const char *pem, char *path, size_t cap);
int mc__write_file(const char *path, const char *text);

#endif
