"""Serengeti: kernels for long-convolution and state-space language models.

    import serengeti
    y = serengeti.fftconv(u, k, D)          # u (B, H, L), k (H, Lk), D (H,)
    z = serengeti.short_conv(x, w, b, "silu")  # x (B, C, L), w (C, K <= 128)

See README.md for the math, the backends and the benchmarks.
"""
from serengeti import reference
from serengeti._runtime import (available_backends, backend_status, get_num_threads, set_num_threads,
                                use_backend)
from serengeti.generation import filter_logits, generate
from serengeti.models.checkpoint import CheckpointError, load_model
from serengeti.ops import (fft_filter, fft_size, fftconv, gated_conv_recurrence, gated_conv_step,
                           modal_kernel, modal_scan, modal_state, s4d_discretize, s4d_kernel, s4d_state,
                           shift_ssm_kernel, short_conv, short_conv_step)
from serengeti.tokenizers import load_tokenizer

__version__ = "0.1.0"

__all__ = [
    "fftconv", "fft_filter", "fft_size", "short_conv", "short_conv_step",
    "modal_kernel", "modal_state", "modal_scan", "gated_conv_step", "gated_conv_recurrence",
    "s4d_kernel", "s4d_state", "s4d_discretize", "shift_ssm_kernel", "load_model", "CheckpointError",
    "generate", "filter_logits", "load_tokenizer",
    "available_backends", "backend_status", "use_backend", "set_num_threads", "get_num_threads",
    "reference",
]
