/* Moved to tests/lib/cmocka_all.h; this forward keeps branches written
 * before the move building. Include the new path. */
#include "tests/lib/cmocka_all.h"
