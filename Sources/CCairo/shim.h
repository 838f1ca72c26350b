// Cairo (Debian libcairo2-dev) for Graft's charts; text in DejaVu Sans (fonts-dejavu-core).
#include <cairo/cairo.h>
