#include "config.h"
#include "proxy.h"
int winsvc_main(int c, char **v) { return 2; }
