/*
 * vaultplug/vaultplug.h - umbrella header of libvaultplug.
 */
#ifndef VAULTPLUG_VAULTPLUG_H
#define VAULTPLUG_VAULTPLUG_H

#include "vaultplug/common.h"
#include "vaultplug/error.h"
#include "vaultplug/context.h"
#include "vaultplug/fetch.h"
#include "vaultplug/list.h"
#include "vaultplug/template.h"
#include "vaultplug/vault.h"
#include "vaultplug/credstore.h"
#include "vaultplug/resolve.h"
#include "vaultplug/login.h"
#include "vaultplug/cachefile.h"

#endif /* VAULTPLUG_VAULTPLUG_H */
