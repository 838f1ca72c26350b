// zlib (Debian zlib1g-dev): gzip-compressed dataset files such as Fashion-MNIST's IDX files.
#include <zlib.h>
