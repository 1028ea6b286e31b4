/*
 * test_abi_providers_need_1_1 - the four in-tree providers use SDK 1.1 host services, so each
 * must check VP_HAS(vp_host, host, ...) in init and refuse a 1.0 host's shorter table with
 * VP_EABI and a message, instead of calling past its end. Loads the real modules with dlopen
 * and hands init the host table as a 1.0 host would (struct_size 560), then the full table.
 * Usage: test_abi_providers_need_1_1 <provider dir> <name>...
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "secmem.h"
#include "vaultplug/provider.h"

static char last[512];

static void capture(void *ud, int level, const char *source, const char *message)
{
    (void)ud, (void)level, (void)source;
    snprintf(last, sizeof(last), "%s", message);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DIR NAME...\n", argv[0]);
        return 2;
    }
    if (vp__secmem_init() != 0)
        return 2;
    vp__log *log = NULL;
    if (vp__log_new(capture, NULL, VP_LEVEL_TRACE, &log) != 0)
        return 2;
    vp_host_ctx hc;
    memset(&hc, 0, sizeof(hc));
    hc.source = "test";
    hc.log = log;
    const vp_host *full = vp__host_table();
    vp_host old = *full;
    old.hdr.abi_minor = 0;
    old.hdr.struct_size = 560; /* sizeof(vp_host) in ABI 1.0 (tests/abi/test_abi_layout.c) */
    int failures = 0;
    for (int i = 2; i < argc; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.so", argv[1], argv[i]);
        void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        vp_provider_entry_fn entry =
            so ? (vp_provider_entry_fn)dlsym(so, VP_PROVIDER_ENTRY_SYMBOL) : NULL;
        const vp_provider *p = entry ? entry(VP_ABI_MAJOR, 0) : NULL;
        if (p == NULL) {
            fprintf(stderr, "FAIL %s: cannot load (%s)\n", argv[i], dlerror());
            failures++;
            continue;
        }
        void *mod = NULL;
        last[0] = '\0';
        int rc = p->init(&old, &hc, &mod);
        if (rc != VP_EABI || mod != NULL || strstr(last, "plugin ABI 1.1") == NULL) {
            fprintf(stderr, "FAIL %s: init on a 1.0 host returned %d, logged '%s'\n", argv[i], rc,
                    last);
            failures++;
        } else {
            printf("ok   %s refuses a 1.0 host: %s\n", argv[i], last);
        }
        rc = p->init(full, &hc, &mod);
        if (rc != VP_OK) {
            fprintf(stderr, "FAIL %s: init on the 1.1 host returned %d\n", argv[i], rc);
            failures++;
        } else {
            p->teardown(mod);
        }
        dlclose(so);
    }
    vp__log_free(log);
    return failures ? 1 : 0;
}
