/* otarun's entry point: everything runs inside the host's one protected call (src/host.c). */
#include "host.h"

int main(int argc, char **argv)
{
	return host_main(argc, argv);
}
