// TurboJPEG 2.1 (Debian libturbojpeg0-dev).
#include <turbojpeg.h>
