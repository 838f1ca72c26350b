// zlib (Debian zlib1g-dev): gzip-compressed dataset files such as Fashion-MNIST's IDX files.
// Named CGraftZlib, not CZlib: ZIPFoundation ships a module of that name.
#include <zlib.h>
