/* mock_azure_state - internal state shared by mock_azure.c (Key Vault, seeding) and
 * mock_azure_entra.c (Entra ID, managed identity). Everything is guarded by mu. */
#ifndef VP_MOCK_AZURE_STATE_H
#define VP_MOCK_AZURE_STATE_H

#include <pthread.h>
#include <stdint.h>

#include "mock_azure.h"

#define MAZ_MAX_COUNTERS 32

typedef struct maz_secret {
    char name[128];
    char version[33];
    char *value;
    int enabled, forbidden;
} maz_secret;

typedef struct maz_app {
    char client_id[80];
    char secret[256];
    char federated[2048];
} maz_app;

typedef struct maz_token {
    char tok[80];
    char aud[160];
    int64_t exp; /* epoch s */
    int invalid;
} maz_token;

typedef struct maz_refresh {
    char tok[80];
    char client_id[80];
    int used, revoked;
} maz_refresh;

typedef struct maz_code {
    char code[80];
    char client_id[80];
    char redirect[256];
    char challenge[64];
    int used;
} maz_code;

typedef struct maz_device {
    char code[80];
    char client_id[80];
    unsigned step;
    int done;
} maz_device;

struct mock_azure {
    mc_server *srv;
    pthread_mutex_t mu;
    char tenant[64];
    char user[128];
    char challenge[512];
    mock_azure_consent consent;
    unsigned throttle_n, throttle_retry_after;
    int list_forbidden; /* GET /secrets answers 403 ForbiddenByRbac */
    char device_script[256];
    int device_interval;
    int token_lifetime;
    int mi_enabled;
    char mi_client_id[80];
    char identity_header[256];

    maz_secret *secrets;
    size_t n_secrets;
    maz_app *apps;
    size_t n_apps;
    maz_token *tokens;
    size_t n_tokens;
    maz_refresh *refresh;
    size_t n_refresh;
    maz_code *codes;
    size_t n_codes;
    maz_device *devices;
    size_t n_devices;
    struct {
        char name[32];
        unsigned n;
    } counters[MAZ_MAX_COUNTERS];
    size_t n_counters;
};

void maz_random_hex(char *out, size_t nbytes);
/* Counter slot (mu held). */
unsigned *maz_counter(mock_azure *m, const char *what);
/* Increment a counter (takes mu). */
void maz_count(mock_azure *m, const char *what);
/* Access token issued by the mock (mu held), or NULL. */
const maz_token *maz_token_find(mock_azure *m, const char *tok);
/* Register the Entra ID and managed identity routes. */
int maz_entra_routes(mock_azure *m);

#endif
