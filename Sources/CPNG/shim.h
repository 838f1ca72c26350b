// libpng 1.6 (Debian libpng-dev); Graft uses the simplified API (png_image_*).
#include <png.h>
