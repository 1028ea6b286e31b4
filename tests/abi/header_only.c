/* provider.h must compile on its own with nothing but the SDK directory on the include path,
 * in pedantic C11 (it is all a third party gets). */
#include <vaultplug/provider.h>

typedef int vp_abi_header_only_compiles; /* a translation unit may not be empty in ISO C */
