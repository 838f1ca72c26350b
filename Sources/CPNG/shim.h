// libpng 1.6 (Debian libpng-dev), full (progressive-row) API.
//
// libpng reports errors by longjmp to a jmp_buf set with setjmp. Swift cannot call setjmp,
// so every libpng call that can fail runs inside one of these C functions, which sets the
// jump target in its own frame and returns 0 when libpng jumped back (the message is in
// `reader->message`). No Swift frame is ever crossed by the jump.
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    png_structp png;
    png_infop info;
    const unsigned char *data;
    size_t size;
    size_t offset;
    char message[256];
    // The file's header.
    uint32_t width, height;
    int bit_depth, color_type, interlaced;
    // After the transforms: 8-bit samples, `channels` per pixel (grey, grey+alpha, RGB, RGBA).
    int channels;
    int passes;
    size_t row_bytes;
    // A palette whose entries are all grey (R = G = B).
    int grey_palette;
} graft_png_reader;

static void graft_png_on_error(png_structp png, png_const_charp message) {
    graft_png_reader *r = (graft_png_reader *)png_get_error_ptr(png);
    strncpy(r->message, message, sizeof r->message - 1);
    r->message[sizeof r->message - 1] = 0;
    png_longjmp(png, 1);
}

static void graft_png_on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void graft_png_on_read(png_structp png, png_bytep out, png_size_t count) {
    graft_png_reader *r = (graft_png_reader *)png_get_io_ptr(png);
    if (r->size - r->offset < count) png_error(png, "the file ends early (truncated)");
    memcpy(out, r->data + r->offset, count);
    r->offset += count;
}

/// Reads the header of the PNG in `data` and sets up the transforms that give 8-bit grey,
/// grey+alpha, RGB or RGBA samples, as Pillow reads them: palettes expanded to RGB, grey
/// below 8 bits scaled to 8, tRNS turned into an alpha channel, 16-bit samples reduced to
/// their high byte (png_set_strip_16), no gamma correction (gAMA, sRGB, iCCP are ignored).
/// Returns 0 on failure; call graft_png_close in every case.
static int graft_png_open(graft_png_reader *r, const unsigned char *data, size_t size, uint32_t max_width,
                          uint32_t max_height) {
    memset(r, 0, sizeof *r);
    r->data = data;
    r->size = size;
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, graft_png_on_error, graft_png_on_warning);
    if (!r->png) {
        strcpy(r->message, "libpng could not start (out of memory?)");
        return 0;
    }
    r->info = png_create_info_struct(r->png);
    if (!r->info) {
        strcpy(r->message, "libpng could not start (out of memory?)");
        return 0;
    }
    if (setjmp(png_jmpbuf(r->png))) return 0;
    png_set_read_fn(r->png, r, graft_png_on_read);
    png_set_user_limits(r->png, max_width, max_height);
    png_read_info(r->png, r->info);
    r->width = png_get_image_width(r->png, r->info);
    r->height = png_get_image_height(r->png, r->info);
    r->bit_depth = png_get_bit_depth(r->png, r->info);
    r->color_type = png_get_color_type(r->png, r->info);
    r->interlaced = png_get_interlace_type(r->png, r->info) != PNG_INTERLACE_NONE;
    if (r->color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp palette = NULL;
        int entries = 0;
        r->grey_palette = 1;
        if (png_get_PLTE(r->png, r->info, &palette, &entries) & PNG_INFO_PLTE) {
            for (int i = 0; i < entries; i++) {
                if (palette[i].red != palette[i].green || palette[i].red != palette[i].blue) r->grey_palette = 0;
            }
        }
        png_set_palette_to_rgb(r->png);
    }
    if (r->color_type == PNG_COLOR_TYPE_GRAY && r->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
    if (png_get_valid(r->png, r->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(r->png);
    if (r->bit_depth == 16) png_set_strip_16(r->png);
    r->passes = png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    r->channels = png_get_channels(r->png, r->info);
    r->row_bytes = png_get_rowbytes(r->png, r->info);
    return 1;
}

/// Reads the next row (non-interlaced files) into `row` (`row_bytes` bytes).
static int graft_png_read_row(graft_png_reader *r, unsigned char *row) {
    if (setjmp(png_jmpbuf(r->png))) return 0;
    png_read_row(r->png, row, NULL);
    return 1;
}

/// Reads the whole image (any file; needed for interlaced ones): `rows[y]` points at row y.
static int graft_png_read_image(graft_png_reader *r, unsigned char **rows) {
    if (setjmp(png_jmpbuf(r->png))) return 0;
    png_read_image(r->png, rows);
    return 1;
}

static void graft_png_close(graft_png_reader *r) {
    if (r->png) png_destroy_read_struct(&r->png, r->info ? &r->info : NULL, NULL);
    r->png = NULL;
    r->info = NULL;
}
