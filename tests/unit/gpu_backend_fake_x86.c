/* tests/unit/gpu_backend_fake_x86.c — a stand-in x86_64 code object for gpu_backend_test:
 * exports only what the CPU launcher reads at create time (docs/abi.md "CPU targets"), so
 * `--device auto` can be shown falling back to cpu without compiling a model. It has no
 * kernels; the test never launches on it. */
const char tk_bundle_target[] = "x86_64";
