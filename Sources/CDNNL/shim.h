// oneDNN 2.6 C API (Debian libdnnl-dev; no pkg-config file) and the OpenMP calls
// that set oneDNN's thread count (Debian builds oneDNN on the OpenMP runtime).
#include <oneapi/dnnl/dnnl.h>

extern void omp_set_num_threads(int);
extern int omp_get_max_threads(void);
