// Debian installs cblas.h in the multiarch include folder, which the compiler searches.
#include <cblas.h>
