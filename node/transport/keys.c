#include "node/transport/transport.h"
