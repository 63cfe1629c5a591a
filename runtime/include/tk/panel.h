/* tk/panel.h — the CPU weight-panel layout (docs/formats.md §6): where
 * element (k, j) of a rows × cols row-major weight lives once packed into column panels of
 * `width` columns. The one definition that the runtime's packing (tk_model_buffers_create)
 * and the tests use; the compiler's CPU schedule reads the packed buffer through per-tile
 * forms of it, which class `layout` proves equal to this formula (docs/proofs.md).
 *
 * Panel p (columns p*width .. p*width + width - 1, p < cols / width) holds its rows × width
 * block row after row; the last cols mod width columns follow as one narrower panel:
 *
 *   offset(k, j) = (j div width) * rows * width + k * width + j mod width      j < full
 *                = full * rows + k * (cols - full) + (j - full)               otherwise
 *   with full = width * (cols div width).
 *
 * A bijection of [0, rows) × [0, cols) onto [0, rows * cols), so a kernel's read of (k, j)
 * sees the checkpoint's W[k, j]. Requires 0 < width <= cols.
 */
#ifndef TK_PANEL_H
#define TK_PANEL_H

#include <stdbool.h>
#include <stdint.h>

static inline int64_t tk_panel_offset(int64_t rows, int64_t cols, int64_t width, int64_t k,
                                      int64_t j) {
  int64_t full = cols / width * width;
  if (j < full) return j / width * rows * width + k * width + j % width;
  return full * rows + k * (cols - full) + (j - full);
}

/* Where the checkpoint stores element (k, j) of a rows × cols weight: row-major, or, for a
 * weight stored out_in (a Linear weight [out, in]; tkm_buffer_panel_out_in), as its
 * cols × rows transpose. */
static inline int64_t tk_panel_stored_index(int64_t rows, int64_t cols, bool out_in, int64_t k,
                                            int64_t j) {
  return out_in ? j * rows + k : k * cols + j;
}

#endif
